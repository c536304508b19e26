"""Metrics as Azure Monitor serves them: supported aggregations only, missing metrics, 429s.

The fake serves each metric only the aggregations and dimensions Microsoft's
supported-metrics reference lists (``tests/support/fake_arm_metrics``) and throttles
now and then (``tests/support/fake_arm_throttle``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from deploy.azure import AzureMLBackend
from deploy.azure.metrics import capacity
from deploy.errors import BackendUnavailableError, ValidationError
from deploy.types import DeploymentSpec, EndpointSpec, ModelRef
from tests.support.fake_arm import FakeArm
from tests.support.fake_arm_http import FakeCredential

ENDPOINT = "product-recommender"


@pytest.fixture
async def served(backend: AzureMLBackend, fake: FakeArm, code_dir: Path) -> FakeArm:
    """Blue (3 instances) takes the traffic: 4 requests answered 200; green answers 1 with 503."""
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    await backend.register_model("rec", "1", "azureml://datastores/workspaceblobstore/paths/m/")
    for name, count in (("blue", 3), ("green", 1)):
        await backend.create_or_update_deployment(
            DeploymentSpec(
                name=name,
                endpoint_name=ENDPOINT,
                model=ModelRef(name="rec", version="1"),
                code_path=str(code_dir),
                scoring_script="score.py",
                instance_count=count,
                environment_variables={"FAKE_SCORE_STATUS": "503"} if name == "green" else {},
            )
        )
    await backend.set_traffic(ENDPOINT, {"blue": 100})
    for _ in range(4):
        assert (await backend.invoke(ENDPOINT, b"{}")).status == 200
    assert (await backend.invoke(ENDPOINT, b"{}", deployment="green")).status == 503
    fake.clear_calls()
    return fake


async def test_a_service_that_refuses_unsupported_aggregations_still_answers(
    backend: AzureMLBackend, served: FakeArm
) -> None:
    served.metrics.unsupported = "refuse"
    snapshot = await backend.metrics(ENDPOINT, timedelta(minutes=5))
    blue, green = snapshot.deployments["blue"].window, snapshot.deployments["green"].window
    assert (blue.requests, blue.requests_by_status) == (4, {"200": 4})
    assert (green.requests, green.errors_5xx) == (1, 1)
    asked = {
        c.query["metricnames"]: c.query["aggregation"]
        for c in served.find("POST", "/metrics:getBatch")
    }
    assert asked["RequestsPerMinute"] == "Average"
    assert asked["DeploymentCapacity"] == "Average"


@pytest.mark.parametrize("reading", ["per-instance", "count"])
async def test_deployment_capacity_counts_instances_under_either_reading(
    backend: AzureMLBackend, served: FakeArm, reading: str
) -> None:
    served.metrics.capacity_reading = reading
    snapshot = await backend.metrics(ENDPOINT, timedelta(minutes=5))
    assert snapshot.deployments["blue"].window.deployment_capacity == 3.0
    assert snapshot.deployments["green"].window.deployment_capacity == 1.0
    assert all(m.deployment_capacity == 3.0 for m in snapshot.deployments["blue"].minutes)


def test_capacity_adds_instances_or_takes_a_reported_count() -> None:
    assert capacity([1.0, 1.0, 1.0]) == 3.0  # one series per instance, each reporting itself
    assert capacity([1.0, 0.5]) == 1.5  # an instance present half the minute
    assert capacity([3.0]) == 3.0  # one series reporting the count
    assert capacity([3.0, 3.0, 3.0]) == 3.0  # each instance reporting the count
    assert capacity([]) is None


async def test_without_status_codes_requests_are_counted_by_class(
    backend: AzureMLBackend, served: FakeArm, caplog: pytest.LogCaptureFixture
) -> None:
    served.metrics.remove("RequestsPerMinute", "statusCode")
    snapshot = await backend.metrics(ENDPOINT, timedelta(minutes=5))
    assert snapshot.deployments["blue"].window.requests_by_status == {"2xx": 4}
    assert snapshot.deployments["green"].window.errors_5xx == 1
    (request,) = [
        c for c in served.find("POST", "/metrics:getBatch") if "RequestsPerMinute" in c.url
    ]
    assert request.query["filter"] == "deployment eq '*' and statusCodeClass eq '*'"
    assert "has no dimension 'statusCode'" in caplog.text


async def test_a_metric_azure_does_not_publish_is_named(
    backend: AzureMLBackend, served: FakeArm, caplog: pytest.LogCaptureFixture
) -> None:
    served.metrics.remove("CpuUtilizationPercentage")
    snapshot = await backend.metrics(ENDPOINT, timedelta(minutes=5))
    assert snapshot.deployments["blue"].window.cpu_utilization_percentage is None
    assert snapshot.deployments["blue"].window.requests == 4
    assert "does not publish CpuUtilizationPercentage" in caplog.text

    # Definitions are cached per resource: a backend that reads them afresh sees it gone.
    served.metrics.remove("RequestsPerMinute")
    fresh = AzureMLBackend(settings=backend.settings, credential=FakeCredential(), transport=served)
    try:
        with pytest.raises(ValidationError, match="does not publish the metric RequestsPerMinute"):
            await fresh.metrics(ENDPOINT, timedelta(minutes=5))
    finally:
        await fresh.aclose()


async def test_throttled_queries_are_retried_after_retry_after(
    backend: AzureMLBackend, served: FakeArm
) -> None:
    served.throttle.retry_after = 7
    served.throttle.next(3)
    snapshot = await backend.metrics(ENDPOINT, timedelta(minutes=5))
    assert snapshot.deployments["blue"].window.requests == 4
    assert len(served.throttle.throttled) >= 3
    assert served.throttle.waits[-3:] == [7.0, 7.0, 7.0]  # the SDK waited as Azure asked


async def test_throttling_that_outlasts_the_retries_says_so(
    backend: AzureMLBackend, served: FakeArm
) -> None:
    served.throttle.every = 1
    with pytest.raises(BackendUnavailableError, match="throttling"):
        await backend.metrics(ENDPOINT, timedelta(minutes=5))
