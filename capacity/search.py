"""The search for a deployment's capacity at its objective: ``SearchPlan`` and ``search``.

A coarse ramp of open-loop steps, each rate ``growth`` times the last, stops at the first
failing step; bisection between the last passing and the first failing rate then narrows
the knee to ``precision``. A step passes when its P99 is within the objective and its
error rate within the budget. The search itself sends nothing: ``measure(rate)`` does
(``capacity.measure.LoadStepper`` on the load-test engine, or any stand-in in tests).

    plan = SearchPlan(objective=Objective(max_p99_ms=200, max_error_rate=0.001),
                      start_rate=10, max_rate=2000, step_seconds=10)
    outcome = await search(plan, measure=stepper.measure)
    outcome.capacity_rps, outcome.limited_by, outcome.steps
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from capacity import messages
from capacity.errors import InvalidSearchError

__all__ = ["LimitedBy", "Objective", "SearchOutcome", "SearchPlan", "Step", "search"]

#: What set the capacity: the P99 objective, the error budget, or ``--max-rate`` (all passed).
LimitedBy = Literal["latency", "errors", "rate_cap"]

#: Below this rate a search that never passed gives up (req/s).
MIN_RATE = 0.5


@dataclass(frozen=True, kw_only=True)
class Objective:
    """P99 at most ``max_p99_ms``; errors (5xx, 408, 424, 429, timeouts, connection errors,
    sends that found no connection) at most ``max_error_rate`` of the requests (a fraction)."""

    max_p99_ms: float
    max_error_rate: float = 0.001

    def __post_init__(self) -> None:
        if not self.max_p99_ms > 0:
            raise InvalidSearchError(
                messages.MUST_BE_POSITIVE.format(option="--max-p99", value=self.max_p99_ms),
                field="max_p99",
            )
        if not 0 <= self.max_error_rate <= 1:
            raise InvalidSearchError(
                messages.ERROR_RATE_RANGE.format(value=self.max_error_rate * 100),
                field="max_error_rate",
            )


@dataclass(frozen=True, kw_only=True)
class Step:
    """One measured step. Latencies in ms (``None``: no response); ``error_rate`` a fraction."""

    offered_rps: float
    achieved_rps: float
    p50_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    error_rate: float
    sent: int
    errors: int
    status_counts: dict[int, int]
    late_fraction: float = 0.0
    stopped_early: bool = False
    passed: bool = False
    #: Which limit it broke (``latency`` or ``errors``), ``None`` when it passed.
    failed_on: Literal["latency", "errors"] | None = None


@dataclass(frozen=True, kw_only=True)
class SearchPlan:
    """The steps a search may take: a ramp from ``start_rate`` by ``growth`` up to ``max_rate``
    (req/s), then bisection until the bracket is within ``precision`` (a fraction) of the
    passing rate, at most ``max_bisections`` steps; each step lasts ``step_seconds``."""

    objective: Objective
    start_rate: float
    max_rate: float
    step_seconds: float
    growth: float = 2.0
    precision: float = 0.05
    max_bisections: int = 6

    def __post_init__(self) -> None:
        for option, value in (
            ("--start-rate", self.start_rate),
            ("--max-rate", self.max_rate),
            ("--step", self.step_seconds),
            ("--precision", self.precision),
        ):
            if not value > 0 or value != value:
                raise InvalidSearchError(
                    messages.MUST_BE_POSITIVE.format(option=option, value=value),
                    field=option.removeprefix("--").replace("-", "_"),
                )
        if self.start_rate > self.max_rate:
            raise InvalidSearchError(
                messages.START_ABOVE_MAX.format(start=self.start_rate, max=self.max_rate),
                field="start_rate",
            )
        if not self.growth > 1:
            raise InvalidSearchError(
                messages.MUST_BE_POSITIVE.format(option="growth - 1", value=self.growth - 1),
                field="growth",
            )

    def ramp(self) -> list[float]:
        """The coarse ramp's rates: start, start × growth, ..., ending at ``max_rate``."""
        rates = [self.start_rate]
        while rates[-1] * self.growth < self.max_rate * (1 - 1e-9):
            rates.append(rates[-1] * self.growth)
        if rates[-1] < self.max_rate:
            rates.append(self.max_rate)
        return [round(r, 2) for r in rates]

    @property
    def bisections(self) -> int:
        """The most bisection steps after the ramp."""
        needed = math.ceil(math.log2(max((self.growth - 1) / self.precision, 1.0)))
        return min(needed, self.max_bisections)

    @property
    def max_steps(self) -> int:
        """The most steps the search takes (a ramp that fails at once also bisects down)."""
        down = math.ceil(math.log2(max(self.start_rate / MIN_RATE, 1.0)))
        return max(len(self.ramp()), down + 1) + self.bisections

    @property
    def max_seconds(self) -> float:
        """The longest the steps may load the deployment (seconds, pauses not counted)."""
        return self.max_steps * self.step_seconds


