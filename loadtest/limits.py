"""The caps every plan must respect, from the configuration: ``Limits``.

Usage::

    limits = Limits(max_rate=500, max_duration=120, allow_only_loopback=True)   # seconds
    limits.check(plan)          # LimitExceededError / TargetNotAllowedError, naming the option

``run_load_test`` checks its plan against its limits before sending anything, so
no plan runs unbounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from base.durations import format_duration
from base.numbers import format_number
from loadtest import messages
from loadtest.errors import LimitExceededError, TargetNotAllowedError
from loadtest.plan import LoadTestPlan, Mode

__all__ = ["Limits"]


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Caps every plan must respect (from the configuration).

    ``allow_only_loopback`` is True by default: the local backend's setting. An
    Azure backend passes False. ``max_duration`` is in seconds (shown as ``5m``).
    """

    max_requests: int = 100_000
    max_duration: float = 300.0
    max_rate: float = 10_000.0
    max_concurrency: int = 256
    allow_only_loopback: bool = True

    def check(self, plan: LoadTestPlan) -> None:
        """Raise ``LimitExceededError`` or ``TargetNotAllowedError`` naming what is wrong."""
        caps: tuple[tuple[str, str, float | None, float], ...] = (
            ("--requests", "requests", plan.requests, self.max_requests),
            ("--concurrency", "concurrency", plan.concurrency, self.max_concurrency),
            ("--rate", "rate", plan.rate, self.max_rate),
            ("--duration", "duration", plan.duration, self.max_duration),
        )
        for option, name, value, limit in caps:
            if value is not None and value > limit:
                raise LimitExceededError(_over_limit(option, value, limit), field=name, limit=limit)
        if plan.mode is Mode.OPEN and plan.planned_requests > self.max_requests:
            assert plan.rate is not None and plan.duration is not None
            raise LimitExceededError(
                messages.OPEN_TOTAL_OVER_LIMIT.format(
                    rate=format_number(plan.rate),
                    duration=format_number(plan.duration),
                    total=plan.planned_requests,
                    limit=self.max_requests,
                ),
                field="rate",
                limit=self.max_requests,
            )
        target = plan.target
        if self.allow_only_loopback and not target.is_loopback:
            raise TargetNotAllowedError(messages.NOT_LOOPBACK.format(host=target.host))

    def time_cap(self, plan: LoadTestPlan) -> float:
        """How long the run may last: the plan's duration, else the configured maximum."""
        return plan.duration if plan.duration is not None else self.max_duration


def _over_limit(option: str, value: float, limit: float) -> str:
    if option == "--duration":  # in the grammar --duration is typed in: 10m, 5m
        return messages.DURATION_OVER_LIMIT.format(
            value=format_duration(timedelta(seconds=value)),
            limit=format_duration(timedelta(seconds=limit)),
        )
    return messages.OVER_LIMIT.format(
        option=option, value=format_number(value), limit=format_number(limit)
    )
