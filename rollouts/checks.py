"""Judging one interval of a canary: its requests, error rate and P99 against the limits.

A pure function of what the canary (and the baseline) answered during the interval:

- fewer than ``min_requests`` requests: **inconclusive** (the step holds);
- else **fail** when any check fails: P99 above ``max_p99_ms``, failed requests above
  ``max_error_rate`` percent (5xx, 408 and 424: what a failing model becomes at the
  scoring URI), or, when ``max_p99_increase`` is set, P99 more than that many percent
  above the baseline's (skipped when the baseline answered nothing);
- else **pass**.

    result = judge(spec, canary=grown, baseline=base, step=1, weight=25, start=t0, end=t1)
    result.verdict      # 'pass' | 'fail' | 'inconclusive'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from base.numbers import format_number
from deploy.types import MinuteMetrics
from rollouts import messages
from rollouts.spec import RolloutSpec

__all__ = ["Check", "CheckName", "IntervalResult", "Verdict", "judge"]

Verdict = Literal["pass", "fail", "inconclusive"]
CheckName = Literal["requests", "p99", "error_rate", "p99_vs_baseline"]


@dataclass(frozen=True, kw_only=True)
class Check:
    """One check: its value, its limit, and whether it held (``None``: no data to judge)."""

    name: CheckName
    value: float | None
    limit: float
    ok: bool | None

    def describe(self) -> str:
        """``P99 812 ms > 500 ms``: the value against the limit."""
        if self.value is None:
            return messages.CHECK_NO_DATA[self.name].format(limit=_num(self.limit))
        template = messages.CHECK_OK[self.name] if self.ok else messages.CHECK_FAILED[self.name]
        return template.format(value=_num(self.value), limit=_num(self.limit))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {"name": self.name, "value": self.value, "limit": self.limit, "ok": self.ok}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Check:
        """Rebuild from ``to_json``'s output."""
        value, ok = data.get("value"), data.get("ok")
        return cls(
            name=data["name"],
            value=None if value is None else float(value),
            limit=float(data["limit"]),
            ok=None if ok is None else bool(ok),
        )


@dataclass(frozen=True, kw_only=True)
class IntervalResult:
    """What one interval of one step showed."""

    step: int
    weight: int
    start: datetime
    end: datetime
    requests: int
    failed: int
    p99_ms: float | None
    baseline_p99_ms: float | None
    checks: tuple[Check, ...]
    verdict: Verdict

    @property
    def error_rate(self) -> float | None:
        """Failed requests in percent (``None`` without requests)."""
        return 100.0 * self.failed / self.requests if self.requests else None

    def failed_checks(self) -> tuple[Check, ...]:
        """The limits that did not hold (too few requests is not one: it is inconclusive)."""
        return tuple(c for c in self.checks if c.ok is False and c.name != "requests")

    def summary(self) -> str:
        """Each check with its value and limit, ``; ``-separated."""
        return "; ".join(check.describe() for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {
            "step": self.step,
            "weight": self.weight,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "requests": self.requests,
            "failed": self.failed,
            "p99_ms": self.p99_ms,
            "baseline_p99_ms": self.baseline_p99_ms,
            "checks": [check.to_json() for check in self.checks],
            "verdict": self.verdict,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IntervalResult:
        """Rebuild from ``to_json``'s output."""
        p99, base = data.get("p99_ms"), data.get("baseline_p99_ms")
        return cls(
            step=int(data["step"]),
            weight=int(data["weight"]),
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            requests=int(data["requests"]),
            failed=int(data["failed"]),
            p99_ms=None if p99 is None else float(p99),
            baseline_p99_ms=None if base is None else float(base),
            checks=tuple(Check.from_json(c) for c in data.get("checks") or ()),
            verdict=data["verdict"],
        )


def judge(
    spec: RolloutSpec,
    *,
    canary: MinuteMetrics,
    baseline: MinuteMetrics | None,
    step: int,
    weight: int,
    start: datetime,
    end: datetime,
) -> IntervalResult:
    """The verdict on one interval (see the module docstring)."""
    requests = canary.requests
    failed = canary.failures()
    p99 = canary.latency_p99_ms if requests else None
    enough = requests >= spec.min_requests
    checks: list[Check] = [
        Check(name="requests", value=float(requests), limit=float(spec.min_requests), ok=enough),
        Check(name="p99", value=p99, limit=spec.max_p99_ms, ok=_at_most(p99, spec.max_p99_ms)),
    ]
    rate = 100.0 * failed / requests if requests else None
    checks.append(
        Check(
            name="error_rate",
            value=rate,
            limit=spec.max_error_rate,
            ok=_at_most(rate, spec.max_error_rate),
        )
    )
    base_p99 = baseline.latency_p99_ms if baseline is not None and baseline.requests else None
    if spec.max_p99_increase is not None:
        increase = None
        if p99 is not None and base_p99:
            increase = 100.0 * (p99 - base_p99) / base_p99
        checks.append(
            Check(
                name="p99_vs_baseline",
                value=increase,
                limit=spec.max_p99_increase,
                ok=_at_most(increase, spec.max_p99_increase),
            )
        )
    verdict: Verdict
    if not enough or p99 is None:
        verdict = "inconclusive"
    elif any(check.ok is False for check in checks):
        verdict = "fail"
    else:
        verdict = "pass"
    return IntervalResult(
        step=step,
        weight=weight,
        start=start,
        end=end,
        requests=requests,
        failed=failed,
        p99_ms=p99,
        baseline_p99_ms=base_p99,
        checks=tuple(checks),
        verdict=verdict,
    )


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _num(value: float) -> str:
    if abs(value) >= 100 or value == int(value):
        return f"{value:.0f}"
    return format_number(value, digits=2) if abs(value) < 1 else f"{value:.1f}"
