"""Request metrics of the router: per endpoint, deployment and minute, in bounded memory.

Each (endpoint, deployment) keeps, per minute, the count of answers by status code
and an HdrHistogram of their latency (microseconds, 1 µs to 1 h, 3 significant
digits: percentiles within 0.1 %). The running minute's histogram is live; a
finished minute is kept compressed (a few hundred bytes). Minutes older than
``retention_minutes`` (24 h) before the newest one recorded are dropped.

    recorder = MetricsRecorder()
    recorder.record("product-recommender", "blue", 200, 12.5, now=time.time())
    snapshot = recorder.snapshot("product-recommender", start, end)
    snapshot.deployments["blue"].window.latency_p99_ms

Answers that reached no deployment (401, 404) are recorded under ``UNROUTED`` and
left out of snapshots, which report deployments only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np
from hdrh.histogram import HdrHistogram

from deploy.types import DeploymentMetrics, MetricsSnapshot, MinuteMetrics

__all__ = ["RETENTION_MINUTES", "UNROUTED", "MetricsRecorder"]

#: The deployment name of answers that reached no deployment (401, 404).
UNROUTED = ""
#: How many minutes are kept, counted back from the newest minute recorded.
RETENTION_MINUTES = 24 * 60

_HIGHEST_US = 3_600_000_000
_DIGITS = 3
_PERCENTILES = (50.0, 90.0, 95.0, 99.0)


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, _HIGHEST_US, _DIGITS)


class _Minute:
    """One minute of one deployment: counts by status, and a live or compressed histogram."""

    __slots__ = ("counts", "encoded", "histogram", "minute")

    def __init__(self, minute: int) -> None:
        self.minute = minute
        self.counts: dict[int, int] = {}
        self.histogram: HdrHistogram | None = _histogram()
        self.encoded: bytes = b""

    def close(self) -> None:
        """Compress the histogram: a finished minute no longer changes (but see ``reopen``)."""
        if self.histogram is not None:
            self.encoded = self.histogram.encode()
            self.histogram = None

    def reopen(self) -> HdrHistogram:
        """The live histogram, decompressed again if needed (a late answer for a past minute)."""
        if self.histogram is None:
            self.histogram = HdrHistogram.decode(self.encoded)
            self.encoded = b""
        return self.histogram

    def read(self) -> HdrHistogram:
        """The histogram, without changing how it is kept."""
        if self.histogram is not None:
            return self.histogram
        return HdrHistogram.decode(self.encoded)


class _Series:
    """The minutes of one (endpoint, deployment); ``current`` is the newest one."""

    __slots__ = ("current", "minutes")

    def __init__(self, minute: int) -> None:
        self.current = _Minute(minute)
        self.minutes: dict[int, _Minute] = {minute: self.current}


class MetricsRecorder:
    """Counts and latency histograms of every answered scoring request.

    Not thread-safe: record and read from one event loop (the router's).
    """

    def __init__(self, *, retention_minutes: int = RETENTION_MINUTES) -> None:
        if retention_minutes < 1:
            raise ValueError(f"retention_minutes must be at least 1, not {retention_minutes}")
        self._retention = retention_minutes
        self._series: dict[tuple[str, str], _Series] = {}
        self._newest = -1

    # ------------------------------------------------------------ hot path

    def record(
        self, endpoint: str, deployment: str, status: int, latency_ms: float, now: float
    ) -> None:
        """One answer: its status, its latency in ms, and when it was answered (unix s)."""
        minute = int(now // 60)
        series = self._series.get((endpoint, deployment))
        if series is None or series.current.minute != minute:
            current = self._switch(endpoint, deployment, minute)
            if current is None:
                return
        else:
            current = series.current
        counts = current.counts
        counts[status] = counts.get(status, 0) + 1
        micros = int(latency_ms * 1000.0)
        if micros < 1:
            micros = 1
        elif micros > _HIGHEST_US:
            micros = _HIGHEST_US
        histogram = current.histogram
        if histogram is not None:
            histogram.record_value(micros)
        else:  # a late answer for a finished minute: rare, so decompress and compress again
            current.reopen().record_value(micros)
            current.close()

    def _switch(self, endpoint: str, deployment: str, minute: int) -> _Minute | None:
        """The bucket of ``minute`` (once a minute per series, or for a late answer).

        ``None`` when the minute is already past the retention period.
        """
        if minute > self._newest:
            self._newest = minute
            self._prune()
        elif minute <= self._newest - self._retention:
            return None
        series = self._series.get((endpoint, deployment))
        if series is None:
            series = self._series[(endpoint, deployment)] = _Series(minute)
            return series.current
        found = series.minutes.get(minute)
        if found is None:
            found = series.minutes[minute] = _Minute(minute)
        if minute > series.current.minute:
            series.current.close()
            series.current = found
        elif found is not series.current:
            found.close()
        return found

    def _prune(self) -> None:
        horizon = self._newest - self._retention
        for key in list(self._series):
            series = self._series[key]
            for minute in [m for m in series.minutes if m <= horizon]:
                del series.minutes[minute]
            if not series.minutes:
                del self._series[key]

    # ------------------------------------------------------------ reading

    def retained_minutes(self) -> int:
        """How many (endpoint, deployment, minute) buckets are held (for tests and status)."""
        return sum(len(series.minutes) for series in self._series.values())

    def forget(self, endpoint: str, deployment: str | None = None) -> None:
        """Drop an endpoint's metrics (or one deployment's): it was deleted."""
        for key in list(self._series):
            if key[0] == endpoint and (deployment is None or key[1] == deployment):
                del self._series[key]

    def snapshot(self, endpoint: str, start: datetime, end: datetime) -> MetricsSnapshot:
        """Every deployment of ``endpoint`` with data, one row a minute in ``[start, end)``.

        Rows are for whole minutes (``start`` rounded down, ``end`` up), at most the
        retention period's worth; minutes without answers have zero requests and no
        latency. ``window`` totals the rows, percentiles from the merged histograms.
        Naive datetimes are taken as UTC.
        """
        start, end = _utc(start), _utc(end)
        if end < start:
            raise ValueError(f"The window ends ({end.isoformat()}) before it starts.")
        first = math.floor(start.timestamp() / 60)
        last = math.ceil(end.timestamp() / 60)
        first = max(first, self._newest - self._retention + 1, last - self._retention)
        deployments = {
            deployment: _deployment_metrics(deployment, series, range(first, last), start)
            for (name, deployment), series in sorted(self._series.items())
            if name == endpoint and deployment != UNROUTED
        }
        return MetricsSnapshot(endpoint=endpoint, start=start, end=end, deployments=deployments)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _deployment_metrics(
    deployment: str, series: _Series, minutes: Iterable[int], start: datetime
) -> DeploymentMetrics:
    rows = []
    total: HdrHistogram | None = None
    total_counts: dict[int, int] = {}
    for minute in minutes:
        timestamp = datetime.fromtimestamp(minute * 60, tz=UTC)
        bucket = series.minutes.get(minute)
        if bucket is None or not bucket.counts:
            rows.append(MinuteMetrics(timestamp=timestamp))
            continue
        histogram = bucket.read()
        rows.append(_row(timestamp, bucket.counts, histogram))
        if total is None:
            total = _histogram()
        total.add(histogram)
        for status, count in bucket.counts.items():
            total_counts[status] = total_counts.get(status, 0) + count
    window = _row(start, total_counts, total)
    return DeploymentMetrics(deployment=deployment, minutes=tuple(rows), window=window)


def _row(
    timestamp: datetime, counts: dict[int, int], histogram: HdrHistogram | None
) -> MinuteMetrics:
    p50, p90, p95, p99 = _percentiles(histogram)
    return MinuteMetrics(
        timestamp=timestamp,
        requests=sum(counts.values()),
        requests_by_status={str(status): counts[status] for status in sorted(counts)},
        latency_p50_ms=p50,
        latency_p90_ms=p90,
        latency_p95_ms=p95,
        latency_p99_ms=p99,
    )


def _percentiles(histogram: HdrHistogram | None) -> tuple[float | None, ...]:
    """HdrHistogram's value at each percentile (as ``get_value_at_percentile``), in ms.

    One cumulative sum in numpy instead of hdrh's per-index Python loop (about 100 x faster).
    """
    if histogram is None or not histogram.get_total_count():
        return (None,) * len(_PERCENTILES)
    total = histogram.get_total_count()
    cumulative = np.cumsum(np.ctypeslib.as_array(histogram.counts))
    values = []
    for percentile in _PERCENTILES:
        target = max(int(percentile * total / 100 + 0.5), 1)
        index = int(np.searchsorted(cumulative, target, side="left"))
        value = histogram.get_highest_equivalent_value(histogram.get_value_from_index(index))
        values.append(value / 1000.0)
    return tuple(values)
