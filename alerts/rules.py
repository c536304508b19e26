"""Alert rules: what is measured, against which threshold, for how long.

rule = Rule(kind="latency_p99", threshold=500, duration=timedelta(minutes=3))
rule.measure(window_metrics)   # -> the window's P99 in ms, or None without data
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from deploy.types import MinuteMetrics

__all__ = ["DEFAULT_RULES", "Rule", "RuleKind"]

RuleKind = Literal["latency_p99", "error_rate", "no_traffic"]


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One condition watched on every deployment of an endpoint.

    - ``latency_p99``: RequestLatency_P99 above ``threshold`` milliseconds;
    - ``error_rate``: 5xx (and 4xx when ``include_4xx``) above ``threshold`` percent
      of the requests (no requests, no error rate);
    - ``no_traffic``: no request at all (``threshold`` is ignored).
    """

    kind: RuleKind
    threshold: float = 0.0
    duration: timedelta = timedelta(minutes=3)
    include_4xx: bool = False

    def measure(self, metrics: MinuteMetrics) -> float | None:
        """The rule's value over ``metrics``; ``None`` when there is nothing to judge."""
        if self.kind == "latency_p99":
            return metrics.latency_p99_ms
        if self.kind == "no_traffic":
            return float(metrics.requests)
        if metrics.requests == 0:
            return None
        errors = metrics.errors_5xx + (metrics.errors_4xx if self.include_4xx else 0)
        return 100.0 * errors / metrics.requests

    def breached(self, value: float | None) -> bool:
        """True when ``value`` (from ``measure``) violates the rule."""
        if value is None:
            return False
        if self.kind == "no_traffic":
            return value == 0
        return value > self.threshold

    def describe(self) -> str:
        """The rule in words, e.g. ``P99 latency > 500 ms for 3m``."""
        span = _span(self.duration)
        if self.kind == "latency_p99":
            return f"P99 latency > {self.threshold:g} ms for {span}"
        if self.kind == "error_rate":
            which = "5xx+4xx" if self.include_4xx else "5xx"
            return f"error rate ({which}) > {self.threshold:g}% for {span}"
        return f"no traffic for {span}"

    def unit(self) -> str:
        """The unit of the rule's value."""
        return {"latency_p99": "ms", "error_rate": "%", "no_traffic": "requests"}[self.kind]


def _span(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


#: The defaults: P99 above 500 ms for 3 minutes, errors above 1% for 2 minutes.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(kind="latency_p99", threshold=500, duration=timedelta(minutes=3)),
    Rule(kind="error_rate", threshold=1.0, duration=timedelta(minutes=2)),
)
