"""Counts and latency histograms of a run, in bounded memory.

One HdrHistogram (microseconds, 1 µs to 1 h, 3 significant digits) holds every
latency; in the open loop a second one holds each request's time from its actual
send (the uncorrected figure wrk and hey report); a timeline of per-bucket
histograms (2 significant digits) feeds the "latency over time" chart. Buckets
start one second wide; when there are ``max_buckets`` of them, neighbours merge
and the width doubles, so memory stays bounded however long the run.
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

from loadtest import messages
from loadtest.result import LatencyStats, Progress, TimelineBucket

__all__ = ["Recorder"]

_HIGHEST_US = 3_600_000_000
_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
_MAX_TALLY = 50_000


def _histogram(significant: int) -> HdrHistogram:
    return HdrHistogram(1, _HIGHEST_US, significant)


def _clamp(micros: int) -> int:
    """A latency in µs, within what the histograms hold."""
    if micros < 1:
        return 1
    return _HIGHEST_US if micros > _HIGHEST_US else micros


def _stats(hist: HdrHistogram) -> LatencyStats | None:
    """P50 ... max and mean of a histogram (µs) in ms, or None when it is empty."""
    if not hist.get_total_count():
        return None
    values = hist.get_percentile_to_value_dict(list(_PERCENTILES))
    p50, p90, p95, p99, p999 = (values[p] / 1000 for p in _PERCENTILES)
    return LatencyStats(
        count=hist.get_total_count(),
        min=hist.get_min_value() / 1000,
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        p999=p999,
        max=hist.get_max_value() / 1000,
        mean=hist.get_mean_value() / 1000,
    )


class _Bucket:
    __slots__ = ("errors", "histogram", "responses")

    def __init__(self) -> None:
        self.histogram: HdrHistogram | None = None
        self.responses = 0
        self.errors = 0

    def merge(self, other: _Bucket) -> None:
        if other.histogram is not None:
            if self.histogram is None:
                self.histogram = _histogram(2)
            self.histogram.add(other.histogram)
        self.responses += other.responses
        self.errors += other.errors


class Recorder:
    """Records outcomes as they happen; makes ``Progress`` and the result's parts."""

    def __init__(
        self,
        *,
        start_ns: int,
        planned: int,
        bucket_ns: int = 1_000_000_000,
        max_buckets: int = 240,
        from_send: bool = False,
    ) -> None:
        self.start_ns = start_ns
        self.planned = planned
        self.histogram = _histogram(3)
        #: Time from the actual send (open loop; ``None`` when not kept).
        self.send_histogram = _histogram(3) if from_send else None
        self.sent = 0
        self.completed = 0
        self.ok = 0
        self.late = 0
        self.dropped = 0
        self.status_counts: dict[int, int] = {}
        self.error_counts: dict[str, int] = {}
        self._bucket_ns = bucket_ns
        self._max_buckets = max_buckets - max_buckets % 2
        self._buckets: list[_Bucket] = []
        self._current = _Bucket()
        self._bucket_end = start_ns + bucket_ns
        self._tally: dict[int, int] = {}
        self._send_tally: dict[int, int] = {}

    # ------------------------------------------------------------ hot path

    def record(self, latency_ns: int, status: int, now_ns: int) -> None:
        """One HTTP response of any status.

        Latencies are tallied by value and only then added to the histograms (at a
        bucket's end, a snapshot or the result): many requests share a microsecond
        value, and ``HdrHistogram.record_value`` is slow Python.
        """
        micros = _clamp(latency_ns // 1000)
        if now_ns >= self._bucket_end:
            self._roll(now_ns)
        tally = self._tally
        tally[micros] = tally.get(micros, 0) + 1
        counts = self.status_counts
        counts[status] = counts.get(status, 0) + 1
        self.completed += 1
        bucket = self._current
        bucket.responses += 1
        if 200 <= status < 300:
            self.ok += 1
        else:
            bucket.errors += 1
        if len(tally) > _MAX_TALLY:
            self._flush()

    def record_from_send(self, latency_ns: int) -> None:
        """The same response's time from its actual send (kept only with ``from_send``)."""
        if self.send_histogram is None:
            return
        micros = _clamp(latency_ns // 1000)
        tally = self._send_tally
        tally[micros] = tally.get(micros, 0) + 1
        if len(tally) > _MAX_TALLY:
            self._flush()

    def record_error(self, category: str, now_ns: int) -> None:
        """A request that got no response: ``connection_error``, ``tls_error``, ``timeout``,
        ``protocol_error``."""
        self.error_counts[category] = self.error_counts.get(category, 0) + 1
        if now_ns >= self._bucket_end:
            self._roll(now_ns)
        self._current.errors += 1

    def _flush(self) -> None:
        """Add the tallied latencies to their histograms: the total and the current
        bucket's, and the from-send one when it is kept."""
        if self._send_tally and self.send_histogram is not None:
            for micros, count in self._send_tally.items():
                self.send_histogram.record_value(micros, count)
            self._send_tally.clear()
        if not self._tally:
            return
        bucket = self._current
        if bucket.histogram is None:
            bucket.histogram = _histogram(2)
        total, part = self.histogram, bucket.histogram
        for micros, count in self._tally.items():
            total.record_value(micros, count)
            part.record_value(micros, count)
        self._tally.clear()

    def _roll(self, now_ns: int) -> None:
        self._flush()
        while now_ns >= self._bucket_end:
            self._buckets.append(self._current)
            self._current = _Bucket()
            self._bucket_end += self._bucket_ns
            if len(self._buckets) >= self._max_buckets:
                self._coarsen()

    def _coarsen(self) -> None:
        merged: list[_Bucket] = []
        for first, second in zip(self._buckets[::2], self._buckets[1::2], strict=True):
            first.merge(second)
            merged.append(first)
        self._buckets = merged
        # The current bucket becomes the first half of a double-width one.
        self._bucket_end += self._bucket_ns
        self._bucket_ns *= 2

    # ------------------------------------------------------------ reports

    @property
    def errors(self) -> int:
        """Non-2xx responses plus requests without a response."""
        return self.completed - self.ok + sum(self.error_counts.values())

    def progress(self, now_ns: int) -> Progress:
        """A snapshot for progress reporting (P99 costs a pass over the histogram)."""
        self._flush()
        p99 = self.histogram.get_value_at_percentile(99.0) / 1000 if self.completed else None
        return Progress(
            elapsed=(now_ns - self.start_ns) / 1e9,
            sent=self.sent,
            completed=self.completed,
            ok=self.ok,
            errors=self.errors,
            dropped=self.dropped,
            p99_ms=p99,
            planned=self.planned,
        )

    def latency_stats(self) -> LatencyStats | None:
        """P50 ... max and mean of every response, or None when there was none."""
        self._flush()
        return _stats(self.histogram)

    def from_send_stats(self) -> LatencyStats | None:
        """The same from each actual send; None when not kept or no response."""
        self._flush()
        return None if self.send_histogram is None else _stats(self.send_histogram)

    def percentile_curve(self) -> tuple[tuple[float, float], ...]:
        """(percentile, ms) points, denser towards the tail, as HdrHistogram plots them."""
        self._flush()
        count = self.histogram.get_total_count()
        if not count:
            return ()
        percentiles: list[float] = []
        step = 0
        while True:
            remaining = 0.5 ** (step / 5)  # five points per halving of the tail
            if 1 / remaining > count:
                break
            percentiles.append(100 * (1 - remaining))
            step += 1
        values = self.histogram.get_percentile_to_value_dict(percentiles)
        curve = [(p, values[p] / 1000) for p in percentiles]
        curve.append((100.0, self.histogram.get_max_value() / 1000))
        return tuple(curve)

    def timeline(self, now_ns: int) -> tuple[TimelineBucket, ...]:
        """The per-bucket responses, errors and P50/P99/max up to ``now_ns``."""
        self._flush()
        buckets = [*self._buckets, self._current]
        width = self._bucket_ns / 1e9
        elapsed = (now_ns - self.start_ns) / 1e9
        out: list[TimelineBucket] = []
        for index, bucket in enumerate(buckets):
            start = index * width
            if start > elapsed:
                break
            hist = bucket.histogram
            p50 = p99 = top = None
            if hist is not None and hist.get_total_count():
                values = hist.get_percentile_to_value_dict([50.0, 99.0])
                p50, p99 = values[50.0] / 1000, values[99.0] / 1000
                top = hist.get_max_value() / 1000
            out.append(
                TimelineBucket(
                    start=start,
                    width=min(width, elapsed - start) or width,
                    responses=bucket.responses,
                    errors=bucket.errors,
                    p50_ms=p50,
                    p99_ms=p99,
                    max_ms=top,
                )
            )
        return tuple(out)

    def encoded_histogram(self) -> str:
        """The full histogram, compressed and base64-encoded (HdrHistogram's format)."""
        self._flush()
        return bytes(self.histogram.encode()).decode("ascii")


# Error categories recorded here; re-exported for the engine.
CONNECTION_ERROR = messages.CONNECTION_ERROR
TIMEOUT = messages.TIMEOUT
PROTOCOL_ERROR = messages.PROTOCOL_ERROR
TLS_ERROR = messages.TLS_ERROR
