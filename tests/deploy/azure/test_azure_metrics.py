"""Metrics on Azure: metrics:getBatch through MetricsClient, mapped to a MetricsSnapshot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deploy.azure import AzureMLBackend, AzureSettings
from deploy.errors import NotFoundError, ValidationError
from deploy.types import DeploymentSpec, EndpointSpec, ModelRef
from tests.support.fake_arm import FakeArm
from tests.support.fake_arm_http import FakeCredential

ENDPOINT = "product-recommender"
NOW = datetime(2026, 11, 24, 12, 30, 30, tzinfo=UTC)


async def deploy(backend: AzureMLBackend, code_dir: Path, **variables: str) -> None:
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    await backend.register_model("rec", "1", "azureml://datastores/workspaceblobstore/paths/m/")
    for name in ("blue", "green"):
        await backend.create_or_update_deployment(
            DeploymentSpec(
                name=name,
                endpoint_name=ENDPOINT,
                model=ModelRef(name="rec", version="1"),
                code_path=str(code_dir),
                scoring_script="score.py",
                instance_count=2 if name == "blue" else 1,
                environment_variables=variables if name == "green" else {},
            )
        )


async def test_requests_sent_to_the_scoring_uri_show_in_the_snapshot(
    backend: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    await deploy(backend, code_dir, FAKE_SCORE_STATUS="503")
    await backend.set_traffic(ENDPOINT, {"blue": 100})
    for _ in range(5):
        assert (await backend.invoke(ENDPOINT, b"{}")).status == 200
    for _ in range(2):
        assert (await backend.invoke(ENDPOINT, b"{}", deployment="green")).status == 503
    fake.metrics.record_cpu(ENDPOINT, "blue", 42.0, fake.clock())
    fake.clear_calls()

    snapshot = await backend.metrics(ENDPOINT, timedelta(minutes=5))

    assert snapshot.endpoint == ENDPOINT
    assert snapshot.end - snapshot.start == timedelta(minutes=5)
    assert snapshot.end.second == 0
    assert snapshot.start <= datetime.now(UTC) < snapshot.end
    assert set(snapshot.deployments) == {"blue", "green"}
    blue = snapshot.deployments["blue"].window
    assert blue.requests == 5
    assert blue.requests_by_status == {"200": 5}
    assert blue.latency_p50_ms is not None and blue.latency_p99_ms is not None
    assert 0 < blue.latency_p50_ms <= blue.latency_p99_ms
    assert blue.cpu_utilization_percentage == 42.0
    assert blue.deployment_capacity == 2.0
    green = snapshot.deployments["green"]
    assert green.window.requests == 2
    assert green.window.errors_5xx == 2
    assert sum(m.requests for m in green.minutes) == 2
    stamps = [m.timestamp for m in green.minutes]
    assert stamps == sorted(stamps)
    assert all(snapshot.start <= s < snapshot.end for s in stamps)

    batches = fake.find("POST", f"/subscriptions/{fake.subscription_id}/metrics:getBatch")
    assert {c.host for c in batches} == {f"{fake.location}.metrics.monitor.azure.com"}
    requests, latency, gauges, capacity = batches
    # Microsoft lists only Average for RequestsPerMinute: asking for Total reads zeros.
    assert requests.query["metricnames"] == "RequestsPerMinute"
    assert requests.query["aggregation"] == "Average"
    assert "statusCode eq '*'" in requests.query["filter"]
    assert latency.query["metricnames"] == (
        "RequestLatency_P50,RequestLatency_P90,RequestLatency_P95,RequestLatency_P99"
    )
    assert latency.query["filter"] == "deployment eq '*'"
    assert latency.query["interval"] == "PT1M"
    assert latency.body == {"resourceids": [fake.ml.endpoint_id(ENDPOINT)]}
    assert gauges.query["metricnamespace"].endswith("/onlineEndpoints/deployments")
    assert sorted(gauges.body["resourceids"]) == sorted(
        fake.ml.deployments[ENDPOINT][d]["id"] for d in ("blue", "green")
    )
    # DeploymentCapacity is split by instance: an unsplit Average is 1 per instance.
    assert capacity.query["metricnames"] == "DeploymentCapacity"
    assert capacity.query["filter"] == "instanceId eq '*'"

    # The metric definitions are read once per resource, then cached.
    definitions = fake.find("GET", "/providers/Microsoft.Insights/metricDefinitions")
    assert sorted(c.path.lower() for c in definitions) == sorted(
        f"{rid}/providers/microsoft.insights/metricdefinitions".lower()
        for rid in [fake.ml.endpoint_id(ENDPOINT)]
        + [fake.ml.deployments[ENDPOINT][d]["id"] for d in ("blue", "green")]
    )
    await backend.metrics(ENDPOINT, timedelta(minutes=5))
    assert len(fake.find("GET", "/providers/Microsoft.Insights/metricDefinitions")) == 3


async def test_minutes_windows_and_percentiles_follow_the_clock(
    fake: FakeArm, code_dir: Path
) -> None:
    settings = AzureSettings(
        subscription_id=fake.subscription_id,
        resource_group=fake.resource_group,
        workspace_name=fake.workspace,
        progress_interval=0.05,
    )
    backend = AzureMLBackend(
        settings=settings,
        credential=FakeCredential(),
        transport=fake,
        clock=NOW.timestamp,
    )
    try:
        await deploy(backend, code_dir)
        minute = datetime(2026, 11, 24, 12, 26, tzinfo=UTC).timestamp()
        fake.metrics.record_request(ENDPOINT, "blue", 200, 999.0, minute - 1)  # before the window
        for i in range(1, 11):
            fake.metrics.record_request(ENDPOINT, "blue", 200, 10.0 * i, minute + i)
        fake.metrics.record_request(ENDPOINT, "blue", 429, 5.0, minute + 4 * 60 + 10)

        snapshot = await backend.metrics(ENDPOINT, timedelta(minutes=5))
    finally:
        await backend.aclose()

    assert snapshot.start == datetime(2026, 11, 24, 12, 26, tzinfo=UTC)
    assert snapshot.end == datetime(2026, 11, 24, 12, 31, tzinfo=UTC)
    blue = snapshot.deployments["blue"]
    first = blue.minutes[0]
    assert first.timestamp == snapshot.start
    assert first.requests == 10
    assert (first.latency_p50_ms, first.latency_p90_ms, first.latency_p99_ms) == (50, 90, 100)
    last = [m for m in blue.minutes if m.requests][-1]
    assert last.timestamp == datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    assert last.requests_by_status == {"429": 1}
    assert blue.window.requests == 11
    assert blue.window.errors_4xx == 1
    # The window's P99 weighs each minute's P99 by its requests: (10 x 100 + 1 x 5) / 11.
    assert blue.window.latency_p99_ms == pytest.approx((10 * 100 + 5) / 11)
    assert snapshot.deployments["green"].window.requests == 0


@pytest.mark.parametrize("window", [timedelta(seconds=30), timedelta(days=30, minutes=1)])
async def test_a_window_outside_one_minute_to_thirty_days_is_refused(
    backend: AzureMLBackend, fake: FakeArm, window: timedelta
) -> None:
    with pytest.raises(ValidationError, match="between 1 and 43200 minutes"):
        await backend.metrics(ENDPOINT, window)
    assert fake.calls == []


async def test_metrics_of_a_missing_endpoint(backend: AzureMLBackend) -> None:
    with pytest.raises(NotFoundError, match="Endpoint 'nowhere' does not exist"):
        await backend.metrics("nowhere", timedelta(minutes=5))


async def test_the_capacity_peak_reads_seven_days_of_minutes(fake: FakeArm, code_dir: Path) -> None:
    """``/capacity`` without --target-rate sizes for the busiest minute of the last 7 days:
    one query over the week at one-minute grain finds a minute of 3 days ago."""
    from commands.capacity import peak_rate

    settings = AzureSettings(
        subscription_id=fake.subscription_id,
        resource_group=fake.resource_group,
        workspace_name=fake.workspace,
        progress_interval=0.05,
    )
    backend = AzureMLBackend(
        settings=settings, credential=FakeCredential(), transport=fake, clock=NOW.timestamp
    )
    try:
        await deploy(backend, code_dir)
        busy = (NOW - timedelta(days=3)).replace(second=0).timestamp()
        for i in range(180):  # 180 in one minute: 3 req/s
            fake.metrics.record_request(ENDPOINT, "blue", 200, 10.0, busy + i / 4)
        for i in range(60):
            fake.metrics.record_request(ENDPOINT, "green", 200, 10.0, NOW.timestamp() - 20 + i / 4)
        old = (NOW - timedelta(days=8)).timestamp()
        for i in range(600):  # busier, but before the window
            fake.metrics.record_request(ENDPOINT, "blue", 200, 10.0, old + i / 20)
        assert await peak_rate(backend, ENDPOINT) == pytest.approx(3.0)
    finally:
        await backend.aclose()
