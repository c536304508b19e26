"""MetricsRecorder: per-minute counts and HDR latency percentiles, bounded to 24 hours."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from deploy.local.metrics.recorder import RETENTION_MINUTES, UNROUTED, MetricsRecorder, _unpack

T0 = 1_800_000_000  # a minute boundary (divisible by 60)
START = datetime.fromtimestamp(T0, tz=UTC)


def _at(minute: int, second: float = 0.0) -> float:
    return T0 + minute * 60 + second


def _nearest_rank(values: list[float], percentile: float) -> float:
    """The exact value HdrHistogram approximates: the ceil-rank value, hdrh's rounding."""
    ordered = sorted(values)
    rank = max(int(percentile * len(ordered) / 100 + 0.5), 1)
    return ordered[rank - 1]


def test_counts_by_status_per_minute_and_for_the_window() -> None:
    recorder = MetricsRecorder()
    for status, count, minute in ((200, 5, 0), (424, 2, 0), (200, 3, 2), (429, 1, 2)):
        for i in range(count):
            recorder.record("demo", "blue", status, 10.0 + i, _at(minute, 1 + i))
    snapshot = recorder.snapshot("demo", START, START + timedelta(minutes=3))
    blue = snapshot.deployments["blue"]
    assert [row.timestamp for row in blue.minutes] == [
        START + timedelta(minutes=m) for m in range(3)
    ]
    assert [row.requests for row in blue.minutes] == [7, 0, 4]
    assert blue.minutes[0].requests_by_status == {"200": 5, "424": 2}
    assert blue.minutes[1].requests_by_status == {}
    assert blue.minutes[1].latency_p50_ms is None  # no answers, no latency
    assert blue.minutes[2].requests_by_status == {"200": 3, "429": 1}
    assert blue.window.requests == 11
    assert blue.window.requests_by_status == {"200": 8, "424": 2, "429": 1}
    assert blue.window.errors_4xx == 3
    assert blue.window.timestamp == START
    assert (snapshot.endpoint, snapshot.start, snapshot.end) == (
        "demo",
        START,
        START + timedelta(minutes=3),
    )


def test_percentiles_are_within_hdr_precision() -> None:
    rng = random.Random(7)
    recorder = MetricsRecorder()
    by_minute: dict[int, list[float]] = {0: [], 1: []}
    for minute, values in by_minute.items():
        for i in range(3000):
            latency = rng.lognormvariate(2.5, 0.8) + (400.0 if rng.random() < 0.02 else 0.0)
            values.append(latency)
            recorder.record("demo", "blue", 200, latency, _at(minute, i / 100))
    blue = recorder.snapshot("demo", START, START + timedelta(minutes=2)).deployments["blue"]
    everything = by_minute[0] + by_minute[1]
    for row, values in ((blue.minutes[0], by_minute[0]), (blue.minutes[1], by_minute[1]),
                        (blue.window, everything)):  # fmt: skip
        for percentile, got in (
            (50, row.latency_p50_ms),
            (90, row.latency_p90_ms),
            (95, row.latency_p95_ms),
            (99, row.latency_p99_ms),
        ):
            exact = _nearest_rank(values, percentile)
            assert got is not None
            # 3 significant digits: within 0.1 % (and 1 µs of truncation to whole µs).
            assert exact - 0.001 <= got <= exact * 1.001 + 0.001, (percentile, exact, got)
    assert blue.window.latency_p99_ms is not None and blue.window.latency_p99_ms > 400


def test_percentiles_agree_with_hdrh_itself() -> None:
    recorder = MetricsRecorder()
    reference = HdrHistogram(1, 3_600_000_000, 3)
    for i in range(1, 500):
        latency_ms = (i * 37 % 500) / 7.0 + 0.5
        recorder.record("demo", "blue", 200, latency_ms, _at(0))
        reference.record_value(int(latency_ms * 1000))
    row = recorder.snapshot("demo", START, START + timedelta(minutes=1)).deployments["blue"].window
    assert row.latency_p90_ms == reference.get_value_at_percentile(90) / 1000
    assert row.latency_p99_ms == reference.get_value_at_percentile(99) / 1000


def test_deployments_and_endpoints_are_kept_apart() -> None:
    recorder = MetricsRecorder()
    recorder.record("demo", "blue", 200, 5.0, _at(0))
    recorder.record("demo", "green", 500, 50.0, _at(0))
    recorder.record("other", "blue", 200, 1.0, _at(0))
    recorder.record("demo", UNROUTED, 401, 0.2, _at(0))
    snapshot = recorder.snapshot("demo", START, START + timedelta(minutes=1))
    assert sorted(snapshot.deployments) == ["blue", "green"]  # the 401 reached no deployment
    assert snapshot.deployments["green"].window.errors_5xx == 1
    assert snapshot.deployments["blue"].window.latency_p50_ms == pytest.approx(5.0, rel=1e-3)
    assert recorder.snapshot("nobody", START, START + timedelta(minutes=1)).deployments == {}


