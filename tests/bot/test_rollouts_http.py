"""Rollouts, locks and dry runs over HTTP: signed requests to the app, the Slack stand-in
recording what it posts, the engine ticked by hand on a fake clock and scripted metrics."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.offline.slackstub import StubMessage
from commands import actions
from deploy.memory import MemoryBackend as FakeBackend
from tests.alerts.kit import ScriptedBackend, scripted_backend
from tests.bot.harness import (
    ALICE,
    BOB,
    CAROL,
    ENDPOINT,
    FakeClock,
    RunningBot,
    buttons,
    make_settings,
    message_text,
    running_bot,
)


def live(backend: FakeBackend) -> dict[str, int]:
    return {k: v for k, v in backend.endpoints[ENDPOINT].traffic.items() if v}


async def say(bot: RunningBot, command: str, text: str, *, user: str = ALICE) -> str:
    """Send a command; the user's latest ephemeral answer ('' when there is none)."""
    before = len(bot.stub.ephemerals(user))
    answer = await bot.slash(command, text, user=user)
    assert answer.status == 200
    await bot.settle()
    found = bot.stub.ephemerals(user)
    return bot.last_ephemeral(user) if len(found) > before else ""


def titled(bot: RunningBot, title: str) -> list[StubMessage]:
    return [copy.deepcopy(m) for m in bot.channel() if title in message_text(m)]


async def approve(bot: RunningBot, title: str, *, user: str = BOB) -> None:
    (request,) = [m for m in titled(bot, title) if actions.APPROVE in buttons(m)]
    assert (await bot.click(request, actions.APPROVE, user=user)).status == 200
    await bot.settle()


# ---------------------------------------------------------------- dry runs


async def test_dry_runs_show_the_change_and_change_nothing(
    bot: RunningBot, backend: FakeBackend
) -> None:
    specs_before = dict(backend.specs)
    shift = await say(bot, "/traffic", f"{ENDPOINT} blue=90 green=10 --dry-run", user=CAROL)
    assert "Dry run: traffic shift on product-recommender" in shift
    assert "100%  →  90%" in shift
    assert "it would be refused now: You may not deploy" in shift
    canary = await say(
        bot, "/traffic", f"{ENDPOINT} canary green --steps 10,50,100 --interval 5m --dry-run"
    )
    assert "Dry run: canary rollout of green on product-recommender" in canary
    assert "P99 ≤ 500 ms" in canary and "errors ≤ 1%" in canary
    assert "Promotion after 10m at the earliest" in canary
    assert "refused" not in canary
    deploy = await say(bot, "/deploy", f"{ENDPOINT} green --model recommendation-model:1 --dry-run")
    assert "Dry run: Updating green to product-recommender" in deploy
    assert "Would update *green*" in deploy and "the model recommendation-model:1" in deploy
    scale = await say(bot, "/scale", f"{ENDPOINT} blue 3 --dry-run")
    assert "Would run *3* instance(s) instead of 1" in scale
    # Nothing changed: no message in the channel, no request, the same traffic and specs.
    assert bot.channel() == []
    assert await bot.services.approvals.pending() == []
    assert live(backend) == {"blue": 100}
    assert backend.specs == specs_before
    assert (await backend.get_deployment(ENDPOINT, "blue")).instance_count == 1
    assert await bot.services.rollout_store.active() == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"{ENDPOINT} canary", "Name the one deployment to roll out"),
        (f"{ENDPOINT} canary green --steps 10,50", "the last step must be 100"),
        (f"{ENDPOINT} canary green --interval 10s", "must be between 1m and 1h"),
        (f"{ENDPOINT} canary green --with-load 500", "above the configured limit of 50"),
        (f"{ENDPOINT} canary green --max-error-rate lots", "--max-error-rate lots"),
        (f"{ENDPOINT} blue=90 green=10 --steps 10", "`--steps` goes with `canary` only"),
        (f"{ENDPOINT} lock", "Say why: `lock --reason TEXT`"),
        (f"{ENDPOINT} --dry-run", "go with a change"),
    ],
)
async def test_bad_rollout_and_lock_requests_say_what_is_wrong(
    bot: RunningBot, backend: FakeBackend, text: str, problem: str
) -> None:
    answer = await say(bot, "/traffic", text)
    assert problem in answer and "*/traffic*" in answer
    assert bot.channel() == [] and live(backend) == {"blue": 100}


