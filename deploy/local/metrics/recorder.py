"""Request metrics of the router: per endpoint, deployment and minute, in bounded memory.

Each (endpoint, deployment) keeps, per minute, the count of answers by status code
and an HdrHistogram of their latency (microseconds, 1 µs to 1 h, 3 significant
digits: percentiles within 0.1 %). Recording a latency only appends it to an array
(the router's hot path); the array is folded into the histogram's non-zero buckets
(hdrh's bucket layout, computed for all values at once in numpy) every 16,384
values, when the minute ends and on export, and a snapshot counts the values not
folded yet. A finished minute keeps its buckets packed (a few KB at most). Minutes
older than ``retention_minutes`` (24 h) before the newest one recorded are dropped.

    recorder = MetricsRecorder()
    recorder.record("product-recommender", "blue", 200, 12.5, now=time.time())
    snapshot = recorder.snapshot("product-recommender", start, end)
    snapshot.deployments["blue"].window.latency_p99_ms

Answers that reached no deployment (401, 404) are recorded under ``UNROUTED`` and
left out of snapshots, which report deployments only.
"""

from __future__ import annotations

import math
import zlib
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from base.clock import as_utc
from deploy.types import DeploymentMetrics, MetricsSnapshot, MinuteMetrics

__all__ = ["RETENTION_MINUTES", "UNROUTED", "MetricsRecorder", "StoredMinute"]

#: The deployment name of answers that reached no deployment (401, 404).
UNROUTED = ""
#: How many minutes are kept, counted back from the newest minute recorded.
RETENTION_MINUTES = 24 * 60

_HIGHEST_US = 3_600_000_000
_DIGITS = 3
_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
#: Recorded latencies are folded into the minute's buckets at least this often.
_FOLD_EVERY = 16_384


#: (bucket indices, counts) of a histogram's non-zero buckets, indices ascending.
Sparse = tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.int64]]]


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, _HIGHEST_US, _DIGITS)


#: The bucket layout of every minute's histogram (indices to values); never recorded into.
_LAYOUT = _histogram()
_EMPTY: Sparse = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


class _Minute:
    """One minute of one deployment: counts by status, and its latency histogram.

    Latencies recorded are appended to ``values`` and folded into ``packed`` (the
    histogram's non-zero buckets, zlib-packed) in batches: every :data:`_FOLD_EVERY`
    values, when the minute ends and on export; :meth:`sparse` counts both. A late
    answer for a finished minute is appended the same way.
    """

    __slots__ = ("counts", "minute", "packed", "resources", "values")

    def __init__(self, minute: int) -> None:
        self.minute = minute
        self.counts: dict[int, int] = {}
        self.values = array("q")  # latencies in µs not folded yet
        self.packed: bytes = b""
        #: Sums and counts of resource samples: cpu, cpu n, memory, memory n, capacity, n.
        self.resources: list[float] = [0.0] * 6

    def add_resources(self, cpu: float | None, memory: float | None, capacity: int) -> None:
        """One sample of CPU %, memory % and instance count (averaged over the minute)."""
        totals = self.resources
        if cpu is not None:
            totals[0] += cpu
            totals[1] += 1
        if memory is not None:
            totals[2] += memory
            totals[3] += 1
        totals[4] += capacity
        totals[5] += 1

    def resource_means(self) -> tuple[float | None, float | None, float | None]:
        """The minute's mean CPU %, memory % and capacity (``None``: no sample)."""
        t = self.resources
        return (
            round(t[0] / t[1], 2) if t[1] else None,
            round(t[2] / t[3], 3) if t[3] else None,
            round(t[4] / t[5], 2) if t[5] else None,
        )

    def fold(self) -> None:
        """Fold the values recorded since the last fold into the packed buckets."""
        if self.values:
            self.packed = _pack(self.sparse())
            self.values = array("q")

    def sparse(self) -> Sparse:
        """The histogram's non-zero buckets, values not folded yet included."""
        parts = [_unpack(self.packed)] if self.packed else []
        if self.values:
            parts.append(_bucket_counts(np.frombuffer(self.values, dtype=np.int64)))
        if not parts:
            return _EMPTY
        return parts[0] if len(parts) == 1 else _merge(parts)


