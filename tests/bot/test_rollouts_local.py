"""Canary rollouts for real: the local platform serves a baseline and three canaries (a good
one, a slow one, a failing one), the bot's rollout engine runs on its APScheduler job with
second-long intervals set by configuration, and ``--with-load`` drives the canary through
the router with the load-test engine.

Nothing waits by sleeping: the tests poll the bot's database and the Slack stand-in's
recorded calls with a deadline. The load is bounded (rate, duration, loopback).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from bot.config import Settings
from bot.offline.slackstub import SlackStub, StubMessage
from cli.rollout import terminal_engine
from commands import actions
from commands.canary import canary_spec
from deploy.local.platform import Platform
from deploy.types import EndpointSpec
from rollouts import Rollout
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
from tests.deploy.local.platform_kit import deployment_spec, running_platform, wait_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow(budget=60)]

SCRIPTS = Path(__file__).resolve().parents[2] / "samples" / "scripts"
EP = "rolling"
#: Seconds an interval lasts here (set by the command; the config allows 1 s and up).
INTERVAL = 2.0
TICK = 0.2
#: The longest a rollout may take here, whatever happens.
DEADLINE = 90.0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    """blue takes all traffic; good answers at once, slow after 400 ms, flaky fails half."""
    if not (SCRIPTS / "slow_score.py").is_file():
        pytest.fail(f"samples/scripts ships in the repository but is not at {SCRIPTS}")
    async with running_platform(tmp_path_factory.mktemp("platform")) as running:
        await running.create_or_update_endpoint(EndpointSpec(name=EP))
        specs = [
            ("blue", "slow_score.py", {"SAMPLE_DELAY_MS": "0"}),
            ("good", "slow_score.py", {"SAMPLE_DELAY_MS": "0"}),
            ("slow", "slow_score.py", {"SAMPLE_DELAY_MS": "400"}),
            ("flaky", "flaky_score.py", {"SAMPLE_ERROR_RATE": "0.5"}),
        ]
        await asyncio.gather(
            *(
                running.create_or_update_deployment(
                    deployment_spec(EP, name, SCRIPTS, script=script, env=env, max_concurrent=4)
                )
                for name, script, env in specs
            )
        )
        yield running


def settings(home: Path) -> Settings:
    return Settings.model_validate(
        {
            "access": POLICY,
            "rollouts": {"min_interval": "1s", "tick": TICK, "max_load_rate": 40},
            "home": home,
            "database_url": f"sqlite:///{home / 'bot.db'}",
        }
    )


@pytest_asyncio.fixture(loop_scope="module")
async def fresh(platform: Platform) -> Platform:
    """All traffic on blue before each test."""
    await platform.set_traffic(EP, {"blue": 100, "good": 0, "slow": 0, "flaky": 0})
    return platform


def live(traffic: Mapping[str, int]) -> dict[str, int]:
    return {k: v for k, v in traffic.items() if v}


def titled(stub: SlackStub, title: str) -> list[StubMessage]:
    return [m for m in stub.channel_messages(CHANNEL) if title in message_text(m)]


async def progress_shows(stub: SlackStub, title: str, text: str) -> StubMessage:
    """The one message titled ``title`` once it shows ``text`` (a transition is stored
    first, then shown: the message follows the database)."""

    async def shown() -> bool:
        found = titled(stub, title)
        return len(found) == 1 and text in message_text(found[0])

    await wait_until(shown, f"the message to show {text!r}", seconds=20)
    (message,) = titled(stub, title)
    return message


async def approve_latest(bot: RunningBot, *, user: str = BOB) -> None:
    """Click Approve on the newest approval request."""
    requests = [m for m in bot.channel() if actions.APPROVE in buttons(m)]
    assert requests, "no approval request was posted"
    answer = await bot.click(requests[-1], actions.APPROVE, user=user)
    assert answer.status == 200


async def start(bot: RunningBot, text: str) -> Rollout:
    """``/traffic rolling canary ...`` by alice, approved by bob; the rollout once it exists."""
    answer = await bot.slash("/traffic", f"{EP} canary {text}", user=ALICE)
    assert answer.status == 200 and answer.seconds < 3
    await bot.settle()
    await approve_latest(bot)
    await bot.settle()
    store = bot.services.rollout_store
    await wait_until(lambda: _has_rollout(bot), "the rollout to start", seconds=20)
    found = await store.latest(EP, limit=1)
    return found[0]


async def _has_rollout(bot: RunningBot) -> bool:
    return bool(await bot.services.rollout_store.latest(EP, limit=1))


async def finished(bot: RunningBot, rollout_id: str) -> Rollout:
    store = bot.services.rollout_store

    async def done() -> bool:
        found = await store.get(rollout_id)
        return found is not None and not found.active

    await wait_until(done, "the rollout to finish", seconds=DEADLINE)
    found = await store.get(rollout_id)
    assert found is not None
    return found


async def test_a_good_canary_is_promoted(fresh: Platform, tmp_path: Path) -> None:
    async with running_bot(backend=fresh, settings=settings(tmp_path), rollouts=True) as bot:
        rollout = await start(
            bot,
            f"good --steps 20,60,100 --interval {INTERVAL:g}s --min-requests 10 "
            "--max-p99 300ms --with-load 20",
        )
        done = await finished(bot, rollout.id)
        assert (done.outcome, done.approved_by, done.requested_by) == ("promoted", BOB, ALICE)
        assert live((await fresh.get_endpoint(EP)).traffic) == {"good": 100}
        assert [r.verdict for r in done.results] == ["pass", "pass"]
        assert [r.weight for r in done.results] == [20, 60]
        assert all(r.requests >= 10 and r.failed == 0 for r in done.results)
        for result in done.results:
            assert result.end - result.start >= timedelta(seconds=INTERVAL)
        # One progress message, updated at each step, and a reply in its thread with a chart.
        progress = await progress_shows(bot.stub, "Canary rollout: good on rolling", "*Promoted*")
        text = message_text(progress)
        assert "✓" in text and "P99" in text
        assert buttons(progress) == []
        assert bot.stub.calls_to("chat.update")
        await wait_until(
            lambda: _replied(bot.stub, "good is promoted on rolling"), "the reply", seconds=20
        )
        await wait_until(
            lambda: _has_file(bot.stub, f"rollout-{EP}-good-{rollout.id}.png"),
            "the chart",
            seconds=20,
        )
        # The promotion is one shift in the history: `/traffic rolling rollback` undoes it.
        last = await bot.services.history.last_shift(EP)
        assert last is not None and dict(last.after) == {"good": 100}


async def _replied(stub: SlackStub, text: str, *, broadcast: bool = False) -> bool:
    """A reply in a thread holding ``text`` (also in the channel with ``broadcast``)."""
    return any(
        text in str(call.body.get("text"))
        and call.body.get("thread_ts")
        and (not broadcast or call.body.get("reply_broadcast"))
        for call in stub.calls_to("chat.postMessage")
    )


async def _has_file(stub: SlackStub, name: str) -> bool:
    return any(f.filename == name for f in stub.files.values())


async def test_a_rollout_started_in_the_terminal_shows_in_its_channel_once_the_bot_drives_it(
    fresh: Platform, tmp_path: Path
) -> None:
    # As `flightdeck rollout start rolling good --detach --channel C...` does: the terminal's
    # engine, on the bot's database, applies the first step, gives the lease back and exits.
    config = settings(tmp_path)
    terminal, _ = terminal_engine(fresh, config)
    store = terminal.store
    options = {
        "--steps": "50,100",
        "--interval": f"{INTERVAL:g}s",
        "--min-requests": "5",
        "--with-load": "15",
    }
    spec = canary_spec(
        "good",
        options,
        confirm_promotion=False,
        settings=config.rollouts,
        max_load_rate=40,
    )
    rollout = await terminal.begin(
        endpoint=EP,
        spec=spec,
        requested_by="cli:ops",
        approved_by=None,
        channel=CHANNEL,
    )
    await terminal.stop()
    assert await store.message(rollout.id) == (None, None)  # nothing in Slack yet
    async with running_bot(backend=fresh, settings=config, rollouts=True) as bot:
        done = await finished(bot, rollout.id)
        assert (done.outcome, done.requested_by) == ("promoted", "cli:ops")
        # The bot posted the progress message in the rollout's channel and kept it current.
        await progress_shows(bot.stub, "Canary rollout: good on rolling", "*Promoted*")
        channel, ts = await store.message(rollout.id)
        assert channel == CHANNEL and ts


async def test_a_slow_canary_rolls_back_at_its_failing_check(
    fresh: Platform, tmp_path: Path
) -> None:
    async with running_bot(backend=fresh, settings=settings(tmp_path), rollouts=True) as bot:
        rollout = await start(
            bot,
            f"slow --steps 30,100 --interval {INTERVAL:g}s --min-requests 5 --max-p99 250ms "
            "--threshold 1 --with-load 10",
        )
        done = await finished(bot, rollout.id)
        assert done.outcome == "rolled_back"
        assert live((await fresh.get_endpoint(EP)).traffic) == {"blue": 100}
        (failed,) = done.results
        assert failed.verdict == "fail" and failed.p99_ms is not None and failed.p99_ms > 400
        # Rolled back at the failing check: its traffic was back on blue within the interval.
        rolled_back = [e for e in done.events if e.text.startswith("rolled back")]
        assert rolled_back and rolled_back[0].at - failed.end < timedelta(seconds=INTERVAL)
        progress = await progress_shows(
            bot.stub, "Canary rollout: slow on rolling", "*Rolled back*"
        )
        assert "&gt; 250 ms" in message_text(progress)  # ">", escaped as mrkdwn wants
        await wait_until(
            lambda: _replied(bot.stub, "slow was rolled back on rolling", broadcast=True),
            "the broadcast reply",
            seconds=20,
        )


async def test_a_failing_canary_rolls_back_after_two_failed_checks(
    fresh: Platform, tmp_path: Path
) -> None:
    async with running_bot(backend=fresh, settings=settings(tmp_path), rollouts=True) as bot:
        rollout = await start(
            bot,
            f"flaky --steps 25,100 --interval {INTERVAL:g}s --min-requests 5 "
            "--max-error-rate 5% --threshold 2 --with-load 20",
        )
        done = await finished(bot, rollout.id)
        assert done.outcome == "rolled_back" and done.failures == 2
        assert live((await fresh.get_endpoint(EP)).traffic) == {"blue": 100}
        fails = [r for r in done.results if r.verdict == "fail"]
        assert len(fails) == 2
        assert all((r.error_rate or 0) == pytest.approx(50, abs=15) for r in fails)
        # Rolled back at the second failing check, within the interval after it.
        rolled_back = [e for e in done.events if e.text.startswith("rolled back")]
        assert rolled_back and rolled_back[0].at - fails[-1].end < timedelta(seconds=INTERVAL)
        assert "errors" in (done.reason or "") and "> 5%" in (done.reason or "")


async def test_an_interval_without_requests_holds_the_step_and_a_shift_is_refused(
    fresh: Platform, tmp_path: Path
) -> None:
    async with running_bot(backend=fresh, settings=settings(tmp_path), rollouts=True) as bot:
        rollout = await start(bot, f"good --steps 10,100 --interval {INTERVAL:g}s")

        async def judged() -> bool:
            found = await bot.services.rollout_store.get(rollout.id)
            return found is not None and len(found.results) >= 1

        await wait_until(judged, "an interval to be judged", seconds=30)
        held = await bot.services.rollout_store.get(rollout.id)
        assert held is not None and held.status == "running" and held.step == 0
        assert held.results[0].verdict == "inconclusive" and held.results[0].requests == 0
        assert live((await fresh.get_endpoint(EP)).traffic) == {"blue": 90, "good": 10}
        # A manual shift during the rollout is refused, saying so.
        await bot.slash("/traffic", f"{EP} blue=50 good=50", user=ALICE)
        await bot.settle()
        assert "A rollout of good is running on rolling" in bot.last_ephemeral(ALICE)
        # Carol may not abort; alice may (a confirm dialog in Slack; the click here).
        (progress,) = titled(bot.stub, "Canary rollout: good on rolling")
        assert buttons(progress) == [
            actions.ROLLOUT_PAUSE,
            actions.ROLLOUT_PROMOTE,
            actions.ROLLOUT_ABORT,
        ]
        await bot.click(progress, actions.ROLLOUT_ABORT, user=CAROL)
        await bot.settle()
        assert "You may not pause, resume or abort rollouts" in bot.last_ephemeral(CAROL)
        await bot.click(progress, actions.ROLLOUT_ABORT, user=ALICE)
        done = await finished(bot, rollout.id)
        assert done.outcome == "aborted" and done.reason == f"aborted by <@{ALICE}>"
        assert live((await fresh.get_endpoint(EP)).traffic) == {"blue": 100}


async def test_a_bot_restart_resumes_the_rollout_at_its_step(
    fresh: Platform, tmp_path: Path
) -> None:
    stub = stand_in()
    await stub.start()
    try:
        async with running_bot(
            backend=fresh, settings=settings(tmp_path), rollouts=True, stub=stub
        ) as bot:
            rollout = await start(
                bot,
                f"good --steps 20,50,100 --interval {INTERVAL:g}s --min-requests 5 --with-load 15",
            )

            async def second_step() -> bool:
                found = await bot.services.rollout_store.get(rollout.id)
                return found is not None and found.step == 1 and found.applied

            await wait_until(second_step, "the second step", seconds=DEADLINE)
        # The bot is gone (its engine gave the rollout's lease back); a new one takes over.
        assert live((await fresh.get_endpoint(EP)).traffic) == {"blue": 50, "good": 50}
        async with running_bot(
            backend=fresh, settings=settings(tmp_path), rollouts=True, stub=stub
        ) as again:
            done = await finished(again, rollout.id)
        assert done.outcome == "promoted"
        steps = [e.text for e in done.events if e.text.startswith("step ")]
        assert steps == ["step 1 of 3: good at 20%", "step 2 of 3: good at 50%"]
        assert [r.weight for r in done.results if r.verdict == "pass"] == [20, 50]
        # Still one progress message: the new bot updated the one the old bot posted.
        await progress_shows(stub, "Canary rollout: good on rolling", "*Promoted*")
    finally:
        await stub.stop()


async def test_a_lock_refuses_changes_but_lets_approvers_force(
    fresh: Platform, tmp_path: Path
) -> None:
    async with running_bot(backend=fresh, settings=settings(tmp_path), rollouts=True) as bot:
        await bot.slash("/traffic", f"{EP} lock --reason 'sale weekend'", user=BOB)
        await bot.settle()
        assert any("locked *rolling*: sale weekend" in message_text(m) for m in bot.channel())
        await bot.slash("/traffic", EP, user=CAROL)
        await bot.settle()
        assert f"Locked by <@{BOB}>" in bot.last_ephemeral(CAROL)
        for command, text in (
            ("/traffic", f"{EP} blue=90 good=10"),
            ("/traffic", f"{EP} canary good --interval 2s"),
            ("/scale", f"{EP} blue 2"),
        ):
            await bot.slash(command, text, user=BOB)
            await bot.settle()
            assert "rolling is locked by" in bot.last_ephemeral(BOB), command
        requests = [m for m in bot.channel() if actions.APPROVE in buttons(m)]
        assert requests == []
        # alice is an approver: --force gets her past the lock (her request still needs bob).
        await bot.slash("/traffic", f"{EP} blue=90 good=10 --force", user=ALICE)
        await bot.settle()
        await approve_latest(bot, user=BOB)
        await bot.settle()
        assert live((await fresh.get_endpoint(EP)).traffic) == {"blue": 90, "good": 10}
        # Only the one who locked it, or an approver, unlocks it.
        await bot.slash("/traffic", f"{EP} unlock", user=CAROL)
        await bot.settle()
        assert "Only <@U0BOB>, who locked it, or an approver" in bot.last_ephemeral(CAROL)
        await bot.slash("/traffic", f"{EP} unlock", user=BOB)
        await bot.settle()
        assert await bot.services.locks.get(EP) is None