async def test_a_canary_of_a_deployment_without_traffic_elsewhere_is_refused(
    bot: RunningBot, backend: FakeBackend
) -> None:
    await backend.set_traffic(ENDPOINT, {"blue": 0, "green": 100})
    answer = await say(bot, "/traffic", f"{ENDPOINT} canary green")
    assert "No deployment other than green takes live traffic" in answer
    assert bot.channel() == []


# ---------------------------------------------------------------- locks


async def test_a_locked_endpoint_refuses_deploys_and_shows_who_locked_it(
    bot: RunningBot, backend: FakeBackend
) -> None:
    await say(bot, "/traffic", f"{ENDPOINT} lock --reason 'model freeze <for> audit'")
    (notice,) = bot.channel()
    assert "<@U0ALICE> locked *product-recommender*: model freeze &lt;for&gt; audit" in (
        message_text(notice)
    )
    status = await say(bot, "/traffic", ENDPOINT, user=CAROL)
    assert "Locked by <@U0ALICE>" in status and "model freeze &lt;for&gt; audit" in status
    refused = await say(bot, "/deploy", f"{ENDPOINT} green --model recommendation-model:1")
    assert "product-recommender is locked by <@U0ALICE>" in refused
    bob = await say(bot, "/scale", f"{ENDPOINT} blue 2 --force", user=BOB)
    assert bob == ""  # bob approves: --force lets him past the lock
    assert (await backend.get_deployment(ENDPOINT, "blue")).instance_count == 2
    locked_again = await say(bot, "/traffic", f"{ENDPOINT} lock --reason twice", user=BOB)
    assert "is locked by <@U0ALICE>" in locked_again and "already" in locked_again
    await say(bot, "/traffic", f"{ENDPOINT} unlock")
    assert await bot.services.locks.get(ENDPOINT) is None
    nothing = await say(bot, "/traffic", f"{ENDPOINT} unlock")
    assert "product-recommender is not locked" in nothing


# ---------------------------------------------------------------- rollouts, ticked by hand


@pytest.fixture
async def scripted(clock: FakeClock) -> ScriptedBackend:
    return await scripted_backend(clock, traffic={"blue": 100, "green": 0})


