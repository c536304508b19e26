"""Online deployments: Flightdeck's specs and types <-> azure-ai-ml entities.

    DeploymentSpec                         ManagedOnlineDeployment
    model (registered name:version)    ->  model="azureml:name:version"
    model (local path)                 ->  Model(path=...)  (the SDK uploads it)
    code_path + scoring_script         ->  CodeConfiguration(code, scoring_script)
                                           (a local folder is hashed; the SDK uploads it
                                           only when the workspace lacks that hash)
    environment registered name:version->  environment="azureml:name:version"
    environment image + conda_file     ->  Environment(image, conda_file) (anonymous)
    instance_type / instance_count     ->  instance_type / instance_count (sku.capacity)
    request_settings, probes           ->  OnlineRequestSettings, ProbeSettings
    autoscale                          ->  (not here: an Azure Monitor autoscale setting)

Read back, ARM ids become ``name:version`` again, and the code asset's ARM id is
kept as ``code_path`` so a clone reuses the uploaded code.
"""

from __future__ import annotations

import math
import re
from typing import Any

from azure.ai.ml.entities import (
    CodeConfiguration,
    Environment,
    ManagedOnlineDeployment,
    Model,
    OnlineRequestSettings,
)
from azure.ai.ml.entities import ProbeSettings as SdkProbe

from deploy.azure.endpoints import state_text
from deploy.specs import probe_from_sdk, request_settings_from_sdk
from deploy.types import (
    AutoscalePolicy,
    Deployment,
    DeploymentSpec,
    EnvironmentSpec,
    ModelRef,
    ProbeSettings,
)

__all__ = [
    "DEFAULT_IMAGE",
    "asset_ref",
    "deployment_entity",
    "deployment_from_entity",
]

#: The base image of an environment given only as a conda file.
DEFAULT_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"

_ASSET = re.compile(r"/(?:models|environments|codes)/([^/]+)/versions/([^/]+)$", re.IGNORECASE)


def deployment_entity(spec: DeploymentSpec) -> Any:
    """The ``ManagedOnlineDeployment`` to PUT for ``spec`` (default scale settings)."""
    code = None
    if spec.code_path:
        code = CodeConfiguration(code=spec.code_path, scoring_script=spec.scoring_script)
    settings = spec.request_settings
    return ManagedOnlineDeployment(
        name=spec.name,
        endpoint_name=spec.endpoint_name,
        model=_model(spec.model),
        code_configuration=code,
        environment=_environment(spec.environment),
        instance_type=spec.instance_type,
        instance_count=spec.instance_count,
        request_settings=OnlineRequestSettings(
            request_timeout_ms=settings.request_timeout_ms,
            max_concurrent_requests_per_instance=settings.max_concurrent_requests_per_instance,
            max_queue_wait_ms=settings.max_queue_wait_ms,
        ),
        liveness_probe=_sdk_probe(spec.liveness_probe),
        readiness_probe=_sdk_probe(spec.readiness_probe),
        environment_variables=dict(spec.environment_variables),
        description=spec.description,
        tags=dict(spec.tags),
    )


def deployment_from_entity(
    entity: Any, *, endpoint: str, autoscale: AutoscalePolicy | None
) -> Deployment:
    """Flightdeck's view of an ``OnlineDeployment`` entity (Azure reports no instances)."""
    code = entity.code_configuration
    environment = asset_ref(entity.environment)
    return Deployment(
        name=str(entity.name),
        endpoint_name=endpoint,
        model=asset_ref(entity.model),
        instance_type=str(entity.instance_type or "Standard_DS3_v2"),
        instance_count=int(entity.instance_count or 1),
        provisioning_state=state_text(entity.provisioning_state),
        request_settings=request_settings_from_sdk(entity.request_settings),
        liveness_probe=probe_from_sdk(entity.liveness_probe),
        readiness_probe=probe_from_sdk(entity.readiness_probe),
        environment_variables={
            str(k): str(v) for k, v in (entity.environment_variables or {}).items()
        },
        environment=f"azureml:{environment}" if environment else None,
        environment_spec=EnvironmentSpec(registered=environment) if environment else None,
        code_path=str(code.code) if code is not None and code.code else None,
        scoring_script=str(code.scoring_script) if code is not None else None,
        autoscale=autoscale,
    )


def asset_ref(value: Any) -> str | None:
    """``name:version`` of an asset given as an ARM id, ``azureml:name:version`` or entity."""
    if value is None:
        return None
    if not isinstance(value, str):
        name, version = getattr(value, "name", None), getattr(value, "version", None)
        return f"{name}:{version}" if name and version else None
    found = _ASSET.search(value)
    if found:
        return f"{found.group(1)}:{found.group(2)}"
    return value.removeprefix("azureml:")


def _model(model: ModelRef | None) -> Any:
    if model is None:
        return None
    if model.path is not None:
        return Model(path=model.path)
    return f"azureml:{model.name}:{model.version}"


def _environment(environment: EnvironmentSpec | None) -> Any:
    if environment is None:
        return None
    if environment.registered:
        return f"azureml:{environment.registered.removeprefix('azureml:')}"
    return Environment(
        image=environment.image or DEFAULT_IMAGE,
        conda_file=dict(environment.conda_file) if environment.conda_file else None,
    )


def _sdk_probe(probe: ProbeSettings) -> Any:
    # Azure counts probe timings in whole seconds, at least one.
    return SdkProbe(
        initial_delay=max(0, math.ceil(probe.initial_delay)),
        period=max(1, math.ceil(probe.period)),
        timeout=max(1, math.ceil(probe.timeout)),
        success_threshold=probe.success_threshold,
        failure_threshold=probe.failure_threshold,
    )
