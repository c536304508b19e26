"""The Slack notifier against the Slack stand-in: what the channel shows, call by call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.notifier import AlertNotice, NotDelivered
from alerts.rules import Rule
from alerts.source import source_key
from alerts.state import AlertKey, AlertState
from alerts.store import StoredAlert
from bot.alerts.notifier import SlackNotifier
from bot.app import build_client
from bot.offline.slackstub import SlackStub
from bot.slack_io import SlackIO
from commands import actions
from tests.bot.harness import TOKEN, buttons, message_text, stand_in

CHANNEL = "C0ALERTS"
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
RULE = Rule(kind="latency_p99", threshold=500, duration=timedelta(minutes=3))
KEY = AlertKey(endpoint="product-recommender", deployment="green", rule="latency_p99")


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    running = stand_in()
    running.add_channel(CHANNEL)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def slack_io(stub: SlackStub) -> SlackIO:
    return SlackIO(client=build_client(token=TOKEN, api_url=stub.api_url))


def firing(**changes: Any) -> StoredAlert:
    state = AlertState(
        key=KEY,
        status="firing",
        since=T0,
        fired_at=T0 + timedelta(minutes=3),
        last_notified_at=T0 + timedelta(minutes=3),
        value=742.0,
        peak=812.0,
    )
    return StoredAlert(state=replace(state, **changes), rule=RULE, traffic_share=10, version=1)


CHART = tuple((T0 + timedelta(minutes=i), 700.0 + i) for i in range(15))


async def test_firing_reminder_resolved(stub: SlackStub) -> None:
    notifier = SlackNotifier(slack=slack_io(stub))
    ts = await notifier.send(
        AlertNotice(notice="firing", alert=firing(), channel=CHANNEL, chart=CHART)
    )
    assert ts is not None
    (message,) = stub.channel_messages(CHANNEL)
    text = message_text(message)
    assert "P99 latency alert on product-recommender" in text
    assert "deployment *green* (10% of traffic)" in text
    assert "P99 latency *742 ms*, above the 500 ms threshold since" in text
    assert "Rule: P99 latency > 500 ms for 3m · peak 812 ms" in text
    assert buttons(message) == [
        actions.ALERT_ACK,
        *actions.ALERT_SILENCE,
        actions.ALERT_SHIFT_AWAY,
    ]
    assert message.text.startswith("P99 latency alert firing on product-recommender/green")
    # The chart: a PNG in the message's thread, through files_upload_v2's three calls.
    (complete,) = stub.calls_to("files.completeUploadExternal")
    assert (complete.body["channel_id"], complete.body["thread_ts"]) == (CHANNEL, ts)
    (chart,) = stub.files.values()
    assert chart.content.startswith(b"\x89PNG") and chart.filename.endswith(".png")

    threaded = firing(message_ts=ts, channel=CHANNEL, last_notified_at=T0 + timedelta(hours=4))
    assert (
        await notifier.send(AlertNotice(notice="reminder", alert=threaded, channel=CHANNEL)) is None
    )
    reminder = stub.calls_to("chat.postMessage")[-1].body
    assert reminder["thread_ts"] == ts
    assert "Still firing after 3h 57m: P99 latency *742 ms* (threshold 500 ms)" in reminder["text"]

    resolved = firing(
        status="resolved",
        message_ts=ts,
        channel=CHANNEL,
        value=120.0,
        resolved_at=T0 + timedelta(minutes=17),
    )
    assert (
        await notifier.send(AlertNotice(notice="resolved", alert=resolved, channel=CHANNEL)) is None
    )
    updated = stub.messages[(CHANNEL, ts)]
    assert updated.version == 1 and buttons(updated) == []
    assert "*Resolved* · deployment *green*" in message_text(updated)
    assert "P99 latency back to *120 ms* (threshold 500 ms)" in message_text(updated)
    assert "after firing for 14m" in message_text(updated)
    reply = stub.calls_to("chat.postMessage")[-1].body
    assert reply["thread_ts"] == ts
    assert (
        "Resolved at" in reply["text"] and "P99 latency 120 ms (threshold 500 ms)" in reply["text"]
    )
    assert len(stub.calls_to("chat.postMessage")) == 3


async def test_acknowledged_and_silenced_messages(stub: SlackStub) -> None:
    notifier = SlackNotifier(
        slack=SlackIO(client=build_client(token=TOKEN, api_url=stub.api_url)), charts=False
    )
    ts = await notifier.send(AlertNotice(notice="firing", alert=firing(), channel=CHANNEL))
    alert = firing(
        message_ts=ts,
        channel=CHANNEL,
        acknowledged_by="U0BOB",
        acknowledged_at=T0 + timedelta(minutes=5),
        silenced_by="U0ALICE",
        silenced_until=T0 + timedelta(hours=4),
    )
    await notifier.refresh(alert, now=T0 + timedelta(minutes=6))
    shown = stub.messages[(CHANNEL, str(ts))]
    assert "Acknowledged by <@U0BOB>" in message_text(shown)
    assert "Silenced by <@U0ALICE> until" in message_text(shown)
    assert buttons(shown) == [*actions.ALERT_SILENCE, actions.ALERT_SHIFT_AWAY]
    assert stub.calls_to("files.completeUploadExternal") == []


async def test_a_refused_post_is_not_delivered(stub: SlackStub) -> None:
    notifier = SlackNotifier(
        slack=SlackIO(client=build_client(token=TOKEN, api_url=stub.api_url)), charts=False
    )
    stub.fail("chat.postMessage", "channel_not_found")
    with pytest.raises(NotDelivered, match="channel_not_found"):
        await notifier.send(AlertNotice(notice="firing", alert=firing(), channel=CHANNEL))
    assert stub.channel_messages(CHANNEL) == []


async def test_a_failing_source_and_its_recovery(stub: SlackStub) -> None:
    notifier = SlackNotifier(slack=slack_io(stub))
    state = AlertState(
        key=source_key("product-recommender"),
        status="firing",
        since=T0,
        fired_at=T0,
        last_notified_at=T0,
        detail="The local platform is not running: start it.",
    )
    failing = StoredAlert(state=state, version=1)
    ts = await notifier.send(AlertNotice(notice="firing", alert=failing, channel=CHANNEL))
    shown = message_text(stub.channel_messages(CHANNEL)[0])
    assert "Metrics of product-recommender cannot be read" in shown
    assert "The local platform is not running: start it." in shown
    back = replace(
        state,
        status="resolved",
        resolved_at=T0 + timedelta(minutes=6),
        message_ts=ts,
        channel=CHANNEL,
    )
    await notifier.send(
        AlertNotice(notice="resolved", alert=StoredAlert(state=back), channel=CHANNEL)
    )
    assert "answer again" in message_text(stub.messages[(CHANNEL, str(ts))])
    assert "after failing for 6m" in stub.calls_to("chat.postMessage")[-1].body["text"]
    assert stub.calls_to("files.completeUploadExternal") == []
