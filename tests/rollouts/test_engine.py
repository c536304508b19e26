"""The engine on a fake clock and scripted metrics: ticks move rollouts, and only once."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from deploy.errors import BackendUnavailableError, ValidationError
from deploy.types import Endpoint
from rollouts import EndpointLockedError, RolloutConflictError, RolloutEngine
from tests.alerts.kit import EP, Clock, ScriptedBackend, scripted_backend
from tests.rollouts.kit import ALICE, BOB, make_engine, spec


class CountingBackend(ScriptedBackend):
    """Counts traffic changes; ``fail_traffic`` makes the next ones fail."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.shifts: list[dict[str, int]] = []
        self.fail_traffic = 0

    async def set_traffic(
        self,
        endpoint: str,
        traffic: Mapping[str, int] | None = None,
        *,
        mirror_traffic: Mapping[str, int] | None = None,
    ) -> Endpoint:
        if self.fail_traffic:
            self.fail_traffic -= 1
            raise BackendUnavailableError("The local platform is not running: start it.")
        if traffic is not None:
            self.shifts.append({k: v for k, v in traffic.items() if v})
        return await super().set_traffic(endpoint, traffic, mirror_traffic=mirror_traffic)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def backend(clock: Clock) -> CountingBackend:
    found = await scripted_backend(clock, traffic={"blue": 100, "green": 0})
    counting = CountingBackend(clock)
    counting.__dict__.update({k: v for k, v in found.__dict__.items() if k != "clock"})
    return counting


def traffic(backend: ScriptedBackend) -> dict[str, int]:
    return {k: v for k, v in backend.endpoints[EP].traffic.items() if v}


async def begin(engine: RolloutEngine, **overrides: Any) -> Any:
    return await engine.begin(
        endpoint=EP, spec=spec(**overrides), requested_by=ALICE, approved_by=BOB, channel="C1"
    )


async def interval(
    engine: RolloutEngine,
    backend: ScriptedBackend,
    clock: Clock,
    *,
    count: int = 150,
    p99: float = 60.0,
    status: str = "200",
) -> None:
    """The canary answers ``count`` requests during one interval, then a tick judges it."""
    backend.answer(EP, "green", count=count, status=status, p99_ms=p99)
    backend.answer(EP, "blue", count=900, p99_ms=50.0)
    clock.advance(seconds=61)
    await engine.tick_once()


async def test_a_good_canary_is_promoted_step_by_step(
    backend: CountingBackend, clock: Clock, tmp_path: Path
) -> None:
    engine, notifier = make_engine(backend, tmp_path / "bot.db", clock)
    rollout = await begin(engine)
    # The first step is applied at once, and its interval starts.
    assert traffic(backend) == {"blue": 90, "green": 10}
    assert (rollout.status, rollout.step, rollout.applied) == ("running", 0, True)
    assert rollout.interval_start == clock.now
    await engine.tick_once()  # nothing due yet: nothing moves
    assert backend.shifts == [{"blue": 90, "green": 10}]
    await interval(engine, backend, clock)
    assert traffic(backend) == {"blue": 50, "green": 50}
    await interval(engine, backend, clock)
    assert traffic(backend) == {"green": 100}
    done = await engine.store.get(rollout.id)
    assert done is not None and (done.status, done.outcome) == ("done", "promoted")
    assert backend.shifts == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"green": 100}]
    assert [r.verdict for r in done.results] == ["pass", "pass"]
    assert done.results[0].requests == 150 and done.results[0].p99_ms == 60.0
    assert [r.id for r in notifier.done] == [rollout.id]
    assert await engine.store.active_for(EP) is None
    # Every stored transition was shown, on one message (posted once).
    assert notifier.shown[-1].status == "done"
    assert await engine.store.message(rollout.id) == ("C1", "1.000001")


async def test_a_slow_canary_rolls_back_after_the_threshold(
    backend: CountingBackend, clock: Clock, tmp_path: Path
) -> None:
    engine, notifier = make_engine(backend, tmp_path / "bot.db", clock)
    rollout = await begin(engine)
    await interval(engine, backend, clock, p99=900.0)
    assert traffic(backend) == {"blue": 90, "green": 10}  # one failure: the step holds
    await interval(engine, backend, clock, p99=950.0)
    assert traffic(backend) == {"blue": 100}  # rolled back in the same tick
    done = await engine.store.get(rollout.id)
    assert done is not None and (done.status, done.outcome, done.failures) == (
        "done",
        "rolled_back",
        2,
    )
    assert done.reason == "2 of 2 allowed failed checks: P99 950 ms > 500 ms"
    assert notifier.done[-1].reason == done.reason


