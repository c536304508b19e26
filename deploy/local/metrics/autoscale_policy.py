"""Target-utilization autoscaling, as a pure function of (policy, state, sample, now).

Every ``polling_interval`` the platform feeds the interval's average utilization
(in-flight requests / (max_concurrent_requests_per_instance x instances), or CPU,
as a percentage) and applies the decision:

- recommended = ceil(instances x utilization / target), clamped to [min, max];
- within a 10% tolerance of the target nothing changes;
- a higher recommendation applies at once;
- a lower one applies only after ``scale_down_delay`` seconds of lower
  recommendations, and then to the highest of them (no flapping).

    decision, state = decide(policy, ScalerState(), current=2, utilization=140.0, now=t)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from deploy.types import AutoscalePolicy

__all__ = ["TOLERANCE", "ScaleDecision", "ScalerState", "decide"]

#: Ratios of utilization to target within this distance of 1.0 change nothing.
TOLERANCE = 0.10


@dataclass(frozen=True, kw_only=True)
class ScalerState:
    """What the autoscaler remembers between polls: the run of lower recommendations."""

    lower_since: float | None = None
    lower_recommendations: tuple[int, ...] = field(default_factory=tuple)


@dataclass(frozen=True, kw_only=True)
class ScaleDecision:
    """One poll's outcome, with its inputs (logged and shown in metrics)."""

    at: float
    current: int
    utilization: float
    target: int
    recommended: int
    desired: int
    reason: str

    @property
    def changes(self) -> bool:
        """True when the instance count should change."""
        return self.desired != self.current


def decide(
    policy: AutoscalePolicy,
    state: ScalerState,
    *,
    current: int,
    utilization: float,
    now: float,
) -> tuple[ScaleDecision, ScalerState]:
    """The decision for this poll and the state to keep for the next one."""
    target = policy.target_utilization_percentage
    ratio = utilization / target
    raw = current if abs(ratio - 1.0) <= TOLERANCE else math.ceil(current * ratio)
    recommended = min(max(raw, policy.min_instances), policy.max_instances)

    def result(
        desired: int, reason: str, next_state: ScalerState
    ) -> tuple[ScaleDecision, ScalerState]:
        decision = ScaleDecision(
            at=now,
            current=current,
            utilization=utilization,
            target=target,
            recommended=recommended,
            desired=desired,
            reason=reason,
        )
        return decision, next_state

    if recommended > current:
        return result(recommended, "scale up: utilization above target", ScalerState())
    if recommended == current:
        if abs(ratio - 1.0) <= TOLERANCE:
            reason = "within tolerance"
        elif raw != current:
            reason = "at the policy's bounds"
        else:
            reason = "no change once rounded up"
        return result(current, reason, ScalerState())
    since = state.lower_since if state.lower_since is not None else now
    lower = (*state.lower_recommendations, recommended)
    waited = now - since
    if waited < policy.scale_down_delay:
        left = policy.scale_down_delay - waited
        return result(
            current,
            f"scale down held: {left:.0f}s of scale_down_delay left",
            ScalerState(lower_since=since, lower_recommendations=lower),
        )
    return result(
        max(lower), "scale down: utilization below target for scale_down_delay", ScalerState()
    )
