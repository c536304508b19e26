"""The autoscaler's decisions, with an injected clock and synthetic utilization."""

from __future__ import annotations

from deploy.local.metrics.autoscale_policy import ScalerState, decide
from deploy.types import AutoscalePolicy

POLICY = AutoscalePolicy(
    min_instances=2,
    max_instances=10,
    target_utilization_percentage=70,
    polling_interval=60,
    scale_down_delay=300,
)


def test_scales_up_at_once_to_ceil_of_instances_times_ratio() -> None:
    decision, state = decide(POLICY, ScalerState(), current=2, utilization=140.0, now=0)
    assert (decision.recommended, decision.desired) == (4, 4)
    assert decision.changes
    assert state == ScalerState()
    decision, _ = decide(POLICY, ScalerState(), current=3, utilization=100.0, now=0)
    assert decision.desired == 5  # ceil(3 * 100 / 70) = ceil(4.29)


def test_within_ten_percent_of_the_target_nothing_changes() -> None:
    for utilization in (63.5, 70.0, 76.9):
        decision, _ = decide(POLICY, ScalerState(), current=4, utilization=utilization, now=0)
        assert decision.desired == 4
        assert decision.reason == "within tolerance"
    decision, _ = decide(POLICY, ScalerState(), current=4, utilization=77.5, now=0)
    assert decision.desired == 5


def test_clamped_to_min_and_max() -> None:
    up, _ = decide(POLICY, ScalerState(), current=8, utilization=500.0, now=0)
    assert up.desired == 10
    down_state = ScalerState()
    for t in range(0, 360, 60):  # the last poll is at 300 s: the delay has passed
        down, down_state = decide(POLICY, down_state, current=3, utilization=0.0, now=t)
    assert down.desired == 2


def test_scale_down_waits_for_scale_down_delay_of_lower_recommendations() -> None:
    state = ScalerState()
    desired = []
    # Load falls: utilization 20% on 6 instances recommends ceil(6 * 20 / 70) = 2.
    for t in range(0, 360, 60):
        decision, state = decide(POLICY, state, current=6, utilization=20.0, now=t)
        desired.append(decision.desired)
    assert desired == [6, 6, 6, 6, 6, 2]  # held until 300 s of lower recommendations


def test_scale_down_goes_to_the_highest_recommendation_of_the_delay() -> None:
    state = ScalerState()
    readings = [40.0, 20.0, 20.0, 20.0, 20.0, 20.0]  # 40% -> 4, then 20% -> 2
    for t, utilization in zip(range(0, 360, 60), readings, strict=True):
        decision, state = decide(POLICY, state, current=6, utilization=utilization, now=t)
    assert decision.desired == 4


def test_a_burst_during_the_delay_resets_it() -> None:
    state = ScalerState()
    _, state = decide(POLICY, state, current=6, utilization=20.0, now=0)
    _, state = decide(POLICY, state, current=6, utilization=70.0, now=60)  # back on target
    decision, state = decide(POLICY, state, current=6, utilization=20.0, now=120)
    decision, state = decide(POLICY, state, current=6, utilization=20.0, now=360)
    assert decision.desired == 6  # only 240 s of lower recommendations since the reset
    decision, state = decide(POLICY, state, current=6, utilization=20.0, now=420)
    assert decision.desired == 2