async def test_errors_roll_back_and_few_requests_hold(
    backend: CountingBackend, clock: Clock, tmp_path: Path
) -> None:
    engine, _ = make_engine(backend, tmp_path / "bot.db", clock)
    rollout = await begin(engine, threshold=1)
    await interval(engine, backend, clock, count=30)  # inconclusive: holds
    held = await engine.store.get(rollout.id)
    assert held is not None and (held.step, held.failures) == (0, 0)
    assert held.results[-1].verdict == "inconclusive"
    backend.answer(EP, "green", count=20, status="424")
    await interval(engine, backend, clock, count=180)  # 20 of 200 failed: 10%
    done = await engine.store.get(rollout.id)
    assert done is not None and done.outcome == "rolled_back"
    assert "errors 10% > 1%" in (done.reason or "")
    assert traffic(backend) == {"blue": 100}


async def test_a_restart_resumes_at_the_step_without_applying_it_twice(
    backend: CountingBackend, clock: Clock, tmp_path: Path
) -> None:
    first, _ = make_engine(backend, tmp_path / "bot.db", clock)
    rollout = await begin(first)
    await interval(first, backend, clock)  # step 2 (50%) applied
    await first.stop()  # gives the lease back
    second, _ = make_engine(backend, tmp_path / "bot.db", clock)
    await second.tick_once()
    await second.tick_once()
    assert backend.shifts == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}]
    await interval(second, backend, clock)
    done = await second.store.get(rollout.id)
    assert done is not None and done.outcome == "promoted"
    steps = [e.text for e in done.events if e.text.startswith("step ")]
    assert steps == ["step 1 of 3: green at 10%", "step 2 of 3: green at 50%"]
    assert len(backend.shifts) == 3


async def test_a_killed_engine_leaves_its_rollout_to_another_after_the_lease(
    backend: CountingBackend, clock: Clock, tmp_path: Path
) -> None:
    first, _ = make_engine(backend, tmp_path / "bot.db", clock)
    rollout = await begin(first, interval=timedelta(seconds=5))
    second, _ = make_engine(backend, tmp_path / "bot.db", clock)
    assert second.settings.lease == timedelta(seconds=20)
    backend.answer(EP, "green", count=150, p99_ms=60.0)
    clock.advance(seconds=6)
    await second.tick_once()  # due, but first's lease still runs: not second's to drive
    held = await second.store.get(rollout.id)
    assert held is not None and held.step == 0 and not held.results
    clock.advance(seconds=15)  # the lease ran out (first never renewed it)
    await second.tick_once()
    assert traffic(backend) == {"blue": 50, "green": 50}


