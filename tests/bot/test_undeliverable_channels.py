"""Alerts and rollout channels Slack refuses are said once to people who can act: in the
endpoint's deploy channel, in ``alerts.channel``, or to whoever asked for the rollout;
not at every poll, not again after a restart, again once the channel worked meanwhile.
Through the real Bolt app and the strict stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alerts.settings import parse_alert_settings
from bot.alerts.watch import build_watcher
from bot.channel_health import ChannelHealth
from bot.offline.slackstub import Directory, SlackStub, StubMessage
from bot.startup_checks import check_channels
from commands import actions
from commands.reply import notice
from deploy.types import DeploymentSpec, EndpointSpec
from tests.alerts.kit import Clock, ScriptedBackend, scripted_backend
from tests.bot.harness import (
    ALICE,
    BOB,
    CAROL,
    CHANNEL,
    ENDPOINT,
    NAMES,
    TOKEN,
    FakeClock,
    buttons,
    make_settings,
    message_text,
    running_bot,
)
from tests.bot.test_alerts_slack_limits import ALERTS, P99_ONLY, alert_settings, fire

# The bot's pacer keeps Slack's rate of posts per channel on the real clock (a second apart).
pytestmark = pytest.mark.slow(budget=40)

RECS = "C0RECS"
SAID = "Flightdeck could not post"


def make_stub() -> SlackStub:
    stub = SlackStub(token=TOKEN, directory=Directory(users=NAMES, channels={CHANNEL: list(NAMES)}))
    stub.add_channel(ALERTS, members=list(NAMES))
    stub.add_channel(RECS, members=list(NAMES))
    return stub


async def started(stub: SlackStub) -> AsyncIterator[SlackStub]:
    await stub.start()
    try:
        yield stub
    finally:
        await stub.stop()


def said(messages: list[StubMessage]) -> list[str]:
    return [message_text(m) for m in messages if SAID in message_text(m)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def backend(clock: Clock) -> ScriptedBackend:
    return await scripted_backend(clock)


async def test_an_alerts_channel_refused_is_said_once_in_the_deploy_channel(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    stub = make_stub()
    stub.remove_bot(ALERTS)
    settings = alert_settings(tmp_path)
    async for running in started(stub):
        async with running_bot(
            backend=backend, settings=settings, clock=clock, stub=running
        ) as bot:
            # Carol works on the endpoint in CHANNEL: that is its deploy channel.
            await bot.slash("/alerts", "product-recommender", user=CAROL)
            await bot.settle()
            watcher = build_watcher(bot.services)
            assert watcher is not None
            await fire(watcher, backend, clock, ["product-recommender"])
            await fire(watcher, backend, clock, ["product-recommender"])
            assert running.channel_messages(ALERTS) == []
            (text,) = said(running.channel_messages(CHANNEL))
            assert "Flightdeck is not in <#C0ALERTS>" in text
            assert "run `/invite @Flightdeck` in <#C0ALERTS>" in text
            assert "the alerts of product-recommender" in text
        # A restart: the refusal is met again, and it was said already.
        async with running_bot(
            backend=backend, settings=settings, clock=clock, stub=running
        ) as bot:
            await backend.create_or_update_endpoint(EndpointSpec(name="fraud-scorer"))
            spec = DeploymentSpec(name="blue", endpoint_name="fraud-scorer")
            await backend.create_or_update_deployment(spec)
            await backend.set_traffic("fraud-scorer", {"blue": 100})
            await bot.slash("/alerts", "fraud-scorer", user=CAROL)
            await bot.settle()
            watcher = build_watcher(bot.services)
            assert watcher is not None
            await fire(watcher, backend, clock, ["fraud-scorer"])
            assert bot.services.slack.health.get(ALERTS) is not None  # refused again
            assert len(said(running.channel_messages(CHANNEL))) == 1


async def test_an_endpoint_channel_refused_is_said_in_alerts_channel(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    stub = make_stub()
    stub.archive(RECS)
    settings = alert_settings(tmp_path, endpoints={"product-recommender": {"channel": RECS}})
    async for running in started(stub):
        async with running_bot(
            backend=backend, settings=settings, clock=clock, stub=running
        ) as bot:
            watcher = build_watcher(bot.services)
            assert watcher is not None
            await fire(watcher, backend, clock, ["product-recommender"])
            await fire(watcher, backend, clock, ["product-recommender"])
            (text,) = said(running.channel_messages(ALERTS))
            assert "<#C0RECS> is archived" in text
            assert "`alerts.endpoints.product-recommender.channel`" in text


async def test_said_again_once_the_channel_worked_meanwhile(tmp_path: Path) -> None:
    stub = make_stub()
    async for running in started(stub):
        async with running_bot(
            backend=await scripted_backend(Clock()), settings=make_settings(tmp_path), stub=running
        ) as bot:
            slack = bot.services.slack
            running.remove_bot(RECS)
            for _ in range(2):
                with pytest.raises(Exception, match="not"):
                    await slack.send_message(RECS, notice("a post"))
            told = [await slack.tell_once(RECS, what="x", where="y", to=[CHANNEL])]
            told.append(await slack.tell_once(RECS, what="x", where="y", to=[CHANNEL]))
            slack.health = ChannelHealth()  # what a restart forgets
            with pytest.raises(Exception, match="not"):
                await slack.send_message(RECS, notice("a post"))
            told.append(await slack.tell_once(RECS, what="x", where="y", to=[CHANNEL]))
            running.invite_bot(RECS)
            await slack.send_message(RECS, notice("a post"))  # it works again
            running.remove_bot(RECS)
            with pytest.raises(Exception, match="not"):
                await slack.send_message(RECS, notice("a post"))
            told.append(await slack.tell_once(RECS, what="x", where="y", to=[CHANNEL]))
            # The start-up checks find it fixed: a later refusal is news again.
            running.invite_bot(RECS)
            checks = parse_alert_settings({"channel": RECS, "rules": P99_ONLY}, source=None)
            assert all(finding.ok for finding in await check_channels(slack, checks))
            running.remove_bot(RECS)
            with pytest.raises(Exception, match="not"):
                await slack.send_message(RECS, notice("a post"))
            told.append(await slack.tell_once(RECS, what="x", where="y", to=[CHANNEL]))
            assert told == [True, False, False, True, True]
            assert len(said(running.channel_messages(CHANNEL))) == 3


# ---------------------------------------------------------------- rollouts


async def test_a_rollout_channel_refused_is_said_once_to_who_asked(
    clock: FakeClock, tmp_path: Path
) -> None:
    scripted = await scripted_backend(clock, traffic={"blue": 100, "green": 0})
    settings = make_settings(tmp_path, rollouts={"min_interval": "1s"})
    async with running_bot(backend=scripted, settings=settings, clock=clock) as bot:
        await bot.slash(
            "/traffic", f"{ENDPOINT} canary green --steps 10,50,100 --interval 1m", user=ALICE
        )
        await bot.settle()
        (request,) = [m for m in bot.channel() if actions.APPROVE in buttons(m)]
        bot.stub.remove_bot(CHANNEL)  # someone removes the bot before the approval
        await bot.click(request, actions.APPROVE, user=BOB)
        await bot.settle()
        for _ in range(2):
            scripted.answer(ENDPOINT, "green", count=120, p99_ms=40.0)
            scripted.answer(ENDPOINT, "blue", count=500, p99_ms=35.0)
            clock.advance(seconds=61)
            await bot.rollouts.tick_once()
            await bot.settle()
        dm = bot.stub.channel_messages(bot.stub.dm_channel(ALICE))
        (text,) = said(dm)
        assert "Flightdeck is not in <#C0DEPLOYS>" in text
        assert "the progress of the rollout of green on product-recommender" in text
        assert said(bot.stub.channel_messages(bot.stub.dm_channel(BOB))) == []
