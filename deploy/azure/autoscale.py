"""Flightdeck's autoscale policy as an Azure Monitor autoscale setting on a deployment.

Managed deployments take only default scale settings, so a ``target_utilization``
policy becomes an autoscale setting (azure-mgmt-monitor) whose target is the
deployment resource:

    AutoscalePolicy                      autoscale setting (one profile, enabled)
    min_instances / max_instances    ->  capacity.minimum / capacity.maximum
    (current count, within bounds)   ->  capacity.default
    target_utilization_percentage    ->  scale out by 1 when CpuUtilizationPercentage
                                         (average over the window) > target;
                                         scale in by 1 when < target / 2
    polling_interval                 ->  time window (Azure's minimum is 5 minutes) and
                                         scale-out cooldown (at least 1 minute)
    scale_down_delay                 ->  scale-in cooldown (at least 1 minute)
    metric utilization or cpu        ->  CPU either way: Azure has no in-flight metric

The policy itself is kept in the setting's ``flightdeck-policy`` tag, so it reads
back unchanged; a setting made elsewhere (the portal) is read from its profile.
"""

from __future__ import annotations

import json
from datetime import timedelta

from azure.mgmt.monitor.models import (
    AutoscaleProfile,
    AutoscaleSettingResource,
    MetricTrigger,
    ScaleAction,
    ScaleCapacity,
    ScaleRule,
)

from deploy.types import AutoscalePolicy, from_json, to_json

__all__ = [
    "DEPLOYMENT_NAMESPACE",
    "METRIC",
    "POLICY_TAG",
    "autoscale_resource",
    "policy_from_resource",
    "setting_name",
    "targets",
]

METRIC = "CpuUtilizationPercentage"
DEPLOYMENT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"
POLICY_TAG = "flightdeck-policy"
_MIN_WINDOW = timedelta(minutes=5)
_MIN_COOLDOWN = timedelta(minutes=1)


def setting_name(endpoint: str, deployment: str) -> str:
    """The name Flightdeck gives a deployment's autoscale setting."""
    return f"{endpoint}-{deployment}-autoscale"


def targets(resource: AutoscaleSettingResource, deployment_id: str) -> bool:
    """True when ``resource`` scales the deployment ``deployment_id``."""
    return (resource.target_resource_uri or "").lower() == deployment_id.lower()


def autoscale_resource(
    policy: AutoscalePolicy, *, deployment_id: str, location: str, name: str, current: int
) -> AutoscaleSettingResource:
    """The autoscale setting for ``policy`` on the deployment ``deployment_id``."""
    window = max(timedelta(seconds=policy.polling_interval), _MIN_WINDOW)
    out_cooldown = max(timedelta(seconds=policy.polling_interval), _MIN_COOLDOWN)
    in_cooldown = max(timedelta(seconds=policy.scale_down_delay), _MIN_COOLDOWN)

    def rule(direction: str, operator: str, threshold: float, cooldown: timedelta) -> ScaleRule:
        return ScaleRule(
            metric_trigger=MetricTrigger(
                metric_name=METRIC,
                metric_namespace=DEPLOYMENT_NAMESPACE,
                metric_resource_uri=deployment_id,
                time_grain=timedelta(minutes=1),
                statistic="Average",
                time_window=window,
                time_aggregation="Average",
                operator=operator,
                threshold=threshold,
            ),
            scale_action=ScaleAction(
                direction=direction, type="ChangeCount", value="1", cooldown=cooldown
            ),
        )

    target = float(policy.target_utilization_percentage)
    default = min(max(current, policy.min_instances), policy.max_instances)
    profile = AutoscaleProfile(
        name="flightdeck-target-utilization",
        capacity=ScaleCapacity(
            minimum=str(policy.min_instances),
            maximum=str(policy.max_instances),
            default=str(default),
        ),
        rules=[
            rule("Increase", "GreaterThan", target, out_cooldown),
            rule("Decrease", "LessThan", target / 2, in_cooldown),
        ],
    )
    return AutoscaleSettingResource(
        location=location,
        profiles=[profile],
        enabled=True,
        name_properties_name=name,
        target_resource_uri=deployment_id,
        target_resource_location=location,
        tags={POLICY_TAG: json.dumps(to_json(policy), separators=(",", ":"))},
    )


def policy_from_resource(resource: AutoscaleSettingResource) -> AutoscalePolicy | None:
    """The policy an autoscale setting applies; ``None`` when it is disabled or empty."""
    if not resource.enabled or not resource.profiles:
        return None
    profile = resource.profiles[0]
    low, high = int(profile.capacity.minimum), int(profile.capacity.maximum)
    tagged = (resource.tags or {}).get(POLICY_TAG)
    if tagged:
        try:
            policy = from_json(AutoscalePolicy, json.loads(tagged))
        except ValueError:
            policy = None
        if policy is not None and (policy.min_instances, policy.max_instances) == (low, high):
            return policy
    rules = profile.rules or []
    out = next((r for r in rules if r.scale_action.direction == "Increase"), None)
    down = next((r for r in rules if r.scale_action.direction == "Decrease"), None)
    return AutoscalePolicy(
        min_instances=low,
        max_instances=high,
        target_utilization_percentage=round(out.metric_trigger.threshold) if out else 70,
        polling_interval=_seconds(out.scale_action.cooldown) if out else 60,
        scale_down_delay=_seconds(down.scale_action.cooldown) if down else 300,
        metric="cpu",
    )


def _seconds(value: timedelta | None) -> int:
    return int(value.total_seconds()) if value is not None else 0
