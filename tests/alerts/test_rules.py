"""What each rule measures from a deployment's metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.rules import DEFAULT_RULES, Rule
from deploy.types import MinuteMetrics

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def minute(**kwargs: object) -> MinuteMetrics:
    return MinuteMetrics(timestamp=T0, **kwargs)  # type: ignore[arg-type]


def test_defaults_are_p99_500ms_for_3m_and_errors_1pct_for_2m() -> None:
    assert [r.describe() for r in DEFAULT_RULES] == [
        "P99 latency > 500 ms for 3m",
        "error rate (5xx, 408, 424) > 1% for 2m",
    ]


def test_error_rate_counts_5xx_and_4xx_only_when_asked() -> None:
    metrics = minute(requests=200, requests_by_status={"200": 180, "500": 4, "429": 16})
    assert Rule(kind="error_rate", threshold=1).measure(metrics) == pytest.approx(2.0)
    with_4xx = Rule(kind="error_rate", threshold=1, include_4xx=True)
    assert with_4xx.measure(metrics) == pytest.approx(10.0)


def test_error_rate_without_requests_is_no_data() -> None:
    rule = Rule(kind="error_rate", threshold=1)
    assert rule.measure(minute()) is None
    assert not rule.breached(None)


def test_latency_rule_is_strictly_above_the_threshold() -> None:
    rule = Rule(kind="latency_p99", threshold=500)
    assert not rule.breached(500.0)
    assert rule.breached(500.1)


def test_no_traffic_rule() -> None:
    rule = Rule(kind="no_traffic", duration=timedelta(minutes=10))
    assert rule.breached(rule.measure(minute()))
    assert not rule.breached(rule.measure(minute(requests=1, requests_by_status={"200": 1})))
    assert rule.describe() == "no traffic for 10m"


def test_model_failures_count_as_errors() -> None:
    # A model's own 500 reaches the caller as 424; a model that times out as 408.
    metrics = minute(requests=100, requests_by_status={"200": 90, "424": 6, "408": 2, "429": 2})
    assert Rule(kind="error_rate", threshold=1).measure(metrics) == pytest.approx(8.0)
    assert Rule(kind="error_rate", include_4xx=True).measure(metrics) == pytest.approx(10.0)


def test_values_and_thresholds_for_people() -> None:
    p99 = Rule(kind="latency_p99", threshold=500)
    errors = Rule(kind="error_rate", threshold=1)
    quiet = Rule(kind="no_traffic")
    assert (p99.format_value(742.4), p99.format_threshold()) == ("742 ms", "500 ms")
    assert (errors.format_value(3.25), errors.format_threshold()) == ("3.25%", "1%")
    assert (quiet.format_value(0), quiet.format_threshold()) == ("0 requests", "no requests")
    assert p99.format_value(None) == "no data"
    assert Rule(kind="error_rate", duration=timedelta(seconds=5)).describe().endswith("for 5s")
