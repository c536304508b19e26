"""Values for *now* from per-minute rows read at each poll (fixed datetimes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.observe import Sampler
from deploy.types import DeploymentMetrics, MetricsSnapshot, MinuteMetrics

EP = "ep-one"
M0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def row(minute: int, ok: int = 0, failed: int = 0, p99: float | None = None) -> MinuteMetrics:
    by_status = {k: v for k, v in (("200", ok), ("500", failed)) if v}
    return MinuteMetrics(
        timestamp=M0 + timedelta(minutes=minute),
        requests=ok + failed,
        requests_by_status=by_status,
        latency_p99_ms=p99,
    )


def snapshot(*rows: MinuteMetrics, deployment: str = "blue") -> MetricsSnapshot:
    metrics = DeploymentMetrics(deployment=deployment, minutes=rows, window=rows[0])
    return MetricsSnapshot(endpoint=EP, start=M0, end=M0, deployments={deployment: metrics})


def at(seconds: float) -> datetime:
    return M0 + timedelta(seconds=seconds)


def test_counts_are_what_grew_since_the_last_poll() -> None:
    sampler = Sampler(window=timedelta(seconds=1), poll_interval=timedelta(seconds=1))
    first = sampler.observe(snapshot(row(0, ok=10, p99=20)), now=at(10))["blue"]
    assert (first.exact, first.metrics.requests) == (False, 10)  # no earlier reading
    second = sampler.observe(snapshot(row(0, ok=15, failed=5, p99=900)), now=at(11))["blue"]
    assert second.exact
    assert (second.metrics.requests, second.metrics.requests_by_status) == (
        10,
        {"200": 5, "500": 5},
    )
    assert second.metrics.latency_p99_ms == 900
    quiet = sampler.observe(snapshot(row(0, ok=15, failed=5, p99=900)), now=at(12))["blue"]
    assert (quiet.metrics.requests, quiet.metrics.latency_p99_ms) == (0, None)  # no data


def test_a_new_minute_and_late_answers_for_the_last_one() -> None:
    sampler = Sampler(window=timedelta(seconds=1), poll_interval=timedelta(seconds=1))
    sampler.observe(snapshot(row(0, ok=10, p99=20), row(1)), now=at(59.5))
    observed = sampler.observe(snapshot(row(0, ok=12, p99=700), row(1, ok=3, p99=30)), now=at(60.5))
    metrics = observed["blue"].metrics
    assert metrics.requests == 5
    assert metrics.latency_p99_ms == 700  # the highest P99 of the minutes that grew


def test_a_window_of_several_polls() -> None:
    sampler = Sampler(window=timedelta(seconds=3), poll_interval=timedelta(seconds=1))
    counts = [0, 10, 20, 30, 40]
    results = []
    for second, count in enumerate(counts):
        observed = sampler.observe(snapshot(row(0, ok=count, p99=10)), now=at(second))
        results.append((observed["blue"].exact, observed["blue"].metrics.requests))
    assert results == [(False, 0), (False, 10), (False, 20), (True, 30), (True, 30)]


def test_without_a_reading_the_minutes_overlapping_the_window_count() -> None:
    sampler = Sampler(window=timedelta(seconds=60), poll_interval=timedelta(seconds=60))
    rows = (row(0, ok=100, p99=900), row(1, ok=10, p99=50), row(2))
    observed = sampler.observe(snapshot(*rows), now=at(150))["blue"]  # window 01:30-02:30
    assert (observed.metrics.requests, observed.metrics.latency_p99_ms) == (10, 50)
    assert observed.minutes == rows


def test_a_stale_reading_is_not_a_baseline() -> None:
    sampler = Sampler(window=timedelta(seconds=1), poll_interval=timedelta(seconds=1))
    sampler.observe(snapshot(row(0, ok=10, p99=20)), now=at(1))
    late = sampler.observe(snapshot(row(0, ok=10, p99=20)), now=at(30))["blue"]
    assert not late.exact and late.metrics.requests == 10


def test_deployments_without_rows_have_no_data_and_forget_their_readings() -> None:
    sampler = Sampler(window=timedelta(seconds=1), poll_interval=timedelta(seconds=1))
    sampler.observe(snapshot(row(0, ok=10, p99=20)), now=at(1))
    empty = MetricsSnapshot(endpoint=EP, start=M0, end=M0)
    observed = sampler.observe(empty, now=at(2), deployments=["blue", "green"])
    assert {name: o.metrics.requests for name, o in observed.items()} == {"blue": 0, "green": 0}
    again = sampler.observe(snapshot(row(0, ok=10, p99=20)), now=at(3))["blue"]
    assert not again.exact  # its reading was dropped with its rows
