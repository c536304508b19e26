"""The engine against a real target process: accuracy, coordinated omission, counting, bounds."""

from __future__ import annotations

import asyncio
import base64
import itertools
import math

import pytest

from loadtest import (
    DEPLOYMENT_HEADER,
    LimitExceededError,
    Limits,
    LoadTestPlan,
    LoadTestResult,
    Progress,
    TargetNotAllowedError,
    run_load_test,
)
from tests.loadtest.targets import Target

pytestmark = pytest.mark.slow(budget=30)

LIMITS = Limits(max_requests=10_000, max_duration=30, max_rate=2_000, max_concurrency=128)
_names = itertools.count()


def unique(prefix: str) -> str:
    """A fresh route name: the server keeps one request counter per name."""
    return f"{prefix}{next(_names)}"


def within(measured: float, expected: float, tolerance: float = 0.05) -> bool:
    return abs(measured - expected) <= tolerance * expected


def nearest_rank(values: list[float], percentile: float) -> float:
    """The value at rank ceil(p * n), the definition HdrHistogram uses."""
    ordered = sorted(values)
    return ordered[max(math.ceil(percentile / 100 * len(ordered)), 1) - 1]


def assert_known_distribution(result: LoadTestResult, truth_s: list[float]) -> None:
    """The target injects 70% 200 ms, 27.5% 400 ms, 2.5% 1000 ms, and reports how long
    each request really took in its handler (a timer fires a little late, more so on a
    busy machine): the engine's percentiles must be within 5% of those."""
    truth = [1000 * t for t in truth_s]
    assert result.completed == result.ok == len(truth)
    stats = result.latency
    assert stats is not None
    # The injected distribution, as the server saw it (every checked rank is mid-band).
    assert 200 <= nearest_rank(truth, 50) < 400 <= nearest_rank(truth, 90)
    assert nearest_rank(truth, 95) < 1000 <= nearest_rank(truth, 99)
    expected = {p: nearest_rank(truth, p) for p in (50, 90, 95, 99)}
    expected_mean = sum(truth) / len(truth)
    measured = {50: stats.p50, 90: stats.p90, 95: stats.p95, 99: stats.p99}
    off = {
        f"p{p}": (measured[p], expected[p])
        for p in expected
        if not within(measured[p], expected[p])
    }
    if not within(stats.mean, expected_mean):
        off["mean"] = (stats.mean, expected_mean)
    assert not off, f"off by more than 5% (measured, true): {off}"
    assert stats.min >= min(truth)  # a latency never undercuts the server's own time


async def test_closed_loop_percentiles_match_the_injected_distribution(target: Target) -> None:
    # 160 is a multiple of 40, so the target serves exactly 112/44/4 of each delay.
    # (Workers start in lock-step and queue briefly in the server's HTTP layer, outside
    # the handler's own timing: a few milliseconds with 16 of them.)
    name = unique("c")
    plan = LoadTestPlan.closed(url=target.url(f"/dist/{name}"), requests=160, concurrency=16)
    result = await run_load_test(plan, limits=LIMITS)
    assert_known_distribution(result, target.get_json(f"/durations/{name}"))
    assert result.sent == 160
    assert result.errors == 0
    # 16 workers, at least 200 ms per request.
    assert result.throughput == pytest.approx(160 / result.elapsed)
    assert 30 < result.throughput < 80


async def test_open_loop_percentiles_match_the_injected_distribution(target: Target) -> None:
    name = unique("o")
    plan = LoadTestPlan.open(url=target.url(f"/dist/{name}"), rate=80, duration=2)
    result = await run_load_test(plan, limits=LIMITS)
    assert_known_distribution(result, target.get_json(f"/durations/{name}"))
    assert result.dropped_sends == 0


