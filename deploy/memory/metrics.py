"""The memory backend's metrics: every answer counted in its minute, with its latency.

Rows are per deployment and minute, as Azure Monitor's points are; a window's
total adds the rows and takes its percentiles over every latency in them.

    answers = Answers()
    answers.count("ep", "blue", at=now, status="200", latency_ms=1.5)
    rows = answers.deployment_metrics("ep", "blue", start=start, end=end)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from deploy.types import DeploymentMetrics, MinuteMetrics

__all__ = ["Answers", "minute_of"]


def minute_of(moment: datetime) -> datetime:
    """The start of ``moment``'s minute."""
    return moment.replace(second=0, microsecond=0)


def _percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted values (``None`` without values)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class _Row:
    """The answers of one deployment in one minute."""

    by_status: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)


def _metrics(timestamp: datetime, rows: Sequence[_Row]) -> MinuteMetrics:
    by_status: dict[str, int] = {}
    for row in rows:
        for status, count in row.by_status.items():
            by_status[status] = by_status.get(status, 0) + count
    latencies = sorted(v for row in rows for v in row.latencies_ms)
    return MinuteMetrics(
        timestamp=timestamp,
        requests=sum(by_status.values()),
        requests_by_status=by_status,
        latency_p50_ms=_percentile(latencies, 0.50),
        latency_p90_ms=_percentile(latencies, 0.90),
        latency_p95_ms=_percentile(latencies, 0.95),
        latency_p99_ms=_percentile(latencies, 0.99),
    )


class Answers:
    """Scoring answers per (endpoint, deployment) and minute."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], dict[datetime, _Row]] = {}

    def count(
        self, endpoint: str, deployment: str, *, at: datetime, status: str, latency_ms: float
    ) -> None:
        """Record one answer given ``at`` with ``status`` after ``latency_ms``."""
        rows = self._rows.setdefault((endpoint, deployment), {})
        row = rows.setdefault(minute_of(at), _Row())
        row.by_status[status] = row.by_status.get(status, 0) + 1
        row.latencies_ms.append(latency_ms)

    def forget(self, endpoint: str, deployment: str) -> None:
        """Drop a deleted deployment's rows."""
        self._rows.pop((endpoint, deployment), None)

    def deployment_metrics(
        self, endpoint: str, deployment: str, *, start: datetime, end: datetime
    ) -> DeploymentMetrics:
        """The rows of the minutes in ``[start, end)`` and their total."""
        rows = self._rows.get((endpoint, deployment), {})
        inside = sorted((t, row) for t, row in rows.items() if start <= t < end)
        return DeploymentMetrics(
            deployment=deployment,
            minutes=tuple(_metrics(t, [row]) for t, row in inside),
            window=_metrics(start, [row for _, row in inside]),
        )
