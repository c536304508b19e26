"""Autoscale on Azure: a policy becomes an Azure Monitor autoscale setting, and back."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from azure.mgmt.monitor import MonitorManagementClient

from deploy.azure import AzureMLBackend
from deploy.azure.autoscale import autoscale_resource, policy_from_resource
from deploy.errors import NotFoundError, SpecError
from deploy.types import AutoscalePolicy, DeploymentSpec, EndpointSpec, ModelRef
from tests.support.fake_arm import FakeArm
from tests.support.fake_arm_http import FakeCredential

ENDPOINT = "product-recommender"
DEPLOYMENT_ID = "/subscriptions/s/resourceGroups/rg/providers/X/onlineEndpoints/ep/deployments/d"


def test_long_intervals_become_windows_and_cooldowns() -> None:
    policy = AutoscalePolicy(
        min_instances=1,
        max_instances=4,
        target_utilization_percentage=60,
        polling_interval=600,
        scale_down_delay=900,
        metric="cpu",
    )
    resource = autoscale_resource(
        policy, deployment_id=DEPLOYMENT_ID, location="westeurope", name="n", current=9
    )
    (profile,) = resource.profiles
    assert (profile.capacity.minimum, profile.capacity.maximum) == ("1", "4")
    assert profile.capacity.default == "4"  # the current count, within the bounds
    scale_out, scale_in = profile.rules
    assert scale_out.metric_trigger.time_window == timedelta(minutes=10)
    assert scale_out.scale_action.cooldown == timedelta(minutes=10)
    assert scale_in.scale_action.cooldown == timedelta(minutes=15)
    assert scale_in.metric_trigger.threshold == 30
    assert policy_from_resource(resource) == policy


def test_a_setting_made_in_the_portal_is_read_from_its_profile() -> None:
    policy = AutoscalePolicy(min_instances=2, max_instances=6, target_utilization_percentage=80)
    resource = autoscale_resource(
        policy, deployment_id=DEPLOYMENT_ID, location="westeurope", name="n", current=2
    )
    resource.tags = {}
    resource.profiles[0].capacity.maximum = "8"
    read = policy_from_resource(resource)
    assert read == AutoscalePolicy(
        min_instances=2,
        max_instances=8,
        target_utilization_percentage=80,
        polling_interval=60,
        scale_down_delay=300,
        metric="cpu",
    )
    resource.enabled = False
    assert policy_from_resource(resource) is None


@pytest.fixture
async def blue(backend: AzureMLBackend, fake: FakeArm, code_dir: Path) -> FakeArm:
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    await backend.register_model("rec", "1", "azureml://datastores/workspaceblobstore/paths/m/")
    await backend.create_or_update_deployment(
        DeploymentSpec(
            name="blue",
            endpoint_name=ENDPOINT,
            model=ModelRef(name="rec", version="1"),
            code_path=str(code_dir),
            scoring_script="score.py",
            instance_count=2,
        )
    )
    fake.clear_calls()
    return fake


async def test_set_and_remove_autoscale(backend: AzureMLBackend, blue: FakeArm) -> None:
    policy = AutoscalePolicy(min_instances=1, max_instances=5, scale_down_delay=120)
    deployment = await backend.set_autoscale(ENDPOINT, "blue", policy)

    (put,) = blue.find("PUT", "/autoscalesettings/product-recommender-blue-autoscale")
    assert put.body["location"] == blue.location
    (profile,) = put.body["properties"]["profiles"]
    assert profile["capacity"] == {"minimum": "1", "maximum": "5", "default": "2"}
    assert profile["rules"][1]["scaleAction"]["cooldown"] == "PT2M"
    assert deployment.autoscale == policy
    assert (await backend.get_deployment(ENDPOINT, "blue")).autoscale == policy
    assert [d.autoscale for d in await backend.list_deployments(ENDPOINT)] == [policy]
    assert not blue.find("PUT", "/deployments/blue")

    removed = await backend.set_autoscale(ENDPOINT, "blue", None)
    assert blue.find("DELETE", "/autoscalesettings/product-recommender-blue-autoscale")
    assert removed.autoscale is None
    assert (await backend.get_deployment(ENDPOINT, "blue")).autoscale is None


async def test_an_existing_setting_is_updated_under_its_own_name(
    backend: AzureMLBackend, blue: FakeArm
) -> None:
    policy = AutoscalePolicy(min_instances=1, max_instances=3)
    resource = autoscale_resource(
        policy,
        deployment_id=blue.ml.deployments[ENDPOINT]["blue"]["id"],
        location=blue.location,
        name="made-in-the-portal",
        current=2,
    )
    portal = MonitorManagementClient(FakeCredential(), blue.subscription_id, transport=blue)
    portal.autoscale_settings.create_or_update(blue.resource_group, "made-in-the-portal", resource)
    bigger = AutoscalePolicy(min_instances=2, max_instances=9)
    await backend.set_autoscale(ENDPOINT, "blue", bigger)
    (put,) = blue.find("PUT", "/autoscalesettings/made-in-the-portal")[1:]
    assert put.body["properties"]["profiles"][0]["capacity"]["maximum"] == "9"
    assert list(blue.monitor.autoscale) == ["made-in-the-portal"]


async def test_bad_policies_and_missing_deployments_are_refused(
    backend: AzureMLBackend, blue: FakeArm
) -> None:
    with pytest.raises(SpecError, match="max_instances"):
        await backend.set_autoscale(
            ENDPOINT, "blue", AutoscalePolicy(min_instances=4, max_instances=2)
        )
    with pytest.raises(NotFoundError, match="Deployment 'green' does not exist"):
        await backend.set_autoscale(
            ENDPOINT, "green", AutoscalePolicy(min_instances=1, max_instances=2)
        )
    assert not blue.find("PUT", "/autoscalesettings/product-recommender-blue-autoscale")
