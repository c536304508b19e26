"""The fake ARM service enforces the real service's rules (checked through the real SDK)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from azure.ai.ml import MLClient
from azure.ai.ml.entities import (
    CodeConfiguration,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
)
from azure.core import PipelineClient
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest, HttpResponse
from azure.mgmt.monitor import MonitorManagementClient
from azure.monitor.querymetrics import MetricsClient

from deploy.azure.autoscale import autoscale_resource
from deploy.azure.storage import use_transport
from deploy.types import AutoscalePolicy
from tests.support.fake_arm import FakeArm
from tests.support.fake_arm_http import FakeCredential


@pytest.fixture
def ml(fake: FakeArm, code_dir: Path) -> Iterator[MLClient]:
    # The code folder is uploaded: the storage clients the SDK builds use the fake too.
    with use_transport(fake):
        yield _deployed(fake, code_dir)


def _deployed(fake: FakeArm, code_dir: Path) -> MLClient:
    client = MLClient(
        FakeCredential(),
        fake.subscription_id,
        fake.resource_group,
        fake.workspace,
        transport=fake,
        enable_telemetry=False,
    )
    client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="ep-one")).result()
    for name in ("blue", "green"):
        client.online_deployments.begin_create_or_update(
            ManagedOnlineDeployment(
                name=name,
                endpoint_name="ep-one",
                code_configuration=CodeConfiguration(code=str(code_dir), scoring_script="score.py"),
                instance_type="Standard_DS3_v2",
                instance_count=1,
            )
        ).result()
    return client


@pytest.mark.parametrize(
    ("traffic", "mirror", "reason"),
    [
        ({"blue": 60, "green": 60}, {}, "must sum to 100"),
        ({"blue": 100}, {"green": 60}, "cannot exceed 50 percent"),
        ({"blue": 100}, {"blue": 10}, "takes live traffic"),
        ({"red": 100}, {}, "does not exist"),
    ],
)
def test_traffic_rules(
    ml: MLClient, traffic: dict[str, int], mirror: dict[str, int], reason: str
) -> None:
    endpoint = ml.online_endpoints.get("ep-one")
    endpoint.traffic, endpoint.mirror_traffic = traffic, mirror
    with pytest.raises(HttpResponseError, match=reason) as refused:
        ml.online_endpoints.begin_create_or_update(endpoint).result()
    assert refused.value.status_code == 400


def test_managed_deployments_take_only_default_scale_settings(ml: MLClient, fake: FakeArm) -> None:
    # azure-ai-ml refuses this body itself, so it is sent as raw REST, as a template would be.
    client: PipelineClient[HttpRequest, HttpResponse] = PipelineClient(
        "https://management.azure.com", transport=fake
    )
    body = {
        "location": fake.location,
        "sku": {"name": "Default", "capacity": 1},
        "properties": {
            "endpointComputeType": "Managed",
            "scaleSettings": {"scaleType": "TargetUtilization", "minInstances": 1},
        },
    }
    request = HttpRequest(
        "PUT",
        f"https://management.azure.com{fake.ml.endpoint_id('ep-one')}/deployments/blue"
        "?api-version=2023-04-01-preview",
        json=body,
        headers={"Authorization": "Bearer fake-token"},
    )
    response = client.send_request(request)
    assert response.status_code == 400
    assert "only scale settings of type Default" in response.json()["error"]["message"]


def test_a_deployment_with_traffic_cannot_be_deleted(ml: MLClient) -> None:
    endpoint = ml.online_endpoints.get("ep-one")
    endpoint.traffic = {"blue": 100}
    ml.online_endpoints.begin_create_or_update(endpoint).result()
    with pytest.raises(HttpResponseError, match="has traffic"):
        ml.online_deployments.begin_delete("blue", "ep-one").result()
    ml.online_deployments.begin_delete("green", "ep-one").result()
    assert [d.name for d in ml.online_deployments.list("ep-one")] == ["blue"]


def test_autoscale_windows_shorter_than_five_minutes_are_refused(
    ml: MLClient, fake: FakeArm
) -> None:
    resource = autoscale_resource(
        AutoscalePolicy(min_instances=1, max_instances=2),
        deployment_id=fake.ml.deployments["ep-one"]["blue"]["id"],
        location=fake.location,
        name="short",
        current=1,
    )
    resource.profiles[0].rules[0].metric_trigger.time_window = timedelta(minutes=1)
    monitor = MonitorManagementClient(FakeCredential(), fake.subscription_id, transport=fake)
    with pytest.raises(HttpResponseError, match="between 5 minutes and 12 hours"):
        monitor.autoscale_settings.create_or_update(fake.resource_group, "short", resource)


def test_metrics_refuse_a_dimension_the_metric_lacks(ml: MLClient, fake: FakeArm) -> None:
    client = MetricsClient(
        f"https://{fake.location}.metrics.monitor.azure.com", FakeCredential(), transport=fake
    )
    with pytest.raises(HttpResponseError, match="does not support requested dimension"):
        client.query_resources(
            resource_ids=[fake.ml.endpoint_id("ep-one")],
            metric_namespace="Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
            metric_names=["RequestLatency_P99"],
            timespan=timedelta(minutes=5),
            granularity=timedelta(minutes=1),
            filter="statusCode eq '*'",
        )
