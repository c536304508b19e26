"""What the local platform runs, what it refuses by name, and what it accepts but ignores.

Refused before anything is staged (``refuse_unsupported``), each naming what the
deployment is, why it cannot run here and what to do instead:

- a ``triton_model`` without a scoring script (Azure serves it in NVIDIA Triton's image on a
  GPU: no Docker, no Triton, no GPU here);
- a custom container: an environment with ``inference_config`` and no scoring script
  (Azure runs the image's own server: no Docker here).

Accepted, and named once per create or update as a warning (``deployment_warnings``,
``endpoint_warnings``): ``type: kubernetes``, ``resources.requests``, limits other than
memory and cpu, an endpoint's ``compute``, ``identity`` and ``public_network_access``, and a
deployment's ``app_insights_enabled``, ``data_collector``, ``egress_public_network_access``,
``model_mount_path``, ``private_network_connection``; an image with ``inference_config``
next to a scoring script (the script runs, the image does not).

Enforced as one machine can: ``resources.limits.memory`` (``memory_limit``) on each
instance's processes together (the gunicorn master and its workers): the supervisor samples
their proportional set size and kills and restarts an instance past the limit, as
Kubernetes' OOM kill does (see ``deploy.local.instances.instance``); and
``resources.limits.cpu`` (``cpu_limit``), by a cgroup's CPU quota where one is writable, else
by a duty-cycle throttle (see ``deploy.local.instances.cpu``).

    refuse_unsupported(spec)
    for line in deployment_warnings(spec):
        await progress(line)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from deploy.errors import ValidationError
from deploy.local import messages as msg
from deploy.local.instances.cpu import cgroup_parent, parse_cpu
from deploy.types import DeploymentSpec, EndpointSpec

__all__ = [
    "CpuLimit",
    "MemoryLimit",
    "cpu_limit",
    "deployment_warnings",
    "endpoint_warnings",
    "memory_limit",
    "parse_memory",
    "refuse_unsupported",
]

_DEPLOYMENT_WHY = {
    "app_insights_enabled": msg.WHY_APP_INSIGHTS,
    "data_collector": msg.WHY_DATA_COLLECTOR,
    "egress_public_network_access": msg.WHY_EGRESS,
    "model_mount_path": msg.WHY_MOUNT_PATH,
    "private_network_connection": msg.WHY_PRIVATE_NETWORK,
}
_ENDPOINT_WHY = {
    "compute": msg.WHY_COMPUTE,
    "identity": msg.WHY_IDENTITY,
    "public_network_access": msg.WHY_PUBLIC_ACCESS,
}
#: Kubernetes quantity suffixes (binary and decimal), in bytes.
_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|k|M|G|T)?\s*$")


def refuse_unsupported(spec: DeploymentSpec) -> None:
    """``ValidationError`` for a deployment kind the local platform cannot run."""
    if spec.code_path and spec.scoring_script:
        return
    model = spec.model
    if model is not None and (model.type or "").lower() == "triton_model":
        shown = model.display() or model.name or "?"
        raise ValidationError(msg.TRITON_UNSUPPORTED.format(name=spec.name, model=shown))
    environment = spec.environment
    if environment is not None and environment.inference_config:
        raise ValidationError(
            msg.CUSTOM_CONTAINER_UNSUPPORTED.format(
                name=spec.name,
                image=environment.image or "?",
                route=_route(environment.inference_config),
            )
        )


def deployment_warnings(spec: DeploymentSpec) -> list[str]:
    """One line per setting of ``spec`` the local platform does not honour (and one saying
    that the memory limit is enforced, when there is one)."""
    lines: list[str] = []
    if spec.deployment_type == "kubernetes":
        lines.append(_warn("type: kubernetes", msg.WHY_KUBERNETES))
    resources = spec.resources
    if resources is not None:
        if resources.requests:
            lines.append(
                _warn(f"resources.requests ({_pairs(resources.requests)})", msg.WHY_REQUESTS)
            )
        for key, value in resources.limits.items():
            if key in ("memory", "cpu"):
                continue
            why = msg.WHY_GPU if "gpu" in key.lower() else msg.WHY_LIMIT_OTHER
            lines.append(_warn(f"resources.limits.{key} ({value})", why))
        if "memory" in resources.limits:
            lines.append(msg.MEMORY_LIMIT_ENFORCED.format(limit=resources.limits["memory"]))
        if "cpu" in resources.limits:
            how = msg.CPU_LIMIT_BY_CGROUP if cgroup_parent() else msg.CPU_LIMIT_BY_THROTTLE
            lines.append(msg.CPU_LIMIT_ENFORCED.format(limit=resources.limits["cpu"], how=how))
    environment = spec.environment
    if environment is not None and environment.inference_config:
        lines.append(_warn(f"environment.image ({environment.image})", msg.WHY_IMAGE))
    lines.extend(_cloud(spec.cloud_settings, _DEPLOYMENT_WHY))
    return lines


def endpoint_warnings(spec: EndpointSpec) -> list[str]:
    """One line per setting of an endpoint ``spec`` the local platform does not honour."""
    return _cloud(spec.cloud_settings, _ENDPOINT_WHY)


class MemoryLimit:
    """A memory limit: bytes, and the quantity as the user wrote it."""

    def __init__(self, *, bytes_: int, text: str) -> None:
        self.bytes = bytes_
        self.text = text

    def __repr__(self) -> str:
        return f"MemoryLimit({self.text})"


def memory_limit(spec: DeploymentSpec) -> MemoryLimit | None:
    """``resources.limits.memory`` of ``spec`` (``ValidationError`` when it is not a
    quantity), or ``None``."""
    text = (spec.resources.limits.get("memory") if spec.resources else None) or None
    if text is None:
        return None
    value = parse_memory(text)
    if value is None or value <= 0:
        raise ValidationError(msg.MEMORY_LIMIT_INVALID.format(name=spec.name, value=text))
    return MemoryLimit(bytes_=value, text=text)


class CpuLimit:
    """A CPU limit: cores, and the quantity as the user wrote it."""

    def __init__(self, *, cores: float, text: str) -> None:
        self.cores = cores
        self.text = text

    def __repr__(self) -> str:
        return f"CpuLimit({self.text})"


def cpu_limit(spec: DeploymentSpec) -> CpuLimit | None:
    """``resources.limits.cpu`` of ``spec`` (``ValidationError`` when it is not a
    quantity), or ``None``."""
    text = (spec.resources.limits.get("cpu") if spec.resources else None) or None
    if text is None:
        return None
    cores = parse_cpu(str(text))
    if cores is None:
        raise ValidationError(msg.CPU_LIMIT_INVALID.format(name=spec.name, value=text))
    return CpuLimit(cores=cores, text=str(text))


def parse_memory(text: str) -> int | None:
    """A Kubernetes memory quantity in bytes (``512Mi`` -> 536870912), ``None`` if invalid."""
    found = _QUANTITY.match(text)
    if found is None:
        return None
    return int(float(found.group(1)) * _UNITS[found.group(2) or ""])


def _cloud(settings: Mapping[str, Any], why: Mapping[str, str]) -> list[str]:
    return [
        _warn(f"{key} ({_short(value)})", why.get(key, msg.WHY_OTHER))
        for key, value in settings.items()
    ]


def _warn(setting: str, why: str) -> str:
    return msg.NOT_HONOURED.format(setting=setting, why=why)


def _pairs(values: Mapping[str, str]) -> str:
    return ", ".join(f"{key} {value}" for key, value in values.items())


def _short(value: Any) -> str:
    if isinstance(value, Mapping):
        kind = value.get("type")
        return f"type {kind}" if kind else ", ".join(str(k) for k in value)
    return str(value)


def _route(config: Mapping[str, Any]) -> str:
    route = config.get("scoring_route")
    if isinstance(route, Mapping):
        return f"port {route.get('port', '?')}, path {route.get('path', '/')}"
    return "its scoring_route"
