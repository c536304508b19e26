"""Alerts through the bot over HTTP: the watcher posts, people click the buttons (signed
``block_actions``), ``/alerts`` lists, and a restarted bot posts nothing twice."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.state import AlertKey
from alerts.watcher import AlertWatcher
from bot.alerts.watch import build_watcher
from bot.config import Settings
from bot.offline.slackstub import SlackStub, StubMessage
from commands import actions
from tests.alerts.kit import Clock, ScriptedBackend, scripted_backend
from tests.bot.harness import (
    ALICE,
    BOB,
    CAROL,
    CHANNEL,
    POLICY,
    RunningBot,
    buttons,
    message_text,
    running_bot,
    stand_in,
)

EP = "product-recommender"
KEY = AlertKey(endpoint=EP, deployment="green", rule="latency_p99")
SILENCE_1H = next(a for a, h in actions.ALERT_SILENCE.items() if h == 1)
SILENCE_4H = next(a for a, h in actions.ALERT_SILENCE.items() if h == 4)


def alert_settings(home: Path, **alerts: Any) -> Settings:
    return Settings.model_validate(
        {
            "access": POLICY,
            "alerts": {"channel": CHANNEL, "repeat_interval": "1h", **alerts},
            "home": home,
            "database_url": f"sqlite:///{home / 'bot.db'}",
        }
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def backend(clock: Clock) -> ScriptedBackend:
    return await scripted_backend(clock)


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    running = stand_in()
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def polls(
    watcher: AlertWatcher, backend: ScriptedBackend, clock: Clock, n: int, *, slow: bool
) -> None:
    """``n`` polls a minute apart, with a minute of traffic before each."""
    for _ in range(n):
        backend.answer(EP, "blue", count=900, p99_ms=40)
        backend.answer(EP, "green", count=100, p99_ms=900 if slow else 60)
        await watcher.poll_once()
        clock.advance(minutes=1)


def alert_message(bot: RunningBot) -> StubMessage:
    found = [m for m in bot.channel() if "P99 latency alert on" in message_text(m)]
    assert len(found) == 1, [message_text(m) for m in bot.channel()]
    return copy.deepcopy(found[0])


async def click(bot: RunningBot, message: StubMessage, action_id: str, *, user: str) -> None:
    assert (await bot.click(message, action_id, user=user)).status == 200
    await bot.settle()


async def test_buttons_and_listing(
    backend: ScriptedBackend, clock: Clock, stub: SlackStub, tmp_path: Path
) -> None:
    settings = alert_settings(tmp_path)
    async with running_bot(backend=backend, settings=settings, clock=clock, stub=stub) as bot:
        watcher = build_watcher(bot.services)
        assert watcher is not None
        await polls(watcher, backend, clock, 4, slow=True)
        firing = alert_message(bot)
        assert buttons(firing)[0] == actions.ALERT_ACK
        assert len(stub.files) == 1  # the chart, in the thread

        # Everyone may look.
        await bot.slash("/alerts", "", user=CAROL)
        await bot.settle()
        listing = bot.last_ephemeral(CAROL)
        assert "*product-recommender*" in listing
        assert "*green* · P99 latency 900 ms (threshold 500 ms) · firing since" in listing

        # Acknowledging: deployers and approvers only; who is recorded and shown.
        await click(bot, firing, actions.ALERT_ACK, user=CAROL)
        assert "may not acknowledge or silence alerts" in bot.last_ephemeral(CAROL)
        await click(bot, firing, actions.ALERT_ACK, user=BOB)
        shown = alert_message(bot)
        assert "Acknowledged by <@U0BOB>" in message_text(shown)
        assert actions.ALERT_ACK not in buttons(shown)
        stored = await bot.services.alert_store.get(KEY)
        assert stored is not None and stored.state.acknowledged_by == BOB
        await click(bot, firing, actions.ALERT_ACK, user=ALICE)  # the old copy of the message
        assert "Already acknowledged by <@U0BOB>" in bot.last_ephemeral(ALICE)

        # No reminder once acknowledged (the repeat interval is an hour).
        posted = len(stub.calls_to("chat.postMessage"))
        clock.advance(hours=2)
        await polls(watcher, backend, clock, 2, slow=True)
        assert len(stub.calls_to("chat.postMessage")) == posted

        await bot.slash("/alerts", EP, user=CAROL)
        await bot.settle()
        assert "acknowledged by <@U0BOB>" in bot.last_ephemeral(CAROL)

        # Silence for 1 hour, then (a second click replaces it) for 4 hours.
        await click(bot, shown, SILENCE_1H, user=BOB)
        assert "Silenced by <@U0BOB> until" in message_text(alert_message(bot))
        stored = await bot.services.alert_store.get(KEY)
        assert stored is not None and stored.state.silenced_until == clock() + timedelta(hours=1)
        assert stored.state.silenced_by == BOB
        await click(bot, shown, SILENCE_4H, user=ALICE)
        assert "Silenced by <@U0ALICE> until" in message_text(alert_message(bot))
        stored = await bot.services.alert_store.get(KEY)
        assert stored is not None and stored.state.silenced_until == clock() + timedelta(hours=4)

        # Shift traffic away: an approval request moving green's 10% to blue.
        await click(bot, shown, actions.ALERT_SHIFT_AWAY, user=CAROL)
        assert "You may not" in bot.last_ephemeral(CAROL)
        await click(bot, shown, actions.ALERT_SHIFT_AWAY, user=ALICE)
        request = copy.deepcopy(bot.channel()[-1])
        assert "asks to shift traffic on *product-recommender*" in message_text(request)
        await click(bot, request, actions.APPROVE, user=BOB)
        assert (await backend.get_endpoint(EP)).traffic == {"blue": 100, "green": 0}

        # Green recovers (it still gets the odd request): the message is updated, a reply
        # says so in its thread; the buttons are gone.
        await polls(watcher, backend, clock, 1, slow=False)
        resolved = alert_message(bot)
        assert "*Resolved* · deployment *green*" in message_text(resolved)
        assert buttons(resolved) == []
        reply = stub.calls_to("chat.postMessage")[-1].body
        assert reply["thread_ts"] == firing.ts and "Resolved at" in reply["text"]
        await click(bot, shown, SILENCE_4H, user=ALICE)  # a stale copy with buttons
        assert "This alert is resolved now" in bot.last_ephemeral(ALICE)

        await bot.slash("/alerts", "", user=CAROL)
        await bot.settle()
        assert "silenced by <@U0ALICE>" in bot.last_ephemeral(CAROL)  # the silence goes on

        results = [(e.action, e.result) for e in await bot.services.audit.entries()]
        assert results == [
            ("/alerts", "ok"),
            (actions.ALERT_ACK, "denied"),
            (actions.ALERT_ACK, "acknowledged"),
            (actions.ALERT_ACK, "invalid"),
            ("/alerts", "ok"),
            (SILENCE_1H, "silenced"),
            (SILENCE_4H, "silenced"),
            (actions.ALERT_SHIFT_AWAY, "denied"),
            (actions.ALERT_SHIFT_AWAY, "requested"),
            ("apply", "ok"),
            (actions.APPROVE, "approved"),
            (SILENCE_4H, "invalid"),
            ("/alerts", "ok"),
        ]


async def test_a_restarted_bot_posts_nothing_twice(
    backend: ScriptedBackend, clock: Clock, stub: SlackStub, tmp_path: Path
) -> None:
    settings = alert_settings(tmp_path)
    timeline: list[tuple[int, str]] = []
    for minute in range(10):
        # A new bot (app, services, watcher) on the same database and Slack, every minute.
        async with running_bot(backend=backend, settings=settings, clock=clock, stub=stub) as bot:
            watcher = build_watcher(bot.services)
            assert watcher is not None
            before = len(stub.calls)
            await polls(watcher, backend, clock, 1, slow=minute < 6)
            timeline += [
                (minute, c.method + (" (thread)" if c.body.get("thread_ts") else ""))
                for c in stub.calls[before:]
                if c.method in ("chat.postMessage", "chat.update")
            ]
    # Fired at minute 3; no reminder within the hour; resolved at minute 7 (after a restart
    # the minutes overlapping the window count: the slow minute 5 is still seen at minute 6).
    assert timeline == [
        (3, "chat.postMessage"),
        (7, "chat.update"),
        (7, "chat.postMessage (thread)"),
    ]
    (message,) = [m for m in stub.channel_messages(CHANNEL) if "alert on" in message_text(m)]
    assert "*Resolved*" in message_text(message)


async def test_alerts_off_and_help(
    backend: ScriptedBackend, stub: SlackStub, tmp_path: Path
) -> None:
    settings = Settings.model_validate(
        {"access": POLICY, "home": tmp_path, "database_url": f"sqlite:///{tmp_path / 'bot.db'}"}
    )
    async with running_bot(backend=backend, settings=settings, stub=stub) as bot:
        assert build_watcher(bot.services) is None
        await bot.slash("/alerts", "", user=CAROL)
        await bot.settle()
        assert "Alerts are off" in bot.last_ephemeral(CAROL)
        await bot.slash("/alerts", "help", user=CAROL)
        await bot.settle()
        assert bot.last_ephemeral(CAROL).startswith("*/alerts*")
        await bot.slash("/alerts", "two words", user=CAROL)
        await bot.settle()
        assert "Unexpected words: `words`" in bot.last_ephemeral(CAROL)
