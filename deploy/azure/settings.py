"""Settings of the azure backend: which workspace, and how long to wait.

Read once from the ``backend`` section of the config file (a mapping), falling
back to the environment variables the Azure tools use::

    settings = AzureSettings.from_mapping({"workspace_name": "mlw-prod"}, os.environ)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deploy.azure import messages
from deploy.errors import ValidationError

__all__ = ["ENV_VARS", "AzureSettings"]

#: Setting -> the environment variable it falls back to.
ENV_VARS = {
    "subscription_id": "AZURE_SUBSCRIPTION_ID",
    "resource_group": "AZURE_RESOURCE_GROUP",
    "workspace_name": "AZUREML_WORKSPACE_NAME",
}


@dataclass(frozen=True, kw_only=True)
class AzureSettings:
    """Where the workspace is, and the backend's waiting behaviour (seconds)."""

    subscription_id: str
    resource_group: str
    workspace_name: str
    #: Longest wait on one long-running operation (a deployment takes 5-15 minutes).
    operation_timeout: float = 1800.0
    #: How often a long-running operation reports progress.
    progress_interval: float = 5.0
    #: Azure Monitor's regional metrics endpoint; derived from the workspace's region if unset.
    metrics_endpoint: str | None = None

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any], environ: Mapping[str, str]) -> AzureSettings:
        """Build settings from the config mapping, then ``environ``; ``ValidationError`` if
        the workspace cannot be identified or a number is bad."""
        values: dict[str, str] = {}
        missing = []
        for key, env in ENV_VARS.items():
            value = settings.get(key) or environ.get(env)
            if value:
                values[key] = str(value)
            else:
                missing.append(key)
        if missing:
            raise ValidationError(
                messages.MISSING_SETTINGS.format(
                    missing=", ".join(missing), env=", ".join(ENV_VARS[k] for k in missing)
                )
            )
        numbers = {
            key: _positive(key, settings[key])
            for key in ("operation_timeout", "progress_interval")
            if settings.get(key) is not None
        }
        endpoint = settings.get("metrics_endpoint")
        return cls(
            subscription_id=values["subscription_id"],
            resource_group=values["resource_group"],
            workspace_name=values["workspace_name"],
            metrics_endpoint=str(endpoint) if endpoint else None,
            **numbers,
        )

    @property
    def workspace_id(self) -> str:
        """The workspace's ARM resource id."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace_name}"
        )

    def endpoint_id(self, endpoint: str) -> str:
        """An online endpoint's ARM resource id."""
        return f"{self.workspace_id}/onlineEndpoints/{endpoint}"

    def deployment_id(self, endpoint: str, deployment: str) -> str:
        """An online deployment's ARM resource id."""
        return f"{self.endpoint_id(endpoint)}/deployments/{deployment}"


def _positive(key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if number <= 0:
        raise ValidationError(messages.BAD_NUMBER.format(key=key, value=value))
    return number
