"""Endpoints, deployments, models and keys as ``az ml`` prints them.

``az ml online-endpoint show`` prints ``endpoint.dump()`` and the deployment and model verbs
``entity._to_dict()``: the azure-ai-ml entity serialised by its own schema. Flightdeck's
domain objects are turned into those same entities and serialised the same way, so the keys
(``provisioning_state``, ``scoring_uri``, ``openapi_uri``, ``traffic``, ``mirror_traffic``,
``auth_mode``, ``tags``...) are the SDK's, not a copy of them::

    emit(args, endpoint_dict(endpoint))

azure-ai-ml is imported on first use (about a second), as the Azure CLI imports it too.
"""

from __future__ import annotations

import logging
from typing import Any

from deploy.types import Credentials, Deployment, DeploymentSpec, Endpoint, RegisteredModel

__all__ = ["credentials_dict", "deployment_dict", "endpoint_dict", "model_dict"]


def _quiet_sdk() -> None:
    # azure-ai-ml logs "experimental class" notices while loading its schemas.
    logging.getLogger("azure.ai.ml").setLevel(logging.ERROR)


def _plain(value: Any) -> Any:
    """OrderedDicts and SDK leftovers as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def endpoint_dict(endpoint: Endpoint) -> dict[str, Any]:
    """A ``ManagedOnlineEndpoint`` dumped as ``az ml online-endpoint show`` dumps it."""
    _quiet_sdk()
    from azure.ai.ml.entities import ManagedOnlineEndpoint

    entity = ManagedOnlineEndpoint(
        name=endpoint.name,
        auth_mode=endpoint.auth_mode,
        description=endpoint.description,
        tags=dict(endpoint.tags),
        traffic=dict(endpoint.traffic),
        mirror_traffic=dict(endpoint.mirror_traffic),
        provisioning_state=endpoint.provisioning_state,
        scoring_uri=endpoint.scoring_uri,
        openapi_uri=endpoint.swagger_uri,
    )
    result: dict[str, Any] = _plain(entity._to_dict())
    return result


def deployment_dict(deployment: Deployment) -> dict[str, Any]:
    """A ``ManagedOnlineDeployment`` dumped as ``az ml online-deployment show`` dumps it."""
    _quiet_sdk()
    from deploy.azure.deployments import deployment_entity

    spec = DeploymentSpec(
        name=deployment.name,
        endpoint_name=deployment.endpoint_name,
        code_path=deployment.code_path,
        scoring_script=deployment.scoring_script,
        environment=deployment.environment_spec,
        instance_type=deployment.instance_type,
        instance_count=deployment.instance_count,
        request_settings=deployment.request_settings,
        liveness_probe=deployment.liveness_probe,
        readiness_probe=deployment.readiness_probe,
        environment_variables=dict(deployment.environment_variables),
    )
    entity = deployment_entity(spec)
    entity.model = _model_text(deployment.model)
    entity._provisioning_state = deployment.provisioning_state
    result: dict[str, Any] = _plain(entity._to_dict())
    # Flightdeck's one addition to az's shape: the instances and their states (Azure reports
    # none); scripts written for az never read it, and users of the local platform need it.
    result["instances"] = [
        {"name": i.name, "state": i.state, "restarts": i.restarts} for i in deployment.instances
    ]
    if deployment.autoscale is not None:  # Flightdeck's own policy, as its YAML spells it
        policy = deployment.autoscale
        result["scale_settings"] = {
            "type": "target_utilization",
            "min_instances": policy.min_instances,
            "max_instances": policy.max_instances,
            "target_utilization_percentage": policy.target_utilization_percentage,
            "polling_interval": policy.polling_interval,
            "scale_down_delay": policy.scale_down_delay,
            "metric": policy.metric,
        }
    return result


def _model_text(model: str | None) -> str | None:
    """A registered ``name:version`` as the ``azureml:`` reference az prints; a path as is."""
    if model is None or model.startswith(("azureml:", "/")) or ":" not in model:
        return model
    return f"azureml:{model}"


def model_dict(model: RegisteredModel) -> dict[str, Any]:
    """A ``Model`` dumped as ``az ml model show`` dumps it."""
    _quiet_sdk()
    from azure.ai.ml.entities import Model

    entity = Model(
        name=model.name,
        version=model.version,
        path=model.path,
        description=model.description,
        type="custom_model",
    )
    result: dict[str, Any] = _plain(entity._to_dict())
    if model.created_at is not None:
        result["creation_context"] = {"created_at": model.created_at.isoformat()}
    return result


def credentials_dict(credentials: Credentials) -> dict[str, Any]:
    """Keys (``primaryKey``, ``secondaryKey``) or a token (``accessToken``,
    ``expiryTimeUtc``, ``refreshAfterTimeUtc``, ``tokenType``), as az's ``todict`` names them."""
    if credentials.auth_mode == "key":
        return {"primaryKey": credentials.primary_key, "secondaryKey": credentials.secondary_key}
    return {
        "accessToken": credentials.access_token,
        "expiryTimeUtc": _epoch(credentials.expiry_time_utc),
        "refreshAfterTimeUtc": _epoch(credentials.refresh_after_time_utc),
        "tokenType": "Bearer",
    }


def _epoch(value: Any) -> Any:
    """azure-ai-ml's AccessToken carries epoch seconds."""
    return None if value is None else int(value.timestamp())