async def test_a_stall_hidden_by_the_closed_loop_shows_in_the_open_loops_p99(
    target: Target,
) -> None:
    # The target answers in 2 ms, and stalls fully for 600 ms once (at request 60).
    stall = "/stall/{}?after=60&ms=600&base=2"
    closed = await run_load_test(
        LoadTestPlan.closed(url=target.url(stall.format(unique("c"))), requests=600, concurrency=3),
        limits=LIMITS,
    )
    opened = await run_load_test(
        LoadTestPlan.open(url=target.url(stall.format(unique("o"))), rate=200, duration=1.6),
        limits=LIMITS,
    )
    assert closed.latency is not None and opened.latency is not None
    # The stall happened to both: some requests waited about 600 ms.
    assert closed.latency.max >= 550
    assert opened.latency.max >= 550
    # The closed loop had only its 3 requests in flight during the stall (0.5%): P99 hides it.
    assert closed.latency.p99 < 200
    # The open loop kept its schedule: ~120 requests queued behind the stall, and their
    # latency counts from when they should have been sent.
    assert opened.latency.p99 >= 450
    assert opened.latency.p90 >= 200
    assert opened.late_sends > 0
    assert closed.latency_from_send is None  # the closed loop times from the send already
    # The timeline shows when it happened.
    worst = max(opened.timeline, key=lambda b: b.max_ms or 0.0)
    assert worst.max_ms is not None and worst.max_ms >= 550
    assert worst.start < 1.5


async def test_the_open_loop_also_reports_the_uncorrected_time_from_each_send(
    target: Target,
) -> None:
    # Two connections: while the target stalls for 600 ms, the requests due meanwhile
    # wait for a connection, and only the two in flight are slow once sent.
    stall = "/stall/{}?after=60&ms=600&base=2"
    plan = LoadTestPlan.open(
        url=target.url(stall.format(unique("u"))), rate=200, duration=1.6, concurrency=2
    )
    result = await run_load_test(plan, limits=LIMITS)
    corrected, from_send = result.latency, result.latency_from_send
    assert corrected is not None and from_send is not None
    assert from_send.count == corrected.count == result.completed
    # Corrected (the headline): the ~120 requests due during the stall count their wait.
    assert corrected.p99 >= 450
    # From each send, as wrk and hey time it: the wait is gone, only 2 slow requests remain.
    assert from_send.max >= 550
    assert from_send.p99 < 200
    assert from_send.p50 <= corrected.p50


async def test_status_codes_are_counted(target: Target) -> None:
    plan = LoadTestPlan.closed(url=target.url(f"/status/{unique('s')}"), requests=100)
    result = await run_load_test(plan, limits=LIMITS)
    assert result.status_counts == {200: 80, 429: 10, 500: 10}
    assert result.ok == 80
    assert result.errors == 20
    assert result.error_counts == {}


async def test_connection_errors_are_counted(closed_port: int) -> None:
    plan = LoadTestPlan.closed(url=f"http://127.0.0.1:{closed_port}/score", requests=20)
    result = await run_load_test(plan, limits=LIMITS)
    assert result.sent == 20
    assert result.completed == 0
    assert result.error_counts == {"connection_error": 20}
    assert result.latency is None


async def test_timeouts_are_counted_and_bounded(target: Target) -> None:
    plan = LoadTestPlan.closed(
        url=target.url("/slow?ms=5000"), requests=4, concurrency=4, timeout=0.3
    )
    result = await run_load_test(plan, limits=LIMITS)
    assert result.error_counts == {"timeout": 4}
    assert result.completed == 0
    assert result.elapsed < 4  # bounded by the 0.3 s timeout, not the server's 5 s (loaded cores)


async def test_open_loop_drops_sends_that_find_no_connection(target: Target) -> None:
    # One connection, each request takes 2 s, timeout 0.3 s: most due requests wait
    # longer than the timeout for the connection and are dropped, never sent.
    plan = LoadTestPlan.open(
        url=target.url("/slow?ms=2000"), rate=20, duration=1, concurrency=1, timeout=0.3
    )
    result = await run_load_test(plan, limits=LIMITS)
    assert result.dropped_sends > 0
    assert result.sent + result.dropped_sends == plan.planned_requests
    assert result.error_counts.get("timeout", 0) == result.sent
    assert result.elapsed < 3


async def test_headers_body_and_deployment_reach_the_endpoint(target: Target) -> None:
    name = unique("e")
    plan = LoadTestPlan.closed(
        url=target.url(f"/echo/{name}?x=1"),
        requests=3,
        concurrency=1,
        headers={"Authorization": "Bearer secret-key"},
        body=b'{"data": [[1, 2, 3, 4, 5]]}',
        deployment="blue",
    )
    result = await run_load_test(plan, limits=LIMITS)
    assert result.ok == 3
    seen = target.get_json(f"/last/{name}")
    assert seen["method"] == "POST"
    assert seen["path"] == f"/echo/{name}?x=1"
    assert seen["headers"][DEPLOYMENT_HEADER] == "blue"
    assert seen["headers"]["Authorization"] == "Bearer secret-key"
    assert seen["headers"]["Content-Type"] == "application/json"
    assert base64.b64decode(seen["body"]) == b'{"data": [[1, 2, 3, 4, 5]]}'


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/chunked"), ("POST", "/close"), ("HEAD", "/fast")]
)
async def test_chunked_closing_and_bodiless_responses(
    target: Target, method: str, path: str
) -> None:
    plan = LoadTestPlan.closed(url=target.url(path), requests=30, concurrency=3, method=method)
    result = await run_load_test(plan, limits=LIMITS)
    assert result.ok == 30, (result.status_counts, result.error_counts)
    assert result.elapsed < 2


