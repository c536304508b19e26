"""The rollout state machine on fixed times: every transition, and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deploy.metrics_window import Reading
from deploy.types import MinuteMetrics
from rollouts import RolloutStateError, judge, target_weights
from rollouts import machine as m
from rollouts.spec import RolloutSpec
from tests.rollouts.kit import ALICE, BOB, spec

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def fresh(rollout_spec: RolloutSpec | None = None) -> m.Rollout:
    return m.new_rollout(
        id="r1",
        endpoint="pr",
        spec=rollout_spec or spec(),
        baseline={"blue": 100, "green": 0},
        requested_by=ALICE,
        approved_by=BOB,
        channel="C1",
        now=T0,
    )


def observing(rollout: m.Rollout, at: datetime) -> m.Rollout:
    return m.started_interval(m.applied(rollout, now=at), now=at, readings={})


def verdict(
    rollout: m.Rollout, at: datetime, *, requests: int = 200, p99: float = 80.0, failed: int = 0
) -> m.Rollout:
    canary = MinuteMetrics(
        timestamp=at,
        requests=requests,
        requests_by_status={"200": requests - failed, "424": failed},
        latency_p99_ms=p99,
    )
    result = judge(
        rollout.spec,
        canary=canary,
        baseline=None,
        step=rollout.step,
        weight=rollout.weight,
        start=rollout.interval_start or at,
        end=at,
    )
    return m.judged(rollout, result, now=at, readings={"green": Reading(at=at)})


def test_steps_move_the_canary_and_keep_the_rest_in_proportion() -> None:
    rollout = m.new_rollout(
        id="r",
        endpoint="pr",
        spec=spec(steps=(10, 50, 100)),
        baseline={"blue": 60, "red": 40},
        requested_by=ALICE,
        approved_by=None,
        channel=None,
        now=T0,
    )
    assert target_weights(rollout) == {"blue": 54, "green": 10, "red": 36}
    rollout = verdict(observing(rollout, T0), T0 + MINUTE)
    assert rollout.step == 1 and not rollout.applied
    assert target_weights(rollout) == {"blue": 30, "green": 50, "red": 20}


def test_passing_every_step_promotes() -> None:
    rollout = observing(fresh(), T0)
    assert not m.due(rollout, T0 + MINUTE / 2)
    rollout = verdict(rollout, T0 + MINUTE)  # 10% passes -> 50%
    rollout = verdict(observing(rollout, T0 + MINUTE), T0 + 2 * MINUTE)  # 50% passes -> 100%
    assert (rollout.status, rollout.outcome, rollout.weight) == ("finishing", "promoted", 100)
    assert target_weights(rollout) == {"green": 100}
    done = m.applied(rollout, now=T0 + 2 * MINUTE)
    assert done.status == "done" and not done.active
    assert [e.text for e in done.events] == [
        "started: green in steps of 10%, 50%, 100%",
        "step 1 of 3: green at 10%",
        "step 2 of 3: green at 50%",
        "promoted: green takes 100%",
    ]


def test_failed_checks_count_until_the_threshold_then_roll_back() -> None:
    rollout = verdict(observing(fresh(), T0), T0 + MINUTE, p99=900.0)
    assert (rollout.status, rollout.failures, rollout.step) == ("running", 1, 0)
    assert rollout.interval_start == T0 + MINUTE  # the next interval starts at once
    rollout = verdict(rollout, T0 + 2 * MINUTE, failed=20)
    assert (rollout.status, rollout.outcome) == ("finishing", "rolled_back")
    assert target_weights(rollout) == {"blue": 100}
    assert rollout.reason == "2 of 2 allowed failed checks: errors 10% > 1%"


def test_inconclusive_intervals_hold_the_step() -> None:
    rollout = verdict(observing(fresh(), T0), T0 + MINUTE, requests=20)
    assert (rollout.status, rollout.step, rollout.failures) == ("running", 0, 0)
    assert rollout.results[-1].verdict == "inconclusive"


def test_a_lock_holds_a_passing_step_but_not_a_rollback() -> None:
    rollout = observing(fresh(spec(threshold=1)), T0)
    canary = MinuteMetrics(
        timestamp=T0, requests=200, requests_by_status={"200": 200}, latency_p99_ms=80.0
    )
    passed = judge(
        rollout.spec, canary=canary, baseline=None, step=0, weight=10, start=T0, end=T0 + MINUTE
    )
    held = m.judged(rollout, passed, now=T0 + MINUTE, readings={}, locked=True)
    assert (held.status, held.step) == ("running", 0)
    slow = MinuteMetrics(
        timestamp=T0, requests=200, requests_by_status={"200": 200}, latency_p99_ms=900.0
    )
    failed = judge(
        rollout.spec, canary=slow, baseline=None, step=0, weight=10, start=T0, end=T0 + MINUTE
    )
    assert (
        m.judged(rollout, failed, now=T0 + MINUTE, readings={}, locked=True).outcome
        == "rolled_back"
    )


def test_confirm_promotion_waits_before_the_last_step() -> None:
    rollout = observing(fresh(spec(confirm_promotion=True)), T0)
    rollout = verdict(rollout, T0 + MINUTE)
    rollout = verdict(observing(rollout, T0 + MINUTE), T0 + 2 * MINUTE)
    assert (rollout.status, rollout.step) == ("awaiting_promotion", 1)
    rollout = m.await_promotion_request(rollout, "appr1")
    promoted = m.promote(rollout, user=BOB, now=T0 + 3 * MINUTE)
    assert (promoted.status, promoted.outcome, promoted.weight) == ("finishing", "promoted", 100)


def test_pause_resume_abort() -> None:
    rollout = observing(fresh(), T0)
    paused = m.pause(rollout, user=ALICE, now=T0 + MINUTE / 2)
    assert paused.status == "paused" and paused.interval_start is None
    assert not m.due(paused, T0 + 5 * MINUTE)
    with pytest.raises(RolloutStateError, match="Cannot pause the rollout on pr: it is paused"):
        m.pause(paused, user=ALICE, now=T0 + MINUTE)
    resumed = m.resume(paused, user=BOB, now=T0 + MINUTE)
    assert resumed.status == "running" and resumed.applied and resumed.interval_start is None
    aborted = m.abort(resumed, user=BOB, now=T0 + MINUTE)
    assert (aborted.status, aborted.outcome, aborted.reason) == (
        "finishing",
        "aborted",
        "aborted by <@U0BOB>",
    )
    assert target_weights(aborted) == {"blue": 100}
    done = m.applied(aborted, now=T0 + MINUTE)
    for action in (m.pause, m.resume, m.abort, m.promote):
        with pytest.raises(RolloutStateError, match="it is done"):
            action(done, user=ALICE, now=T0 + 2 * MINUTE)


def test_three_failed_attempts_to_set_the_traffic_roll_back() -> None:
    rollout = fresh()
    for _ in range(2):
        rollout = m.apply_failed(rollout, now=T0, error="the platform is down")
        assert rollout.status == "running"
    assert [e.text for e in rollout.events].count(
        "could not set the traffic: the platform is down"
    ) == 1
    rollout = m.apply_failed(rollout, now=T0, error="the platform is down")
    assert (rollout.status, rollout.outcome) == ("finishing", "rolled_back")
    for _ in range(3):
        rollout = m.apply_failed(rollout, now=T0, error="still down")
    assert rollout.status == "done" and "set the traffic by hand" in (rollout.reason or "")


def test_a_rollout_survives_json() -> None:
    rollout = verdict(observing(fresh(spec(max_p99_increase=10.0)), T0), T0 + MINUTE, p99=900.0)
    again = m.Rollout.from_json(
        id=rollout.id, endpoint=rollout.endpoint, version=3, data=rollout.to_json()
    )
    assert again == m.Rollout(**{**rollout.__dict__, "version": 3})
