"""The rules the real Azure ML service applies, as the fake applies them.

Traffic sums to 0 or 100 over existing deployments; a mirror has one target at
no more than 50% that takes no live traffic. A managed deployment takes only
default scale settings, 1 to 50 instances, at most 20 per endpoint, a registered
model and environment, and cores within the subscription's quota.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tests.support.fake_arm_http import Reply, arm_error

if TYPE_CHECKING:
    from tests.support.fake_arm_ml import MachineLearningService

__all__ = ["CORES", "NAME", "deployment_problem", "traffic_problem"]

#: Azure's endpoint and deployment names.
NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){2,31}$")
#: Cores per VM size (what quota counts); unknown sizes count 4.
CORES = {"Standard_DS2_v2": 2, "Standard_DS3_v2": 4, "Standard_DS4_v2": 8, "Standard_F4s_v2": 4}


def traffic_problem(
    ml: MachineLearningService, ep: str, traffic: dict[str, int], mirror: dict[str, int]
) -> str:
    """Why Azure would refuse this traffic and mirror traffic ("" when it would not)."""
    names = set(ml.deployments.get(ep, {}))
    for name in [*traffic, *mirror]:
        if name not in names:
            return f"Deployment '{name}' does not exist on endpoint '{ep}'."
    if sum(traffic.values()) not in (0, 100):
        return f"Traffic values must sum to 100 (or 0); they sum to {sum(traffic.values())}."
    targets = {k: v for k, v in mirror.items() if v > 0}
    if len(targets) > 1:
        return "Mirror traffic can only be set to one deployment."
    for name, pct in targets.items():
        if pct > 50:
            return f"Mirror traffic to '{name}' cannot exceed 50 percent."
        if traffic.get(name, 0) > 0:
            return f"Deployment '{name}' takes live traffic and cannot be a mirror target."
    return ""


def deployment_problem(
    ml: MachineLearningService, ep: str, d: str, props: dict[str, Any], capacity: int
) -> Reply | None:
    """Azure's refusal of a deployment PUT, or None when it would accept it."""
    scale = props.get("scaleSettings") or {"scaleType": "Default"}
    if props.get("endpointComputeType", "Managed") == "Managed" and (
        str(scale.get("scaleType")).lower() != "default"
    ):
        return arm_error(
            400,
            "BadArgument",
            "Managed online deployments support only scale settings of type Default; "
            "use an Azure Monitor autoscale setting to autoscale.",
        )
    if not 1 <= capacity <= 50:
        return arm_error(400, "BadArgument", f"Instance count {capacity} is not in 1..50.")
    if d not in ml.deployments[ep] and len(ml.deployments[ep]) >= 20:
        return arm_error(400, "BadArgument", "An endpoint can have at most 20 deployments.")
    model = str(props.get("model") or "")
    found = re.search(r"/models/([^/]+)/versions/([^/]+)$", model)
    if found and found.group(2) not in ml.assets["models"].get(found.group(1), {}):
        return arm_error(
            404, "ModelNotFound", f"Model {found.group(1)}:{found.group(2)} was not found."
        )
    env = re.search(r"/environments/([^/]+)/versions/([^/]+)$", str(props.get("environmentId")))
    if env and env.group(2) not in ml.assets["environments"].get(env.group(1), {}):
        return arm_error(
            404, "EnvironmentNotFound", f"Environment {env.group(1)}:{env.group(2)} not found."
        )
    size = str(props.get("instanceType") or "Standard_F4s_v2")
    used = sum(
        CORES.get(other["properties"].get("instanceType"), 4) * int(other["sku"]["capacity"])
        for e, deps in ml.deployments.items()
        for name, other in deps.items()
        if (e, name) != (ep, d)
    )
    need = CORES.get(size, 4) * capacity
    if used + need > ml.quota_cores:
        return arm_error(
            400,
            "BadArgument",
            f"Not enough quota available for {size} in SubscriptionId "
            f"{ml.arm.subscription_id}. Current usage/limit: {used}/{ml.quota_cores}. "
            f"Additional needed: {need} Please see troubleshooting guide, available here: "
            "https://aka.ms/oe-tsg#error-outofquota",
        )
    return None
