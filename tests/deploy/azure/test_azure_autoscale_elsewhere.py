"""Autoscale settings made elsewhere (the portal, templates): kept, and read as Azure applies them.

The portal's setting below is the REST API specification's own example
(specification/monitor/.../2022-10-01/examples/createOrUpdateAutoscaleSetting.json) aimed
at a deployment: a fixed-date profile, a weekly recurrence profile, notifications,
``predictiveAutoscalePolicy`` and tags, plus the default profile Flightdeck may own.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.monitor.models import AutoscaleSettingResource

from deploy.azure import AzureMLBackend
from deploy.azure.autoscale import policy_from_resource, profile_in_force
from deploy.types import AutoscalePolicy, DeploymentSpec, EndpointSpec, ModelRef
from tests.support.fake_arm import FakeArm
from tests.support.fake_arm_http import Call

ENDPOINT = "product-recommender"
CPU = "CpuUtilizationPercentage"
LATENCY = "RequestLatency"


def rule(resource: str, metric: str, direction: str, threshold: float) -> dict[str, Any]:
    return {
        "metricTrigger": {
            "metricName": metric,
            "metricNamespace": "",
            "metricResourceUri": resource,
            "timeGrain": "PT1M",
            "statistic": "Average",
            "timeWindow": "PT10M",
            "timeAggregation": "Average",
            "operator": "GreaterThan" if direction == "Increase" else "LessThan",
            "threshold": threshold,
            "dividePerInstance": False,
        },
        "scaleAction": {"direction": direction, "type": "ChangeCount", "value": "1",
                        "cooldown": "PT5M"},
    }  # fmt: skip


def portal_setting(deployment_id: str, endpoint_id: str, location: str) -> dict[str, Any]:
    def profile(name: str, low: int, high: int, **schedule: Any) -> dict[str, Any]:
        return {
            "name": name,
            "capacity": {"minimum": str(low), "maximum": str(high), "default": str(low)},
            "rules": [rule(deployment_id, CPU, "Increase", 75),
                      rule(deployment_id, CPU, "Decrease", 25)],
            **schedule,
        }  # fmt: skip

    default = profile("default", 1, 3)
    default["rules"].append(rule(endpoint_id, LATENCY, "Increase", 800))
    return {
        "location": location,
        "tags": {"owner": "ml-platform", "cost-center": "42"},
        "properties": {
            "profiles": [
                profile("black-friday", 8, 20, fixedDate={"timeZone": "UTC",
                        "start": "2026-11-27T00:00:00Z", "end": "2026-11-28T00:00:00Z"}),
                default,
                profile("weekend", 2, 4, recurrence={"frequency": "Week", "schedule": {
                    "timeZone": "W. Europe Standard Time", "days": ["Saturday"], "hours": [0],
                    "minutes": [0]}}),
                profile("weekdays", 1, 3, recurrence={"frequency": "Week", "schedule": {
                    "timeZone": "W. Europe Standard Time", "days": ["Monday"], "hours": [0],
                    "minutes": [0]}}),
            ],
            "enabled": True,
            "predictiveAutoscalePolicy": {"scaleMode": "ForecastOnly",
                                          "scaleLookAheadTime": "PT30M"},
            "targetResourceUri": deployment_id,
            "notifications": [{
                "operation": "Scale",
                "email": {"sendToSubscriptionAdministrator": False,
                          "sendToSubscriptionCoAdministrators": False,
                          "customEmails": ["oncall@example.com"]},
                "webhooks": [{"serviceUri": "https://hooks.example.com/scale", "properties": {}}],
            }],
        },
    }  # fmt: skip


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


def put_in_portal(fake: FakeArm, name: str, body: dict[str, Any]) -> None:
    """PUT the setting as the portal does (straight to the service, no SDK)."""
    path = (
        f"/subscriptions/{fake.subscription_id}/resourceGroups/{fake.resource_group}"
        f"/providers/microsoft.insights/autoscalesettings/{name}"
    )
    call = Call("PUT", f"https://management.azure.com{path}", "management.azure.com", path,
                {"api-version": "2022-10-01"}, {}, body)  # fmt: skip
    reply = fake.monitor.handle(call)
    assert reply.status in (200, 201), reply.body


async def test_a_policy_changes_only_flightdecks_profile_of_a_portal_setting(
    backend: AzureMLBackend, blue: FakeArm
) -> None:
    deployment_id = blue.ml.deployments[ENDPOINT]["blue"]["id"]
    made = portal_setting(deployment_id, blue.ml.endpoint_id(ENDPOINT), blue.location)
    put_in_portal(blue, "made-in-the-portal", copy.deepcopy(made))

    policy = AutoscalePolicy(min_instances=2, max_instances=6, target_utilization_percentage=60)
    await backend.set_autoscale(ENDPOINT, "blue", policy)

    (put,) = blue.find("PUT", "/autoscalesettings/made-in-the-portal")
    sent = put.body["properties"]
    kept = blue.monitor.autoscale["made-in-the-portal"]
    assert sent["notifications"] == made["properties"]["notifications"]
    assert sent["predictiveAutoscalePolicy"] == made["properties"]["predictiveAutoscalePolicy"]
    assert kept["properties"]["predictiveAutoscalePolicy"]["scaleMode"] == "ForecastOnly"
    assert put.body["tags"]["owner"] == "ml-platform" and "flightdeck-policy" in put.body["tags"]
    profiles = {p["name"]: p for p in sent["profiles"]}
    assert list(profiles) == ["black-friday", "default", "weekend", "weekdays"]
    for name in ("black-friday", "weekend", "weekdays"):
        before = next(p for p in made["properties"]["profiles"] if p["name"] == name)
        assert profiles[name]["capacity"] == before["capacity"]
        assert (
            profiles[name].get("fixedDate", {}).get("start", "x")[:10]
            == (before.get("fixedDate", {}).get("start", "x")[:10])
        )
        assert profiles[name].get("recurrence", {}).get("schedule", {}).get("days") == (
            before.get("recurrence", {}).get("schedule", {}).get("days")
        )
    mine = profiles["default"]
    assert mine["capacity"] == {"minimum": "2", "maximum": "6", "default": "2"}
    cpu = [r for r in mine["rules"] if r["metricTrigger"]["metricName"] == CPU]
    assert sorted(r["metricTrigger"]["threshold"] for r in cpu) == [30, 60]
    assert [r["metricTrigger"]["metricName"] for r in mine["rules"]].count(LATENCY) == 1


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def resource(fake: FakeArm) -> AutoscaleSettingResource:
    made = portal_setting("/s/d", "/s/e", "westeurope")
    made["tags"] = {}
    body = {"name": "n", "id": "/x/n", "type": "Microsoft.Insights/autoscaleSettings", **made}
    return AutoscaleSettingResource.deserialize(body)


@pytest.mark.parametrize(
    ("now", "profile", "bounds"),
    [
        (at(2026, 11, 27, 12, 0), "black-friday", (8, 20)),  # a Friday inside the fixed date
        (at(2026, 11, 29, 9, 0), "weekend", (2, 4)),  # Sunday: Saturday's profile runs on
        (at(2026, 11, 28, 0, 30), "weekend", (2, 4)),  # Saturday 01:30 in Berlin, fixed date over
        (at(2026, 12, 4, 23, 30), "weekend", (2, 4)),  # Saturday 00:30 in Berlin already
        (at(2026, 12, 1, 9, 0), "weekdays", (1, 3)),  # Tuesday: Monday's profile runs on
    ],
)
def test_the_policy_is_read_from_the_profile_in_force(
    fake: FakeArm, now: datetime, profile: str, bounds: tuple[int, int]
) -> None:
    setting = resource(fake)
    assert setting.profiles[0].name == "black-friday"
    found = profile_in_force(setting, now)
    assert found is not None and found.name == profile
    policy = policy_from_resource(setting, now=now)
    assert policy is not None and (policy.min_instances, policy.max_instances) == bounds
    assert policy.target_utilization_percentage == 75


def test_without_schedules_in_force_the_default_profile_applies(fake: FakeArm) -> None:
    setting = resource(fake)
    setting.profiles = [p for p in setting.profiles if p.recurrence is None]
    found = profile_in_force(setting, at(2026, 12, 3, 9, 0))
    assert found is not None and found.name == "default"


async def test_autoscale_settings_are_read_across_pages(
    backend: AzureMLBackend, blue: FakeArm
) -> None:
    blue.monitor.page_size = 1
    deployment_id = blue.ml.deployments[ENDPOINT]["blue"]["id"]
    other = portal_setting(deployment_id.replace("/blue", "/elsewhere"), "/e", blue.location)
    put_in_portal_unchecked(blue, "another-target", other)
    put_in_portal_unchecked(blue, "yet-another-target", other)
    policy = AutoscalePolicy(min_instances=1, max_instances=4)
    await backend.set_autoscale(ENDPOINT, "blue", policy)
    assert (await backend.get_deployment(ENDPOINT, "blue")).autoscale == policy
    pages = [c for c in blue.find("GET", "/autoscalesettings") if "$skiptoken" in c.query]
    assert pages, "the setting was found on a later page, through nextLink"


def put_in_portal_unchecked(fake: FakeArm, name: str, body: dict[str, Any]) -> None:
    """A setting whose target is elsewhere (stored as is: the fake checks only its own)."""
    fake.monitor.autoscale[name] = {"name": name, "id": f"/x/{name}", "location": body["location"],
                                    "type": "Microsoft.Insights/autoscaleSettings",
                                    "tags": {}, "properties": body["properties"]}  # fmt: skip
