"""``--set scale_settings.KEY=VALUE`` of ``online-deployment update``: the autoscale policy.

    rest, settings = split_scale_settings(["scale_settings.min_instances=2", "instance_count=3"])
    policy = updated_policy(deployment.autoscale, settings)   # validated; None: autoscale off

Keys: ``type`` (``target_utilization``, or ``default`` to turn autoscaling off),
``min_instances``, ``max_instances``, ``target_utilization_percentage``,
``polling_interval``, ``scale_down_delay`` (seconds) and ``metric``
(``utilization`` or ``cpu``). A deployment without a policy needs min and max.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from deploy.errors import SpecError, ValidationError
from deploy.specs import validate_policy
from deploy.types import AutoscalePolicy

__all__ = ["PREFIX", "split_scale_settings", "updated_policy"]

PREFIX = "scale_settings."
_NUMBERS = (
    "min_instances",
    "max_instances",
    "target_utilization_percentage",
    "polling_interval",
    "scale_down_delay",
)
_METRICS = ("utilization", "cpu")


def split_scale_settings(items: list[str]) -> tuple[list[str], dict[str, str]]:
    """The ``--set`` items that are not ``scale_settings.*``, and those that are (by key)."""
    rest: list[str] = []
    settings: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if sep and key.startswith(PREFIX):
            settings[key.removeprefix(PREFIX)] = value.strip()
        else:
            rest.append(item)
    return rest, settings


def updated_policy(
    current: AutoscalePolicy | None, settings: Mapping[str, str]
) -> AutoscalePolicy | None:
    """``current`` with ``settings`` applied; ``SpecError``/``ValidationError`` naming the key."""
    unknown = sorted(set(settings) - {"type", "metric", *_NUMBERS})
    if unknown:
        raise SpecError(
            f"unknown key (known: type, metric, {', '.join(_NUMBERS)})",
            file="--set",
            key=PREFIX + unknown[0],
        )
    kind = settings.get("type", "target_utilization").lower()
    if kind == "default":
        return None
    if kind != "target_utilization":
        raise SpecError(
            f"'{kind}' is not supported; use default or target_utilization",
            file="--set",
            key=PREFIX + "type",
        )
    values: dict[str, Any] = {}
    for key in _NUMBERS:
        if key in settings:
            try:
                values[key] = int(settings[key])
            except ValueError:
                raise SpecError(
                    f"must be a whole number, not '{settings[key]}'", file="--set", key=PREFIX + key
                ) from None
    if "metric" in settings:
        if settings["metric"] not in _METRICS:
            raise SpecError(
                f"must be utilization or cpu, not '{settings['metric']}'",
                file="--set",
                key=PREFIX + "metric",
            )
        values["metric"] = settings["metric"]
    if current is None:
        missing = [key for key in ("min_instances", "max_instances") if key not in values]
        if missing:
            raise ValidationError(
                f"The deployment has no autoscale policy yet: give --set {PREFIX}{missing[0]}=N."
            )
        policy = AutoscalePolicy(**values)
    else:
        policy = replace(current, **values)
    validate_policy(policy, file="--set")
    return policy