Measure = Callable[[float], Awaitable[Step]]


@dataclass(frozen=True, kw_only=True)
class SearchOutcome:
    """The capacity found: the highest passing offered rate (0 when none passed)."""

    capacity_rps: float
    limited_by: LimitedBy
    steps: tuple[Step, ...]
    #: The first failing rate above the capacity (``None`` when capped or none failed).
    knee_fail_rps: float | None
    cancelled: bool = False

    @property
    def knee_step(self) -> Step | None:
        """The passing step at the capacity (where utilization and CPU are read)."""
        passing = [s for s in self.steps if s.passed and s.offered_rps == self.capacity_rps]
        return passing[-1] if passing else None


def judge(step: Step, objective: Objective) -> Step:
    """``step`` with ``passed`` and ``failed_on`` set by the objective."""
    from dataclasses import replace

    if step.error_rate > objective.max_error_rate:
        return replace(step, passed=False, failed_on="errors")
    if step.p99_ms is None or step.p99_ms > objective.max_p99_ms or step.stopped_early:
        return replace(step, passed=False, failed_on="latency")
    return replace(step, passed=True, failed_on=None)


async def search(
    plan: SearchPlan,
    *,
    measure: Measure,
    cancelled: Callable[[], bool] = lambda: False,
    on_step: Callable[[Step], Awaitable[None]] | None = None,
) -> SearchOutcome:
    """Ramp, then bisect; ``measure(rate)`` runs one step and returns it judged or not (it is
    judged here). ``cancelled()`` is asked between steps: when true the search stops with
    what it has (``cancelled=True``). ``on_step`` is awaited with each judged step."""
    steps: list[Step] = []

    async def run(rate: float) -> Step:
        step = judge(await measure(rate), plan.objective)
        steps.append(step)
        if on_step is not None:
            await on_step(step)
        return step

    good: Step | None = None
    bad: Step | None = None
    for rate in plan.ramp():
        if cancelled():
            return _outcome(good, bad, steps, cancelled=True)
        step = await run(rate)
        if not step.passed:
            bad = step
            break
        good = step
    if bad is None:
        assert good is not None
        return SearchOutcome(
            capacity_rps=good.offered_rps,
            limited_by="rate_cap",
            steps=tuple(steps),
            knee_fail_rps=None,
        )
    # The very first step failed: halve down until one passes (or the rate is negligible).
    while good is None:
        rate = round(bad.offered_rps / plan.growth, 2)
        if rate < MIN_RATE:
            return _outcome(None, bad, steps, cancelled=False)
        if cancelled():
            return _outcome(None, bad, steps, cancelled=True)
        step = await run(rate)
        if step.passed:
            good = step
        else:
            bad = step
    for _ in range(plan.bisections):
        low, high = good.offered_rps, bad.offered_rps
        if (high - low) / low <= plan.precision:
            break
        if cancelled():
            return _outcome(good, bad, steps, cancelled=True)
        step = await run(round((low + high) / 2, 2))
        if step.passed:
            good = step
        else:
            bad = step
    return _outcome(good, bad, steps, cancelled=False)


def _outcome(
    good: Step | None, bad: Step | None, steps: list[Step], *, cancelled: bool
) -> SearchOutcome:
    limited: LimitedBy = "latency"
    if bad is not None and bad.failed_on == "errors":
        limited = "errors"
    return SearchOutcome(
        capacity_rps=good.offered_rps if good is not None else 0.0,
        limited_by=limited,
        steps=tuple(steps),
        knee_fail_rps=bad.offered_rps if bad is not None else None,
        cancelled=cancelled,
    )
