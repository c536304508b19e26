"""The Prometheus text of the control API's ``GET /metrics``: parsed back with prometheus_client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from deploy.local.metrics.prometheus import render
from deploy.types import DeploymentMetrics, MetricsSnapshot, MinuteMetrics

START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
EP = "product-recommender"


def snapshot() -> MetricsSnapshot:
    window = MinuteMetrics(
        timestamp=START,
        requests=130,
        requests_by_status={"200": 100, "201": 5, "404": 7, "429": 3, "503": 10, "5xx": 5},
        latency_p50_ms=12.0,
        latency_p99_ms=80.0,
        deployment_capacity=2.0,
    )
    idle = MinuteMetrics(timestamp=START)
    return MetricsSnapshot(
        endpoint=EP,
        start=START,
        end=START + timedelta(minutes=5),
        deployments={
            "blue": DeploymentMetrics(deployment="blue", minutes=(window,), window=window),
            "green": DeploymentMetrics(deployment="green", minutes=(idle,), window=idle),
        },
    )


def samples(name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = render([snapshot()]).decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_requests_by_status_code_class() -> None:
    by_class = samples("flightdeck_requests_by_status_code_class")
    labels = (("deployment", "blue"), ("endpoint", EP))
    assert by_class == {
        (*labels, ("status_code_class", "2xx")): 105.0,
        (*labels, ("status_code_class", "4xx")): 10.0,
        (*labels, ("status_code_class", "5xx")): 15.0,  # "503" and Azure's class-only "5xx"
    }


def test_the_other_series_stay() -> None:
    blue = (("deployment", "blue"), ("endpoint", EP))
    assert samples("flightdeck_requests_per_minute")[blue] == 26.0  # 130 over 5 minutes
    assert samples("flightdeck_requests_by_status")[(*blue, ("status_code", "503"))] == 10.0
    latency = samples("flightdeck_request_latency_ms")
    assert latency[(*blue, ("quantile", "0.99"))] == 80.0
    assert (*blue, ("quantile", "0.9")) not in latency  # no data, no sample
    green = (("deployment", "green"), ("endpoint", EP))
    assert samples("flightdeck_requests_per_minute")[green] == 0.0
    assert not any(
        ("deployment", "green") in k for k in samples("flightdeck_requests_by_status_code_class")
    )