class HoldingBackend(CountingBackend):
    """``hold``: the next traffic change waits for ``release`` (a slow Azure update)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.hold = False
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def set_traffic(
        self,
        endpoint: str,
        traffic: Mapping[str, int] | None = None,
        *,
        mirror_traffic: Mapping[str, int] | None = None,
    ) -> Endpoint:
        if self.hold:
            self.hold = False
            self.entered.set()
            await self.release.wait()
        return await super().set_traffic(endpoint, traffic, mirror_traffic=mirror_traffic)


async def test_a_step_that_outlasts_the_lease_is_not_taken_over(
    backend: CountingBackend, clock: Clock, tmp_path: Path
) -> None:
    slow = HoldingBackend(clock)
    slow.__dict__.update({k: v for k, v in backend.__dict__.items() if k != "clock"})
    first, _ = make_engine(slow, tmp_path / "bot.db", clock, renew_every=0.01)
    second, _ = make_engine(slow, tmp_path / "bot.db", clock, renew_every=0.01)
    rollout = await begin(first)
    slow.answer(EP, "green", count=150, p99_ms=60.0)
    slow.answer(EP, "blue", count=900, p99_ms=50.0)
    clock.advance(seconds=61)
    slow.hold = True
    driving = asyncio.create_task(first.tick_once())
    await asyncio.wait_for(slow.entered.wait(), timeout=10)  # step 2 under way, for minutes
    clock.advance(minutes=3)  # far past the 20 s lease taken when the tick began
    deadline = asyncio.get_running_loop().time() + 10
    while True:  # the driving engine renews its lease while the step runs
        lease = await second.store.lease(rollout.id)
        if lease is not None and lease[0] == first.owner and lease[1] > clock():
            break
        assert asyncio.get_running_loop().time() < deadline, f"lease not renewed: {lease}"
        await asyncio.sleep(0.01)
    await second.tick_once()  # not second's to drive: first holds it
    slow.release.set()
    await asyncio.wait_for(driving, timeout=10)
    await second.tick_once()
    assert slow.shifts == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}]
    stored = await second.store.get(rollout.id)
    assert stored is not None and stored.step == 1


async def test_one_rollout_per_endpoint_and_none_on_a_locked_one(
    backend: CountingBackend, clock: Clock, tmp_path: Path
) -> None:
    engine, _ = make_engine(backend, tmp_path / "bot.db", clock)
    await begin(engine)
    with pytest.raises(RolloutConflictError, match="A rollout of green is running"):
        await begin(engine)
    other, _ = make_engine(backend, tmp_path / "other.db", clock)
    await other.locks.lock(EP, user=ALICE, reason="sale weekend")
    with pytest.raises(EndpointLockedError, match="locked by <@U0ALICE> at .*: sale weekend"):
        await begin(other)


async def test_a_lock_holds_the_step_until_unlocked(
    backend: CountingBackend, clock: Clock, tmp_path: Path
) -> None:
    engine, _ = make_engine(backend, tmp_path / "bot.db", clock)
    rollout = await begin(engine)
    await engine.locks.lock(EP, user=ALICE, reason="incident")
    await interval(engine, backend, clock)
    held = await engine.store.get(rollout.id)
    assert held is not None and held.step == 0 and "locked" in (held.reason or "")
    await engine.locks.unlock(EP)
    await interval(engine, backend, clock)
    assert traffic(backend) == {"blue": 50, "green": 50}


async def test_pause_resume_abort_and_promote(
    backend: CountingBackend, clock: Clock, tmp_path: Path
) -> None:
    engine, _ = make_engine(backend, tmp_path / "bot.db", clock)
    rollout = await begin(engine)
    paused = await engine.pause(rollout.id, user=ALICE)
    assert paused.status == "paused"
    await interval(engine, backend, clock)  # paused: nothing is judged
    assert traffic(backend) == {"blue": 90, "green": 10}
    resumed = await engine.resume(rollout.id, user=ALICE)
    assert resumed.status == "running" and resumed.interval_start == clock.now
    aborted = await engine.abort(rollout.id, user=BOB)
    assert (aborted.status, aborted.outcome) == ("done", "aborted")
    assert traffic(backend) == {"blue": 100}
    again = await begin(engine)
    promoted = await engine.promote(again.id, user=BOB)
    assert (promoted.status, promoted.outcome) == ("done", "promoted")
    assert traffic(backend) == {"green": 100}


async def test_confirm_promotion_asks_once_and_waits(
    backend: CountingBackend, clock: Clock, tmp_path: Path
) -> None:
    engine, notifier = make_engine(backend, tmp_path / "bot.db", clock)
    rollout = await begin(engine, confirm_promotion=True)
    await interval(engine, backend, clock)
    await interval(engine, backend, clock)
    waiting = await engine.store.get(rollout.id)
    assert waiting is not None and waiting.status == "awaiting_promotion"
    assert waiting.promotion_approval == "appr0001"
    assert traffic(backend) == {"blue": 50, "green": 50}
    await engine.tick_once()
    assert len(notifier.promotions) == 1
    await engine.promote(rollout.id, user=BOB)
    assert traffic(backend) == {"green": 100}


async def test_traffic_changed_outside_pauses_it(
    backend: CountingBackend, clock: Clock, tmp_path: Path
) -> None:
    engine, _ = make_engine(backend, tmp_path / "bot.db", clock)
    rollout = await begin(engine)
    await backend.set_traffic(EP, {"blue": 70, "green": 30})
    await interval(engine, backend, clock)
    paused = await engine.store.get(rollout.id)
    assert paused is not None and paused.status == "paused"
    assert "changed outside the rollout" in (paused.reason or "")
    assert traffic(backend) == {"blue": 70, "green": 30}


async def test_a_backend_that_keeps_failing_rolls_back(
    backend: CountingBackend, clock: Clock, tmp_path: Path
) -> None:
    engine, _ = make_engine(backend, tmp_path / "bot.db", clock)
    rollout = await begin(engine)
    backend.fail_traffic = 3
    await interval(engine, backend, clock)  # 50% cannot be set: 3 tries in one tick
    await engine.tick_once()
    done = await engine.store.get(rollout.id)
    assert done is not None and done.outcome == "rolled_back"
    assert "could not be set" in (done.reason or "")
    assert traffic(backend) == {"blue": 100}


async def test_plans_are_checked_before_anything_is_stored(
    backend: CountingBackend, clock: Clock, tmp_path: Path
) -> None:
    engine, notifier = make_engine(backend, tmp_path / "bot.db", clock)
    with pytest.raises(ValidationError, match="No deployment other than green"):
        await backend.set_traffic(EP, {"blue": 0, "green": 100})
        await begin(engine)
    assert await engine.store.active() == [] and notifier.shown == []


async def test_metrics_that_fail_are_told_once_and_the_rollout_waits(
    backend: CountingBackend, clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine, _ = make_engine(backend, tmp_path / "bot.db", clock)
    rollout = await begin(engine)
    backend.metrics_error = BackendUnavailableError("Azure Monitor did not answer.")
    for _ in range(3):
        await interval(engine, backend, clock)
    held = await engine.store.get(rollout.id)
    assert held is not None and held.step == 0 and not held.results
    assert [r.message for r in caplog.records].count(
        f"rollout {rollout.id} on {EP}: Azure Monitor did not answer."
    ) == 1
    backend.metrics_error = None
    await interval(engine, backend, clock)
    assert traffic(backend) == {"blue": 50, "green": 50}
