"""What a deployment answered between two readings of its per-minute metrics.

Backends report metrics per minute (Azure Monitor's grain; the local router's too), and
a minute's row grows while the minute runs (and, on Azure, for a few minutes after, as
data arrives late). Alerts and rollouts judge spans shorter or other than whole
minutes, so they keep a ``Reading`` of the rows' counts and later ask what grew since:

- **counts** (requests, by status code) are exact: the growth of every row;
- **P99 latency** is the highest RequestLatency_P99 among the rows that grew, i.e. of
  the minute(s) in which the span's requests were answered (percentiles cannot be
  subtracted; a minute's P99 is the finest one the backends give);
- no request in the span means no data: no latency.

    before = Reading.of(snapshot.deployments["green"].minutes, at=start)
    ...
    grown = growth(later.deployments["green"].minutes, before, now=end)
    grown.requests, grown.latency_p99_ms
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deploy.types import MinuteMetrics

__all__ = ["Reading", "growth", "total"]

#: A row's counts: (requests, requests by status code).
Counts = tuple[int, Mapping[str, int]]


@dataclass(frozen=True)
class Reading:
    """The counts of each per-minute row at one moment."""

    at: datetime
    rows: Mapping[datetime, Counts] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Iterable[MinuteMetrics], *, at: datetime) -> Reading:
        """The counts of ``rows`` as read at ``at``."""
        counts = {r.timestamp: (r.requests, dict(r.requests_by_status)) for r in rows}
        return cls(at=at, rows=counts)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (stored with a rollout)."""
        return {
            "at": self.at.isoformat(),
            "rows": {when.isoformat(): [n, dict(codes)] for when, (n, codes) in self.rows.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reading:
        """Rebuild from ``to_json``'s output."""
        rows: dict[datetime, Counts] = {}
        for when, (requests, codes) in dict(data.get("rows") or {}).items():
            rows[datetime.fromisoformat(when)] = (
                int(requests),
                {str(k): int(v) for k, v in dict(codes).items()},
            )
        return cls(at=datetime.fromisoformat(str(data["at"])), rows=rows)


def growth(rows: Iterable[MinuteMetrics], since: Reading, *, now: datetime) -> MinuteMetrics:
    """Requests answered since ``since``; P99 the highest of the minutes that grew."""
    requests = 0
    by_status: dict[str, int] = {}
    latencies: list[float] = []
    for row in rows:
        before_requests, before_status = since.rows.get(row.timestamp, (0, {}))
        grown = row.requests - before_requests
        if grown <= 0:
            continue
        requests += grown
        for code, count in row.requests_by_status.items():
            more = count - before_status.get(code, 0)
            if more > 0:
                by_status[code] = by_status.get(code, 0) + more
        if row.latency_p99_ms is not None:
            latencies.append(row.latency_p99_ms)
    return _window(requests, by_status, latencies, now)


def total(rows: Iterable[MinuteMetrics], *, now: datetime) -> MinuteMetrics:
    """The rows added up; P99 the highest of the rows with requests."""
    requests = 0
    by_status: dict[str, int] = {}
    latencies: list[float] = []
    for row in rows:
        requests += row.requests
        for code, count in row.requests_by_status.items():
            by_status[code] = by_status.get(code, 0) + count
        if row.requests and row.latency_p99_ms is not None:
            latencies.append(row.latency_p99_ms)
    return _window(requests, by_status, latencies, now)


def _window(
    requests: int, by_status: Mapping[str, int], latencies: list[float], now: datetime
) -> MinuteMetrics:
    return MinuteMetrics(
        timestamp=now,
        requests=requests,
        requests_by_status=dict(sorted(by_status.items())),
        latency_p99_ms=max(latencies) if requests and latencies else None,
    )