class _Series:
    """The minutes of one (endpoint, deployment); ``current`` is the newest one."""

    __slots__ = ("current", "minutes")

    def __init__(self, minute: int) -> None:
        self.current = _Minute(minute)
        self.minutes: dict[int, _Minute] = {minute: self.current}


@dataclass(frozen=True, kw_only=True)
class StoredMinute:
    """One (endpoint, deployment, minute) bucket as stored: counts, packed histogram, sums."""

    endpoint: str
    deployment: str
    minute: int
    counts: dict[int, int]
    packed: bytes
    resources: tuple[float, ...]


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
        values = current.values
        values.append(micros)
        if len(values) >= _FOLD_EVERY:
            current.fold()

    def record_resources(
        self,
        endpoint: str,
        deployment: str,
        *,
        cpu: float | None,
        memory: float | None,
        capacity: int,
        now: float,
    ) -> None:
        """One sample of a deployment's CPU %, memory % and instance count (the autoscaler's)."""
        minute = int(now // 60)
        series = self._series.get((endpoint, deployment))
        if series is not None and series.current.minute == minute:
            bucket: _Minute | None = series.current
        else:
            bucket = self._switch(endpoint, deployment, minute)
        if bucket is not None:
            bucket.add_resources(cpu, memory, capacity)

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
            series.current.fold()
            series.current = found
        return found

    def _prune(self) -> None:
        horizon = self._newest - self._retention
        for key in list(self._series):
            series = self._series[key]
            for minute in [m for m in series.minutes if m <= horizon]:
                del series.minutes[minute]
            if not series.minutes:
                del self._series[key]

    # ------------------------------------------------------------ persistence

    def export(self, first: int, last: int) -> list[StoredMinute]:
        """Every bucket of the minutes ``[first, last)`` (unix minutes), packed for storage."""
        rows = []
        for (endpoint, deployment), series in self._series.items():
            for minute, bucket in series.minutes.items():
                if first <= minute < last:
                    bucket.fold()
                    packed = bucket.packed
                    rows.append(
                        StoredMinute(
                            endpoint=endpoint,
                            deployment=deployment,
                            minute=minute,
                            counts=dict(bucket.counts),
                            packed=packed,
                            resources=tuple(bucket.resources),
                        )
                    )
        return rows

    def restore(self, rows: Iterable[StoredMinute]) -> None:
        """Put back stored minutes (a restarted daemon's); minutes already held are kept."""
        for row in rows:
            if row.minute <= self._newest - self._retention:
                continue
            key = (row.endpoint, row.deployment)
            series = self._series.get(key)
            if series is not None and row.minute in series.minutes:
                continue
            bucket = _Minute(row.minute)
            bucket.packed = row.packed
            bucket.counts = dict(row.counts)
            bucket.resources = list(row.resources)
            if series is None:
                series = self._series[key] = _Series(row.minute)
                series.minutes[row.minute] = series.current = bucket
            else:
                series.minutes[row.minute] = bucket
                if row.minute > series.current.minute:
                    series.current.fold()
                    series.current = bucket
            if row.minute > self._newest:
                self._newest = row.minute
        self._prune()

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
        start, end = as_utc(start), as_utc(end)
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


def _deployment_metrics(
    deployment: str, series: _Series, minutes: Iterable[int], start: datetime
) -> DeploymentMetrics:
    rows = []
    parts: list[Sparse] = []
    total_counts: dict[int, int] = {}
    for minute in minutes:
        timestamp = datetime.fromtimestamp(minute * 60, tz=UTC)
        bucket = series.minutes.get(minute)
        if bucket is None:
            rows.append(MinuteMetrics(timestamp=timestamp))
            continue
        resources = bucket.resource_means()
        if not bucket.counts:
            rows.append(_with_resources(MinuteMetrics(timestamp=timestamp), resources))
            continue
        sparse = bucket.sparse()
        rows.append(_with_resources(_row(timestamp, bucket.counts, sparse), resources))
        parts.append(sparse)
        for status, count in bucket.counts.items():
            total_counts[status] = total_counts.get(status, 0) + count
    window = _row(start, total_counts, _merge(parts) if parts else None)
    means = tuple(
        _mean([getattr(row, name) for row in rows])
        for name in (
            "cpu_utilization_percentage",
            "cpu_memory_utilization_percentage",
            "deployment_capacity",
        )
    )
    window = _with_resources(window, means)
    return DeploymentMetrics(deployment=deployment, minutes=tuple(rows), window=window)


def _mean(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(sum(present) / len(present), 3) if present else None


def _with_resources(row: MinuteMetrics, resources: tuple[float | None, ...]) -> MinuteMetrics:
    cpu, memory, capacity = resources
    return replace(
        row,
        cpu_utilization_percentage=cpu,
        cpu_memory_utilization_percentage=memory,
        deployment_capacity=capacity,
    )


def _row(timestamp: datetime, counts: dict[int, int], sparse: Sparse | None) -> MinuteMetrics:
    p50, p90, p95, p99 = _percentiles(sparse)
    return MinuteMetrics(
        timestamp=timestamp,
        requests=sum(counts.values()),
        requests_by_status={str(status): counts[status] for status in sorted(counts)},
        latency_p50_ms=p50,
        latency_p90_ms=p90,
        latency_p95_ms=p95,
        latency_p99_ms=p99,
    )


def _percentiles(sparse: Sparse | None) -> tuple[float | None, ...]:
    """HdrHistogram's value at each percentile (as ``get_value_at_percentile``), in ms.

    A cumulative sum over the non-zero buckets in numpy, instead of hdrh's Python
    loop over all 23,552 buckets (that took about 5 ms a percentile).
    """
    if sparse is None or not len(sparse[0]):
        return (None,) * len(_PERCENTILES)
    indices, counts = sparse
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1])
    values = []
    for percentile in _PERCENTILES:
        target = max(int(percentile * total / 100 + 0.5), 1)
        index = int(indices[int(np.searchsorted(cumulative, target, side="left"))])
        value = _LAYOUT.get_highest_equivalent_value(_LAYOUT.get_value_from_index(index))
        values.append(value / 1000.0)
    return tuple(values)