async def test_a_plan_over_the_limits_sends_nothing(target: Target) -> None:
    name = unique("e")
    plan = LoadTestPlan.closed(url=target.url(f"/echo/{name}"), requests=10_001)
    with pytest.raises(LimitExceededError):
        await run_load_test(plan, limits=LIMITS)
    with pytest.raises(TargetNotAllowedError):
        await run_load_test(LoadTestPlan.closed(url="http://10.1.2.3/score", requests=1))
    assert target.get_json(f"/count/{name}") == 0


async def test_closed_loop_stops_at_its_time_cap(target: Target) -> None:
    plan = LoadTestPlan.closed(
        url=target.url("/slow?ms=20"), requests=10_000, concurrency=2, duration=0.5
    )
    result = await run_load_test(plan, limits=LIMITS)
    assert not result.cancelled
    assert 0 < result.completed < 10_000
    assert result.completed == result.sent
    assert result.elapsed < 3  # its 0.5 s cap, not 10,000 x 20 ms (room for loaded cores)


async def test_open_loop_stops_by_itself(target: Target) -> None:
    plan = LoadTestPlan.open(url=target.url("/fast"), rate=100, duration=1)
    result = await run_load_test(plan, limits=LIMITS)
    assert result.sent == result.ok == 100
    assert 0.98 <= result.elapsed < 2.5  # its 1 s schedule, with room for loaded cores


async def test_cancel_returns_partial_results_and_progress_is_reported(target: Target) -> None:
    cancel = asyncio.Event()
    seen: list[Progress] = []

    async def progress(snapshot: Progress) -> None:
        seen.append(snapshot)
        if snapshot.completed >= 10:
            cancel.set()

    plan = LoadTestPlan.closed(url=target.url("/slow?ms=10"), requests=10_000, concurrency=4)
    result = await run_load_test(
        plan, limits=LIMITS, progress=progress, progress_interval=0.05, cancel=cancel
    )
    assert result.cancelled
    assert 10 <= result.completed < 10_000
    assert result.latency is not None and result.latency.count == result.completed
    assert len(seen) >= 2
    assert all(p.planned == 10_000 for p in seen)
    assert seen[-1].completed == result.completed  # the final snapshot
    assert [p.elapsed for p in seen] == sorted(p.elapsed for p in seen)
    assert seen[-2].p99_ms is not None and seen[-2].p99_ms >= 10


async def test_a_failing_progress_callback_stops_the_run(target: Target) -> None:
    async def progress(snapshot: Progress) -> None:
        raise RuntimeError("slack is down")

    plan = LoadTestPlan.closed(url=target.url("/slow?ms=10"), requests=10_000, concurrency=2)
    with pytest.raises(RuntimeError, match="slack is down"):
        await run_load_test(plan, limits=LIMITS, progress=progress, progress_interval=0.05)


async def test_cancel_before_the_start_sends_nothing(target: Target) -> None:
    name = unique("e")
    cancel = asyncio.Event()
    cancel.set()
    plan = LoadTestPlan.open(url=target.url(f"/echo/{name}"), rate=100, duration=5)
    result = await run_load_test(plan, limits=LIMITS, cancel=cancel)
    assert result.cancelled
    assert result.sent == result.completed == 0
    assert result.latency is None
    assert target.get_json(f"/count/{name}") == 0


async def test_open_loop_latency_never_undercuts_the_service_time(target: Target) -> None:
    # Ticks send up to 1 ms ahead of the intended time: those requests must be timed
    # from their actual send, never from the (later) intended time.
    plan = LoadTestPlan.open(url=target.url("/slow?ms=20"), rate=200, duration=1)
    result = await run_load_test(plan, limits=LIMITS)
    assert result.ok == 200
    assert result.latency is not None and result.latency.min >= 20.0
