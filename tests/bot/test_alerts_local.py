"""Alerts for real: the local platform serves a slow deployment and a failing one, load is
driven through its router, and the bot's watcher (its APScheduler job, 1 s polls) posts
each alert within a poll of its duration and resolves it once the load stops.

Nothing waits by sleeping: the test polls the Slack stand-in's recorded calls with a
deadline. The load loops are bounded (a stop event and a hard deadline) on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from alerts.state import AlertKey, AlertState
from bot.alerts.watch import watching_alerts
from bot.config import Settings
from bot.offline.slackstub import SlackStub
from deploy.local.platform import Platform
from deploy.types import EndpointSpec
from tests.bot.harness import CHANNEL, POLICY, RunningBot, message_text, running_bot
from tests.deploy.local.platform_kit import deployment_spec, running_platform, wait_for

pytestmark = pytest.mark.slow(budget=60)

SCRIPTS = Path(__file__).resolve().parents[2] / "samples" / "scripts"
EP = "alerting"
POLL = timedelta(seconds=1)
WINDOW = timedelta(seconds=2)
DURATION = timedelta(seconds=5)
#: Jitter allowed on top of the scheduler's ticks (a poll's start is delayed by a busy loop).
JITTER = timedelta(seconds=0.5)
SLOW = AlertKey(endpoint=EP, deployment="slow", rule="latency_p99")
FLAKY = AlertKey(endpoint=EP, deployment="flaky", rule="error_rate")
#: The longest the load may run whatever happens (it normally stops once both alerts fire).
LOAD_DEADLINE = 60.0


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    """The endpoint with a deployment answering in 400 ms and one failing half its requests."""
    if not (SCRIPTS / "slow_score.py").is_file():
        pytest.fail(f"samples/scripts ships in the repository but is not at {SCRIPTS}")
    async with running_platform(tmp_path / "platform") as running:
        await running.create_or_update_endpoint(EndpointSpec(name=EP))
        slow = deployment_spec(
            EP, "slow", SCRIPTS, script="slow_score.py", env={"SAMPLE_DELAY_MS": "400"}
        )
        flaky = deployment_spec(
            EP, "flaky", SCRIPTS, script="flaky_score.py", env={"SAMPLE_ERROR_RATE": "0.5"}
        )
        await asyncio.gather(
            running.create_or_update_deployment(slow), running.create_or_update_deployment(flaky)
        )
        await running.set_traffic(EP, {"slow": 50, "flaky": 50})
        yield running


def settings(home: Path) -> Settings:
    return Settings.model_validate(
        {
            "access": POLICY,
            "alerts": {
                "channel": CHANNEL,
                "poll_interval": POLL.total_seconds(),
                "window": WINDOW.total_seconds(),
                "rules": [
                    {"kind": "latency_p99", "threshold": 250, "duration": "5s"},
                    {"kind": "error_rate", "threshold": 20, "duration": "5s"},
                ],
            },
            "home": home,
            "database_url": f"sqlite:///{home / 'bot.db'}",
        }
    )


async def drive(
    session: aiohttp.ClientSession, uri: str, key: str, deployment: str, stop: asyncio.Event
) -> int:
    """Score through the router (one request at a time) until ``stop``; the answers count.

    The failing deployment answers at once: a 10 ms pause between its requests keeps the
    load (and the two CPUs) reasonable. It paces the load; it waits for nothing.
    """
    headers = {"Authorization": f"Bearer {key}", "azureml-model-deployment": deployment}
    answers = 0
    deadline = time.monotonic() + LOAD_DEADLINE
    while not stop.is_set() and time.monotonic() < deadline:
        async with session.post(uri, json={"data": [1, 2, 3]}, headers=headers) as response:
            await response.read()
            answers += 1
        if deployment == "flaky":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.01)
    return answers


def posts_about(stub: SlackStub, key: AlertKey) -> list[str]:
    """Texts of the channel messages about an alert (kept up to date by chat.update): its own
    message, or the message it shares with alerts of the same poll (``alerts.group_by``)."""
    label = "P99 latency" if key.rule == "latency_p99" else "Error rate"
    return [
        text
        for text in map(message_text, stub.channel_messages(CHANNEL))
        if (f"{label} alert" in text or f"*{label}* · " in text) and f"*{key.deployment}*" in text
    ]


async def state_of(bot: RunningBot, key: AlertKey) -> AlertState:
    stored = await bot.services.alert_store.get(key)
    assert stored is not None, key
    return stored.state


async def test_slow_and_failing_deployments_fire_and_resolve(
    platform: Platform, tmp_path: Path
) -> None:
    endpoint = await platform.get_endpoint(EP)
    key = (await platform.get_credentials(EP)).bearer()
    async with (
        running_bot(backend=platform, settings=settings(tmp_path)) as bot,
        watching_alerts(bot.services) as watcher,
        aiohttp.ClientSession() as session,
    ):
        assert watcher is not None and watcher.scheduler is not None
        stub = bot.stub
        stop = asyncio.Event()
        started = datetime.now(UTC)
        load = [
            asyncio.create_task(drive(session, endpoint.scoring_uri, key, "slow", stop)),
            asyncio.create_task(drive(session, endpoint.scoring_uri, key, "slow", stop)),
            asyncio.create_task(drive(session, endpoint.scoring_uri, key, "flaky", stop)),
        ]
        try:
            await wait_for(
                lambda: bool(posts_about(stub, SLOW)) and bool(posts_about(stub, FLAKY)),
                seconds=40,
                what="both alerts to be posted",
            )
        finally:
            stop.set()
            answers = await asyncio.gather(*load)
        stopped = datetime.now(UTC)
        assert all(answers), answers

        for alert, shown in ((SLOW, "P99 latency *"), (FLAKY, "Error rate *")):
            state = await state_of(bot, alert)
            assert state.since is not None and state.fired_at is not None
            # Fired within one poll interval after the duration (the first breach at `since`).
            assert DURATION <= state.fired_at - state.since <= DURATION + POLL + JITTER
            assert state.since - started <= WINDOW + POLL + timedelta(seconds=1)
            (text,) = posts_about(stub, alert)
            assert f"deployment *{alert.deployment}* (50% of traffic)" in text
            assert shown in text and "threshold since" in text
        slow_peak, flaky_peak = (await state_of(bot, SLOW)).peak, (await state_of(bot, FLAKY)).peak
        assert slow_peak is not None and slow_peak > 400  # ms: each answer takes 400 ms at least
        assert flaky_peak == pytest.approx(50, abs=10)  # percent: half fail (as 424)
        # A chart in each alert's thread (uploaded just after its message).
        await wait_for(lambda: len(stub.files) == 2, seconds=20, what="the two charts")
        assert {f.filename for f in stub.files.values()} == {
            "alerting-slow-latency_p99.png",
            "alerting-flaky-error_rate.png",
        }

        # The load has stopped: both resolve within a window and a poll (the message is
        # updated, then a reply posted in its thread).
        def replies() -> list[dict[str, Any]]:
            posts = stub.calls_to("chat.postMessage")
            return [dict(c.body) for c in posts if c.body.get("thread_ts")]

        await wait_for(
            lambda: (
                all("*Resolved*" in " ".join(posts_about(stub, a)) for a in (SLOW, FLAKY))
                and sum(reply["text"].count("Resolved at") for reply in replies()) == 2
            ),
            seconds=20,
            what="both alerts to resolve",
        )
        for alert in (SLOW, FLAKY):
            state = await state_of(bot, alert)
            assert state.status == "resolved" and state.resolved_at is not None
            assert state.resolved_at - stopped <= WINDOW + POLL + JITTER
        assert all("Resolved at" in reply["text"] for reply in replies())
        # Never the same state twice: a message per alert (or one for both, when they fired
        # in the same poll), and per resolution reply one update of the message it replies to.
        messages = {(await state_of(bot, alert)).message_ts for alert in (SLOW, FLAKY)}
        assert len(stub.calls_to("chat.postMessage")) == len(messages) + len(replies())
        assert len(stub.calls_to("chat.update")) == len(replies())
