"""Checking a rollout against the endpoint before it starts: what it will do, step by step.

plan = await plan_rollout(backend, "product-recommender", spec)
plan.step_weights[0]      # {'blue': 90, 'green': 10}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deploy.backend import Backend
from deploy.errors import ValidationError
from deploy.rules import redistribute
from rollouts import messages
from rollouts.spec import RolloutSpec

__all__ = ["RolloutPlan", "plan_rollout"]


@dataclass(frozen=True, kw_only=True)
class RolloutPlan:
    """A rollout checked against the endpoint: the split now, and the split at each step."""

    endpoint: str
    spec: RolloutSpec
    current: Mapping[str, int]
    step_weights: tuple[Mapping[str, int], ...]
    #: The baseline deployment the canary is compared to (the one with the most traffic).
    primary: str

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (stored with the rollout's approval request)."""
        return {
            "endpoint": self.endpoint,
            "spec": self.spec.to_json(),
            "current": dict(self.current),
            "step_weights": [dict(weights) for weights in self.step_weights],
            "primary": self.primary,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RolloutPlan:
        """Rebuild from ``to_json``'s output."""
        return cls(
            endpoint=str(data["endpoint"]),
            spec=RolloutSpec.from_json(data["spec"]),
            current={str(k): int(v) for k, v in dict(data["current"]).items()},
            step_weights=tuple(
                {str(k): int(v) for k, v in dict(weights).items()}
                for weights in data["step_weights"]
            ),
            primary=str(data["primary"]),
        )

    @property
    def rollback_weights(self) -> dict[str, int]:
        """The split a rollback returns to: the canary's share back to the others."""
        return redistribute(self.current, self.spec.canary, 0)


async def plan_rollout(backend: Backend, endpoint: str, spec: RolloutSpec) -> RolloutPlan:
    """``ValidationError`` / ``NotFoundError`` naming what stands in the way."""
    found = await backend.get_endpoint(endpoint)
    await backend.get_deployment(endpoint, spec.canary)
    if found.mirror_traffic.get(spec.canary, 0) > 0:
        raise ValidationError(messages.CANARY_MIRRORED.format(canary=spec.canary))
    current = {name: weight for name, weight in found.traffic.items() if weight > 0}
    others = sorted((-w, n) for n, w in current.items() if n != spec.canary)
    if not others:
        raise ValidationError(messages.NO_BASELINE.format(endpoint=endpoint, canary=spec.canary))
    if current.get(spec.canary, 0) > spec.steps[0]:
        raise ValidationError(
            messages.CANARY_ALREADY_AT.format(
                canary=spec.canary, weight=current[spec.canary], first=spec.steps[0]
            )
        )
    weights = tuple(redistribute(current, spec.canary, step) for step in spec.steps)
    return RolloutPlan(
        endpoint=endpoint, spec=spec, current=current, step_weights=weights, primary=others[0][1]
    )
