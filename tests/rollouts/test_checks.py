"""Judging one interval: inconclusive, fail or pass, each check with its value and limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deploy.types import MinuteMetrics
from rollouts import judge
from tests.rollouts.kit import spec

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)


def metrics(
    requests: int, *, failed: int = 0, status: str = "424", p99: float | None = 80.0
) -> MinuteMetrics:
    by_status = {"200": requests - failed, **({status: failed} if failed else {})}
    return MinuteMetrics(
        timestamp=T1, requests=requests, requests_by_status=by_status, latency_p99_ms=p99
    )


def test_a_healthy_interval_passes() -> None:
    result = judge(
        spec(), canary=metrics(150), baseline=metrics(900), step=0, weight=10, start=T0, end=T1
    )
    assert result.verdict == "pass"
    assert [c.name for c in result.checks] == ["requests", "p99", "error_rate"]
    assert result.summary() == "150 requests (at least 100); P99 80 ms ≤ 500 ms; errors 0% ≤ 1%"


def test_too_few_requests_hold_the_step() -> None:
    result = judge(
        spec(), canary=metrics(40, failed=20), baseline=None, step=0, weight=10, start=T0, end=T1
    )
    assert result.verdict == "inconclusive"
    assert "40 requests, fewer than 100: inconclusive" in result.summary()


def test_slow_or_failing_canaries_fail_with_their_numbers() -> None:
    slow = judge(
        spec(), canary=metrics(200, p99=812.0), baseline=None, step=1, weight=50, start=T0, end=T1
    )
    assert slow.verdict == "fail"
    assert [c.describe() for c in slow.failed_checks()] == ["P99 812 ms > 500 ms"]
    failing = judge(
        spec(), canary=metrics(200, failed=10), baseline=None, step=1, weight=50, start=T0, end=T1
    )
    assert failing.verdict == "fail"
    assert [c.describe() for c in failing.failed_checks()] == ["errors 5% > 1%"]
    # 5xx and 408 count too; a 404 (the caller's mistake) does not.
    assert (
        judge(
            spec(),
            canary=metrics(200, failed=10, status="503"),
            baseline=None,
            step=0,
            weight=10,
            start=T0,
            end=T1,
        ).verdict
        == "fail"
    )
    assert (
        judge(
            spec(),
            canary=metrics(200, failed=10, status="404"),
            baseline=None,
            step=0,
            weight=10,
            start=T0,
            end=T1,
        ).verdict
        == "pass"
    )


def test_against_the_baseline() -> None:
    limits = spec(max_p99_increase=20.0)
    worse = judge(
        limits,
        canary=metrics(200, p99=130.0),
        baseline=metrics(800, p99=100.0),
        step=0,
        weight=10,
        start=T0,
        end=T1,
    )
    assert worse.verdict == "fail"
    assert worse.baseline_p99_ms == 100.0
    assert [c.describe() for c in worse.failed_checks()] == ["P99 30% above the baseline's > +20%"]
    close = judge(
        limits,
        canary=metrics(200, p99=110.0),
        baseline=metrics(800, p99=100.0),
        step=0,
        weight=10,
        start=T0,
        end=T1,
    )
    assert close.verdict == "pass"
    # No baseline traffic: that check has no data and does not fail the interval.
    alone = judge(
        limits,
        canary=metrics(200, p99=110.0),
        baseline=MinuteMetrics(timestamp=T1),
        step=0,
        weight=10,
        start=T0,
        end=T1,
    )
    assert alone.verdict == "pass"
    assert "P99 vs baseline: no data" in alone.summary()


def test_a_result_survives_json() -> None:
    result = judge(
        spec(),
        canary=metrics(200, failed=10),
        baseline=metrics(900),
        step=1,
        weight=50,
        start=T0,
        end=T1,
    )
    assert type(result).from_json(result.to_json()) == result