@pytest.fixture
async def rbot(
    scripted: ScriptedBackend, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[RunningBot]:
    settings = make_settings(tmp_path, rollouts={"min_interval": "1s"})
    async with running_bot(backend=scripted, settings=settings, clock=clock) as running:
        yield running


async def interval(bot: RunningBot, backend: ScriptedBackend, clock: FakeClock) -> None:
    """green answers 120 healthy requests during a minute; then the engine ticks."""
    backend.answer(ENDPOINT, "green", count=120, p99_ms=40.0)
    backend.answer(ENDPOINT, "blue", count=500, p99_ms=35.0)
    clock.advance(seconds=61)
    await bot.rollouts.tick_once()
    await bot.settle()


async def test_confirm_promotion_waits_for_an_approval_click(
    rbot: RunningBot, scripted: ScriptedBackend, clock: FakeClock
) -> None:
    await say(
        rbot,
        "/traffic",
        f"{ENDPOINT} canary green --steps 25,50,100 --interval 1m --min-requests 50 "
        "--confirm-promotion",
    )
    request = titled(rbot, "Canary rollout of green on product-recommender")[0]
    assert "asks to roll *green* out" in message_text(request)
    assert request.blocks[-1]["elements"][0]["confirm"]["title"]["text"] == "Start this rollout?"
    await approve(rbot, "Canary rollout of green on product-recommender")
    assert live(scripted) == {"blue": 75, "green": 25}
    (progress,) = titled(rbot, "Canary rollout: green on product-recommender")
    assert "*Running* · step 1 of 3" in message_text(progress)
    assert buttons(progress) == [
        actions.ROLLOUT_PAUSE,
        actions.ROLLOUT_PROMOTE,
        actions.ROLLOUT_ABORT,
    ]
    await interval(rbot, scripted, clock)
    assert live(scripted) == {"blue": 50, "green": 50}
    await interval(rbot, scripted, clock)
    # Every check passed before the last step: it waits for an approval click.
    assert live(scripted) == {"blue": 50, "green": 50}
    (progress,) = titled(rbot, "Canary rollout: green on product-recommender")
    assert "*Awaiting approval* to promote green to 100%" in message_text(progress)
    (ask,) = [m for m in titled(rbot, "Promote green") if actions.APPROVE in buttons(m)]
    assert "passed every step before the last" in message_text(ask)
    # The requester cannot approve it; another approver can.
    await rbot.click(ask, actions.APPROVE, user=ALICE)
    await rbot.settle()
    assert "You cannot approve your own request" in rbot.last_ephemeral(ALICE)
    await approve(rbot, "Promote green")
    assert live(scripted) == {"green": 100}
    (progress,) = titled(rbot, "Canary rollout: green on product-recommender")
    text = message_text(progress)
    assert "*Promoted*" in text and buttons(progress) == []
    assert "✓" in text and "120 requests (at least 50)" in text
    # The rollout was audited from request to outcome.
    entries = await rbot.services.audit.entries()
    assert [e.action for e in entries if e.action in ("/traffic", "apply", "rollout")] == [
        "/traffic",
        "apply",
        "rollout",
        "apply",
    ]


async def test_pause_resume_and_promote_now(
    rbot: RunningBot, scripted: ScriptedBackend, clock: FakeClock
) -> None:
    await say(rbot, "/traffic", f"{ENDPOINT} canary green --steps 10,50,100 --interval 1m")
    await approve(rbot, "Canary rollout of green")
    (progress,) = titled(rbot, "Canary rollout: green")
    await rbot.click(progress, actions.ROLLOUT_PAUSE, user=BOB)
    await rbot.settle()
    (progress,) = titled(rbot, "Canary rollout: green")
    assert "*Paused* at step 1 of 3" in message_text(progress)
    assert buttons(progress)[0] == actions.ROLLOUT_RESUME
    await interval(rbot, scripted, clock)  # paused: nothing is judged
    assert live(scripted) == {"blue": 90, "green": 10}
    # A manual shift is refused while it runs (paused or not).
    refused = await say(rbot, "/traffic", f"{ENDPOINT} blue=50 green=50")
    assert "A rollout of green is running on product-recommender" in refused
    await rbot.click(progress, actions.ROLLOUT_RESUME, user=ALICE)
    await rbot.settle()
    await interval(rbot, scripted, clock)
    assert live(scripted) == {"blue": 50, "green": 50}
    # Promote now asks for an approval; approving it sends green to 100%.
    (progress,) = titled(rbot, "Canary rollout: green")
    await rbot.click(progress, actions.ROLLOUT_PROMOTE, user=ALICE)
    await rbot.settle()
    assert live(scripted) == {"blue": 50, "green": 50}
    await approve(rbot, "Promote green")
    assert live(scripted) == {"green": 100}
    rollout = (await rbot.services.rollout_store.latest(ENDPOINT))[0]
    assert rollout.outcome == "promoted" and "promoted by <@U0BOB>" in (rollout.reason or "")
    # A click on the finished rollout's old buttons changes nothing.
    await rbot.click(progress, actions.ROLLOUT_ABORT, user=ALICE)
    await rbot.settle()
    assert "That rollout is over" in rbot.last_ephemeral(ALICE)
    assert live(scripted) == {"green": 100}


async def test_status_shows_the_rollout_and_one_at_a_time(
    rbot: RunningBot, scripted: ScriptedBackend
) -> None:
    await say(rbot, "/traffic", f"{ENDPOINT} canary green --interval 1m")
    await approve(rbot, "Canary rollout of green")
    status = await say(rbot, "/traffic", ENDPOINT, user=CAROL)
    assert "of *green*: running, step 1 of 4 (10%)" in status
    again = await say(rbot, "/traffic", f"{ENDPOINT} canary green --interval 1m")
    assert "A rollout of green is running on product-recommender" in again
