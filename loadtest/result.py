"""What a load test reports: progress snapshots while it runs, and the result at the end.

All latencies are in milliseconds. The histogram behind them records microseconds
with three significant digits (HdrHistogram), so a reported value is within 0.1%
of the recorded one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from loadtest.plan import LoadTestPlan

__all__ = ["LatencyStats", "LoadTestResult", "Progress", "TimelineBucket"]


@dataclass(frozen=True, kw_only=True)
class Progress:
    """A snapshot while the test runs (for a progress message or bar).

    ``planned`` is the number of requests the plan sends if nothing stops it;
    ``errors`` counts non-2xx responses, connection errors and timeouts.
    """

    elapsed: float
    sent: int
    completed: int
    ok: int
    errors: int
    dropped: int
    p99_ms: float | None
    planned: int


@dataclass(frozen=True, kw_only=True)
class LatencyStats:
    """Latency of the responses received (any status), in milliseconds."""

    count: int
    min: float
    p50: float
    p90: float
    p95: float
    p99: float
    p999: float
    max: float
    mean: float


@dataclass(frozen=True, kw_only=True)
class TimelineBucket:
    """Responses that completed in ``[start, start + width)`` seconds after the start."""

    start: float
    width: float
    responses: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


@dataclass(frozen=True, kw_only=True)
class LoadTestResult:
    """The outcome of ``run_load_test``, complete or partial (``cancelled``).

    Closed loop: each latency runs from the actual send. Open loop: from the
    intended send time, so queueing in front of a stalled endpoint counts
    (coordinated omission corrected, as wrk2 does); a request sent ahead of its
    time (by at most 1 ms, the timer's grain) counts from its send. ``sent`` counts attempts
    (including those whose connection failed); ``completed`` the HTTP responses;
    ``ok`` the 2xx ones. ``error_counts`` holds ``connection_error``, ``tls_error``
    (an https certificate not trusted, or for another host), ``timeout`` and
    ``protocol_error``. ``late_sends`` (open loop) left more than
    ``plan.late_threshold`` after their intended time; ``dropped_sends`` found no
    free connection within ``plan.timeout`` and were never sent.
    ``latency_from_send`` (open loop) times the same responses from their actual
    send, uncorrected, as wrk and hey do: where it is far below ``latency``, requests
    waited to be sent (for a free connection, or behind a busy generator).
    ``percentile_curve`` holds (percentile, ms) points for the distribution chart;
    ``histogram`` the HdrHistogram (microseconds), compressed and base64-encoded.
    """

    plan: LoadTestPlan
    started_at: datetime
    elapsed: float
    sent: int
    completed: int
    ok: int
    status_counts: Mapping[int, int]
    error_counts: Mapping[str, int]
    late_sends: int
    dropped_sends: int
    cancelled: bool
    latency: LatencyStats | None
    latency_from_send: LatencyStats | None
    throughput: float
    timeline: tuple[TimelineBucket, ...]
    percentile_curve: tuple[tuple[float, float], ...]
    histogram: str

    @property
    def errors(self) -> int:
        """Non-2xx responses plus connection and TLS errors, timeouts and protocol errors."""
        return self.completed - self.ok + sum(self.error_counts.values())