def test_a_late_answer_lands_in_its_own_minute() -> None:
    recorder = MetricsRecorder()
    recorder.record("demo", "blue", 200, 5.0, _at(0, 10))
    recorder.record("demo", "blue", 200, 5.0, _at(1, 10))
    recorder.record("demo", "blue", 500, 80.0, _at(0, 59))  # answered late, e.g. clock skew
    recorder.record("demo", "blue", 200, 5.0, _at(1, 20))
    blue = recorder.snapshot("demo", START, START + timedelta(minutes=2)).deployments["blue"]
    assert blue.minutes[0].requests_by_status == {"200": 1, "500": 1}
    assert blue.minutes[0].latency_p99_ms == pytest.approx(80.0, rel=1e-3)
    assert blue.minutes[1].requests_by_status == {"200": 2}


def test_memory_is_bounded_to_24_hours_of_minutes() -> None:
    recorder = MetricsRecorder()
    assert RETENTION_MINUTES == 24 * 60
    for minute in range(25 * 60):
        recorder.record("demo", "blue", 200, 3.0, _at(minute, 30))
    recorder.record("demo", "green", 200, 3.0, _at(59))  # too old by now: dropped
    assert recorder.retained_minutes() == RETENTION_MINUTES
    first_hour = recorder.snapshot("demo", START, START + timedelta(hours=1))
    assert first_hour.deployments["blue"].window.requests == 0
    last = START + timedelta(hours=25)
    whole = recorder.snapshot("demo", START, last).deployments["blue"]
    assert len(whole.minutes) == RETENTION_MINUTES  # rows too are bounded
    assert whole.window.requests == RETENTION_MINUTES
    assert whole.minutes[0].timestamp == last - timedelta(minutes=RETENTION_MINUTES)


def test_a_series_that_goes_quiet_is_dropped_once_out_of_retention() -> None:
    recorder = MetricsRecorder(retention_minutes=10)
    recorder.record("demo", "green", 200, 3.0, _at(0))
    for minute in range(0, 12):
        recorder.record("demo", "blue", 200, 3.0, _at(minute))
    snapshot = recorder.snapshot("demo", START, START + timedelta(minutes=12))
    assert list(snapshot.deployments) == ["blue"]
    assert recorder.retained_minutes() == 10


def test_forget_drops_an_endpoint_or_a_deployment() -> None:
    recorder = MetricsRecorder()
    for deployment in ("blue", "green"):
        recorder.record("demo", deployment, 200, 3.0, _at(0))
    recorder.forget("demo", "green")
    window = (START, START + timedelta(minutes=1))
    assert list(recorder.snapshot("demo", *window).deployments) == ["blue"]
    recorder.forget("demo")
    assert recorder.snapshot("demo", *window).deployments == {}


def test_window_edges_naive_times_and_bad_windows() -> None:
    recorder = MetricsRecorder()
    recorder.record("demo", "blue", 200, 3.0, _at(1, 30))
    naive = START.replace(tzinfo=None)
    rows = recorder.snapshot("demo", naive + timedelta(seconds=90), naive + timedelta(seconds=91))
    assert [row.requests for row in rows.deployments["blue"].minutes] == [1]  # the whole minute
    assert recorder.snapshot("demo", START, START).deployments["blue"].minutes == ()
    with pytest.raises(ValueError, match="before it starts"):
        recorder.snapshot("demo", START, START - timedelta(minutes=1))
    with pytest.raises(ValueError, match="retention_minutes"):
        MetricsRecorder(retention_minutes=0)


def test_latencies_outside_the_histogram_are_clamped() -> None:
    recorder = MetricsRecorder()
    recorder.record("demo", "blue", 200, 0.0, _at(0))
    recorder.record("demo", "blue", 408, 10_000_000.0, _at(0))  # 2.8 h: beyond 1 h
    row = recorder.snapshot("demo", START, START + timedelta(minutes=1)).deployments["blue"].window
    assert row.latency_p50_ms is not None and row.latency_p50_ms <= 0.002
    assert row.latency_p99_ms == pytest.approx(3_600_000.0, rel=1e-3)


def test_every_latency_lands_in_hdrhs_own_bucket_across_folds() -> None:
    """The batched fold puts each value in the bucket hdrh's ``record_value`` would.

    Values spread log-uniformly over the whole range, with every power of two and its
    neighbours (where the bucket changes), more than one fold's worth, and a late answer
    for the minute after the next one began.
    """
    rng = random.Random(7)
    micros = [int(10 ** rng.uniform(0, 9.5)) for _ in range(40_000)]
    micros += [v for bit in range(32) for v in (2**bit - 1, 2**bit, 2**bit + 1) if v >= 1]
    recorder = MetricsRecorder()
    reference = HdrHistogram(1, 3_600_000_000, 3)
    for value in micros:
        latency_ms = value / 1000.0
        recorder.record("demo", "blue", 200, latency_ms, _at(0, 1))
        reference.record_value(max(int(latency_ms * 1000.0), 1))  # the recorder's rounding
    recorder.record("demo", "blue", 200, 1.0, _at(1, 1))
    recorder.record("demo", "blue", 200, 0.25, _at(0, 59))  # late, after minute 1 began
    reference.record_value(250)
    (stored,) = [row for row in recorder.export(0, 10**9) if row.minute == int(_at(0)) // 60]
    indices, counts = _unpack(stored.packed)
    expected = np.ctypeslib.as_array(reference.counts)
    assert indices.tolist() == np.flatnonzero(expected).tolist()
    assert counts.tolist() == expected[indices].tolist()
    assert stored.counts == {200: len(micros) + 1}