def _bucket_counts(values: np.ndarray[Any, np.dtype[np.int64]]) -> Sparse:
    """The non-zero buckets of the histogram of ``values`` (µs, 1 to ``_HIGHEST_US``).

    hdrh's ``record_value`` index, for all values at once: the bucket is the bit length
    of ``value | sub_bucket_mask`` (``frexp``'s exponent, exact below 2**53) less the
    sub-bucket magnitude; the sub-bucket is the value shifted by the bucket.
    """
    layout = _LAYOUT
    _, pow2ceiling = np.frexp((values | layout.sub_bucket_mask).astype(np.float64))
    bucket = pow2ceiling.astype(np.int64) - (
        layout.unit_magnitude + layout.sub_bucket_half_count_magnitude + 1
    )
    sub_bucket = values >> (bucket + layout.unit_magnitude)
    index = ((bucket + 1) << layout.sub_bucket_half_count_magnitude) + (
        sub_bucket - layout.sub_bucket_half_count
    )
    dense = np.bincount(index, minlength=layout.counts_len)
    nonzero = np.flatnonzero(dense)
    return nonzero.astype(np.int64), dense[nonzero].astype(np.int64)


def _merge(parts: list[Sparse]) -> Sparse:
    """The sum of several histograms' non-zero buckets."""
    indices = np.concatenate([part[0] for part in parts])
    counts = np.concatenate([part[1] for part in parts])
    dense = np.bincount(indices, weights=counts, minlength=_LAYOUT.counts_len)
    merged = np.flatnonzero(dense)
    return merged.astype(np.int64), dense[merged].astype(np.int64)


def _pack(sparse: Sparse) -> bytes:
    return zlib.compress(np.concatenate(sparse).astype(np.uint32).tobytes(), 1)


def _unpack(packed: bytes) -> Sparse:
    both = np.frombuffer(zlib.decompress(packed), dtype=np.uint32).astype(np.int64)
    half = len(both) // 2
    return both[:half], both[half:]
