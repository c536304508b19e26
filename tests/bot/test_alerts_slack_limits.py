"""Alerts as Slack really behaves, through the real Bolt app and the strict stand-in: a burst
paced and grouped with nothing lost or reordered, /alerts with 200 endpoints, and alerts
channels Slack refuses shown as a banner with what to do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.rules import Rule
from alerts.state import AlertKey, AlertState
from alerts.store import StoredAlert
from bot.alerts.watch import build_watcher
from bot.config import Settings
from bot.offline.slackstub import RateLimits, SlackStub
from bot.offline.slackstub.scopes import MANIFEST_SCOPES
from bot.pacing import ChannelPacer
from deploy.types import DeploymentSpec, EndpointSpec
from tests.alerts.kit import Clock, ScriptedBackend, scripted_backend
from tests.bot.harness import (
    CAROL,
    CHANNEL,
    NAMES,
    POLICY,
    TOKEN,
    message_text,
    running_bot,
)

ALERTS = "C0ALERTS"
P99_ONLY = [{"kind": "latency_p99", "threshold": 500, "duration": "2m"}]


def alert_settings(home: Path, **alerts: Any) -> Settings:
    return Settings.model_validate(
        {
            "access": POLICY,
            "alerts": {"channel": ALERTS, "rules": P99_ONLY, **alerts},
            "home": home,
            "database_url": f"sqlite:///{home / 'bot.db'}",
        }
    )


def make_stub(**options: Any) -> SlackStub:
    from bot.offline.slackstub import Directory

    directory = Directory(users=NAMES, channels={CHANNEL: list(NAMES)})
    stub = SlackStub(token=TOKEN, directory=directory, **options)
    stub.add_channel(ALERTS, members=list(NAMES))
    return stub


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def backend(clock: Clock) -> ScriptedBackend:
    return await scripted_backend(clock)


async def started(stub: SlackStub) -> AsyncIterator[SlackStub]:
    await stub.start()
    try:
        yield stub
    finally:
        await stub.stop()


async def fire(watcher: Any, backend: ScriptedBackend, clock: Clock, endpoints: list[str]) -> None:
    """Polls a minute apart with every deployment slow, until the alerts fire."""
    for _ in range(4):
        for name in endpoints:
            deployments = (await backend.get_endpoint(name)).traffic
            for deployment in deployments:
                backend.answer(name, deployment, count=100, p99_ms=900)
        await watcher.poll_once()
        clock.advance(minutes=1)


# ---------------------------------------------------------------- a burst of 60


@pytest.mark.slow(budget=60)
async def test_a_burst_of_60_alerts_reaches_one_channel_whole_in_order_within_the_rate(
    clock: Clock, tmp_path: Path
) -> None:
    backend = ScriptedBackend(clock)
    names = [f"ep-{i:02d}" for i in range(60)]
    for name in names:
        await backend.create_or_update_endpoint(EndpointSpec(name=name))
        await backend.create_or_update_deployment(DeploymentSpec(name="blue", endpoint_name=name))
        await backend.set_traffic(name, {"blue": 100})
    # Slack's per-channel rule (a message a second, bursts of 3) sped up 20 times for the test;
    # the bot's pacer keeps a little under it.
    limits = RateLimits(
        post_per_second=20.0, post_burst=3, tiers={1: 60, 2: 1200, 3: 3000, 4: 6000}
    )
    stub = make_stub(limits=limits)
    async for running in started(stub):
        settings = alert_settings(tmp_path)
        async with running_bot(
            backend=backend, settings=settings, clock=clock, stub=running
        ) as bot:
            bot.services.slack.pacer = ChannelPacer(rate=16.0, burst=3)
            watcher = build_watcher(bot.services)
            assert watcher is not None
            await fire(watcher, backend, clock, names)
            posted = stub.channel_messages(ALERTS)
            titles = [message_text(m).splitlines()[0] for m in posted]
            order = [e.name for e in await backend.list_endpoints()]
            assert titles == [f"P99 latency alert on {name}" for name in order]
            assert stub.throttled == []  # never over the stand-in's limit
            assert len(stub.files) == 60  # each chart, in its message's thread
            # Posted once: another poll posts nothing new.
            before = len(stub.calls_to("chat.postMessage"))
            await fire(watcher, backend, clock, names)
            assert len(stub.calls_to("chat.postMessage")) == before


async def test_a_burst_on_one_endpoint_is_one_message_with_buttons_per_alert(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    async for stub in started(make_stub()):
        settings = alert_settings(tmp_path)
        async with running_bot(backend=backend, settings=settings, clock=clock, stub=stub) as bot:
            watcher = build_watcher(bot.services)
            assert watcher is not None
            await fire(watcher, backend, clock, ["product-recommender"])
            (message,) = stub.channel_messages(ALERTS)
            shown = message_text(message)
            assert "2 alerts on product-recommender" in shown
            assert "deployment *blue*" in shown and "deployment *green*" in shown
            rows = [b for b in message.blocks if b["type"] == "actions"]
            values = {e["value"] for b in rows for e in b["elements"]}
            assert values == {
                "product-recommender/blue/latency_p99",
                "product-recommender/green/latency_p99",
            }
            # A click acts on its alert alone (the first row: blue); the message shows both.
            ack = rows[0]["elements"][0]
            assert ack["value"] == "product-recommender/blue/latency_p99"
            assert (await bot.click(message, ack["action_id"], user="U0BOB")).status == 200
            await bot.settle()
            blue = await bot.services.alert_store.get(
                AlertKey(endpoint="product-recommender", deployment="blue", rule="latency_p99")
            )
            assert blue is not None and blue.state.acknowledged_by == "U0BOB"
            green = await bot.services.alert_store.get(
                AlertKey(endpoint="product-recommender", deployment="green", rule="latency_p99")
            )
            assert green is not None and green.state.acknowledged_by is None
            (message,) = stub.channel_messages(ALERTS)
            assert "2 alerts on product-recommender" in message_text(message)
            assert "Acknowledged by <@U0BOB>" in message_text(message)
            (blue_row, green_row) = [b for b in message.blocks if b["type"] == "actions"]
            assert "flightdeck_alert_ack" not in str(blue_row)
            assert "flightdeck_alert_ack" in str(green_row)


# ---------------------------------------------------------------- /alerts with 200 endpoints


async def test_alerts_with_200_endpoints_is_a_summary_and_the_full_list_as_a_file(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    async for stub in started(make_stub()):
        settings = alert_settings(tmp_path)
        async with running_bot(backend=backend, settings=settings, clock=clock, stub=stub) as bot:
            rule = Rule(kind="latency_p99", threshold=500, duration=timedelta(minutes=2))
            for i in range(200):
                key = AlertKey(endpoint=f"endpoint-{i:03d}", deployment="blue", rule=rule.kind)
                state = AlertState(
                    key=key, status="firing", since=clock(), fired_at=clock(), value=900.0
                )
                saved = await bot.services.alert_store.save(
                    StoredAlert(state=state, rule=rule, traffic_share=100)
                )
                assert saved is not None
            await bot.slash("/alerts", "", user=CAROL)
            await bot.settle()
            shown = bot.last_ephemeral(CAROL)
            assert "200 firing" in shown and "on 200 endpoint(s)" in shown
            assert all(f"*endpoint-{i:03d}* · :red_circle: 1 firing" in shown for i in range(200))
            assert "file `alerts.txt`" in shown
            (shared,) = stub.files.values()
            assert shared.channel == CHANNEL
            listing = shared.content.decode()
            assert all(f"endpoint-{i:03d}\n  blue · P99 latency" in listing for i in range(200))


# ---------------------------------------------------------------- undeliverable channels


@pytest.mark.parametrize(
    ("break_it", "advice"),
    [
        ("not_in_channel", "run `/invite @Flightdeck` in <#C0ALERTS>"),
        ("is_archived", "<#C0ALERTS> is archived"),
        ("channel_not_found", "check `alerts.channel`"),
        ("missing_scope", "the app lacks the `chat:write` scope"),
    ],
)
@pytest.mark.slow(budget=30)  # posts paced on the real clock once the bot is invited
async def test_an_alerts_channel_slack_refuses_is_a_banner_in_alerts(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path, break_it: str, advice: str
) -> None:
    scopes = MANIFEST_SCOPES - {"chat:write"} if break_it == "missing_scope" else MANIFEST_SCOPES
    stub = make_stub(scopes=scopes)
    if break_it == "not_in_channel":
        stub.remove_bot(ALERTS)
    elif break_it == "is_archived":
        stub.archive(ALERTS)
    elif break_it == "channel_not_found":
        del stub.channels[ALERTS]
    async for running in started(stub):
        settings = alert_settings(tmp_path)
        async with running_bot(
            backend=backend, settings=settings, clock=clock, stub=running
        ) as bot:
            watcher = build_watcher(bot.services)
            assert watcher is not None
            await fire(watcher, backend, clock, ["product-recommender"])
            assert running.channel_messages(ALERTS) == []
            await bot.slash("/alerts", "", user=CAROL)
            await bot.settle()
            shown = bot.last_ephemeral(CAROL)
            assert advice in shown
            assert "*product-recommender*" in shown  # the listing is still there
            if break_it == "not_in_channel":
                running.invite_bot(ALERTS)
                clock.advance(minutes=1)
                await fire(watcher, backend, clock, ["product-recommender"])
                assert running.channel_messages(ALERTS)  # delivered at a later poll
                await bot.slash("/alerts", "", user=CAROL)
                await bot.settle()
                assert advice not in bot.last_ephemeral(CAROL)
