"""Alert rules: what is measured, against which threshold, for how long.

rule = Rule(kind="latency_p99", threshold=500, duration=timedelta(minutes=3))
rule.measure(window_metrics)   # -> the window's P99 in ms, or None without data
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from alerts import messages
from base.durations import format_duration
from base.numbers import format_number
from deploy.types import MODEL_FAILURES, MinuteMetrics

__all__ = ["DEFAULT_RULES", "MODEL_FAILURES", "Rule", "RuleKind"]

RuleKind = Literal["latency_p99", "error_rate", "no_traffic"]


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One condition watched on every deployment of an endpoint.

    - ``latency_p99``: RequestLatency_P99 above ``threshold`` milliseconds;
    - ``error_rate``: failed requests above ``threshold`` percent of the requests (no
      requests, no error rate). Failed: 5xx, and the endpoint's answers for a failing
      model, 424 (the model answered non-200) and 408 (the model timed out), which are
      what a model's own 500 becomes at the scoring URI (``MODEL_FAILURES``); every
      other 4xx too when ``include_4xx``;
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
        return 100.0 * self.errors(metrics) / metrics.requests

    def errors(self, metrics: MinuteMetrics) -> int:
        """How many of ``metrics``' requests count as failed for an ``error_rate`` rule."""
        return metrics.failures(include_4xx=self.include_4xx)

    def breached(self, value: float | None) -> bool:
        """True when ``value`` (from ``measure``) violates the rule."""
        if value is None:
            return False
        if self.kind == "no_traffic":
            return value == 0
        return value > self.threshold

    def describe(self) -> str:
        """The rule in words, e.g. ``P99 latency > 500 ms for 3m``."""
        span = format_duration(self.duration)
        if self.kind == "latency_p99":
            return f"P99 latency > {format_number(self.threshold)} ms for {span}"
        if self.kind == "error_rate":
            which = "5xx+4xx" if self.include_4xx else "5xx, 408, 424"
            return f"error rate ({which}) > {format_number(self.threshold)}% for {span}"
        return f"no traffic for {span}"

    def unit(self) -> str:
        """The unit of the rule's value."""
        return {"latency_p99": "ms", "error_rate": "%", "no_traffic": "requests"}[self.kind]

    def label(self) -> str:
        """What is measured, e.g. ``P99 latency``."""
        return messages.RULE_LABELS[self.kind]

    def format_value(self, value: float | None) -> str:
        """A value of this rule for people, e.g. ``742 ms``, ``3.2%``, ``0 requests``."""
        if value is None:
            return messages.NO_DATA
        if self.kind == "latency_p99":
            return f"{value:,.0f} ms"
        if self.kind == "error_rate":
            return f"{format_number(value, digits=3)}%"
        return f"{value:,.0f} requests"

    def format_threshold(self) -> str:
        """The threshold for people, e.g. ``500 ms``; for ``no_traffic``, ``no requests``."""
        if self.kind == "no_traffic":
            return messages.NO_REQUESTS
        return self.format_value(self.threshold)


#: The defaults: P99 above 500 ms for 3 minutes, errors above 1% for 2 minutes.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(kind="latency_p99", threshold=500, duration=timedelta(minutes=3)),
    Rule(kind="error_rate", threshold=1.0, duration=timedelta(minutes=2)),
)
