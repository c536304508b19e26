"""The fake Azure Monitor autoscale settings (Microsoft.Insights/autoscalesettings).

Checked as the service checks them: a target resource that exists, one to twenty
profiles, minimum <= default <= maximum, a known metric, time grain of at least
a minute, time window between 5 minutes and 12 hours, cooldown between 1 minute
and a week. A setting keeps everything the REST API specification's example
(specification/monitor/.../2022-10-01/examples/createOrUpdateAutoscaleSetting.json)
carries: notifications, fixed-date and recurrence profiles, ``predictiveAutoscalePolicy``,
tags. Lists come ``page_size`` settings a page, with ``nextLink`` to the next.

Also routes ``{resourceUri}/providers/Microsoft.Insights/metricDefinitions`` to the
fake metrics service.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import isodate  # type: ignore[import-untyped]  # isodate ships no types

from tests.support.fake_arm_http import Call, Reply, arm_error
from tests.support.fake_arm_metrics import DEPLOYMENT_METRICS, ENDPOINT_METRICS

if TYPE_CHECKING:
    from tests.support.fake_arm import FakeArm

__all__ = ["MonitorService"]

_DEFINITIONS = re.compile(
    r"^(?P<resource>/subscriptions/.+)/providers/microsoft\.insights/metricdefinitions$",
    re.IGNORECASE,
)
_AUTOSCALE = re.compile(
    r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.insights/autoscalesettings"
    r"(?:/(?P<name>[^/]+))?$",
    re.IGNORECASE,
)


class MonitorService:
    """State and handlers of the fake autoscale settings."""

    def __init__(self, arm: FakeArm) -> None:
        self.arm = arm
        self.autoscale: dict[str, dict[str, Any]] = {}
        #: Settings per page of a list.
        self.page_size = 1

    def handle(self, call: Call) -> Reply:
        definitions = _DEFINITIONS.match(call.path)
        if definitions and call.method == "GET":
            return self.arm.metrics.definitions(call, definitions.group("resource"))
        match = _AUTOSCALE.match(call.path)
        if not match:
            return arm_error(404, "ResourceNotFound", f"No such resource: {call.path}")
        name = match.group("name")
        if name is None:
            return self._page(call)
        if call.method == "GET":
            found = self.autoscale.get(name.lower())
            if found is None:
                return arm_error(404, "ResourceNotFound", f"Autoscale setting '{name}' not found.")
            return Reply(200, found)
        if call.method == "DELETE":
            existed = self.autoscale.pop(name.lower(), None)
            return Reply(200 if existed else 204)
        if call.method == "PUT":
            return self._put(name, call.body or {})
        return arm_error(405, "MethodNotAllowed", call.method)

    def _page(self, call: Call) -> Reply:
        items = list(self.autoscale.values())
        skip = int(call.query.get("$skiptoken") or 0)
        body: dict[str, Any] = {"value": items[skip : skip + self.page_size]}
        if skip + self.page_size < len(items):
            body["nextLink"] = (
                f"https://{call.host}{call.path}?api-version={call.query.get('api-version', '')}"
                f"&$skipToken={skip + self.page_size}"
            )
        return Reply(200, body)

    def _put(self, name: str, body: dict[str, Any]) -> Reply:
        props = dict(body.get("properties") or {})
        problem = self._autoscale_problem(body, props)
        if problem:
            return arm_error(400, "InvalidRequest", problem)
        resource = {
            "id": (
                f"/subscriptions/{self.arm.subscription_id}/resourceGroups/"
                f"{self.arm.resource_group}/providers/microsoft.insights/autoscalesettings/{name}"
            ),
            "name": name,
            "type": "Microsoft.Insights/autoscaleSettings",
            "location": body["location"],
            "tags": body.get("tags") or {},
            "properties": {
                "profiles": props["profiles"],
                "enabled": bool(props.get("enabled", False)),
                "notifications": props.get("notifications") or [],
                "predictiveAutoscalePolicy": props.get("predictiveAutoscalePolicy")
                or {"scaleMode": "Disabled", "scaleLookAheadTime": None},
                "name": name,
                "targetResourceUri": props.get("targetResourceUri"),
                "targetResourceLocation": props.get("targetResourceLocation", body["location"]),
            },
        }
        created = name.lower() not in self.autoscale
        self.autoscale[name.lower()] = resource
        return Reply(201 if created else 200, resource)

    def _autoscale_problem(self, body: dict[str, Any], props: dict[str, Any]) -> str:
        if not body.get("location"):
            return "The location is required."
        target = str(props.get("targetResourceUri") or "")
        found = re.search(r"/onlineEndpoints/([^/]+)/deployments/([^/]+)$", target, re.I)
        if not found or found.group(2) not in self.arm.ml.deployments.get(found.group(1), {}):
            return f"The target resource id '{target}' was not found."
        profiles = props.get("profiles") or []
        if not 1 <= len(profiles) <= 20:
            return "An autoscale setting has 1 to 20 profiles."
        for profile in profiles:
            cap = profile.get("capacity") or {}
            low, default, high = (int(cap.get(k, -1)) for k in ("minimum", "default", "maximum"))
            if not 0 <= low <= default <= high:
                return "The profile's capacity needs minimum <= default <= maximum."
            for rule in profile.get("rules") or []:
                problem = _rule_problem(rule)
                if problem:
                    return problem
        return ""


def _rule_problem(rule: dict[str, Any]) -> str:
    trigger = rule.get("metricTrigger") or {}
    action = rule.get("scaleAction") or {}
    metric = trigger.get("metricName")
    if metric not in DEPLOYMENT_METRICS and metric not in ENDPOINT_METRICS:
        return f"Metric '{metric}' is not defined for the target resource."
    grain = isodate.parse_duration(trigger.get("timeGrain", "PT0S"))
    window = isodate.parse_duration(trigger.get("timeWindow", "PT0S"))
    cooldown = isodate.parse_duration(action.get("cooldown", "PT0S"))
    if grain < timedelta(minutes=1):
        return "The time grain must be at least one minute."
    if not timedelta(minutes=5) <= window <= timedelta(hours=12):
        return "The time window must be between 5 minutes and 12 hours."
    if not timedelta(minutes=1) <= cooldown <= timedelta(days=7):
        return "The cooldown must be between 1 minute and one week."
    if action.get("direction") not in ("Increase", "Decrease"):
        return "The scale action's direction must be Increase or Decrease."
    return ""
