"""Settings of the azure backend: which workspace, how long to wait, where the logs are.

Read once from the ``backend`` section of the config file (a mapping), falling
back to the environment variables the Azure tools use; a key the backend does not
know is refused by name (a typo must not silently fall back to the environment)::

    settings = AzureSettings.from_mapping({"workspace_name": "mlw-prod"}, os.environ)
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deploy.azure import messages
from deploy.errors import ValidationError

__all__ = ["ENV_VARS", "KNOWN_KEYS", "OPTIONAL_ENV_VARS", "SETTING_ENV_VARS", "AzureSettings"]

#: Required setting -> the environment variable it falls back to.
ENV_VARS = {
    "subscription_id": "AZURE_SUBSCRIPTION_ID",
    "resource_group": "AZURE_RESOURCE_GROUP",
    "workspace_name": "AZUREML_WORKSPACE_NAME",
}
#: Optional setting -> the environment variable it falls back to.
OPTIONAL_ENV_VARS = {"log_analytics_workspace_id": "AZURE_LOG_ANALYTICS_WORKSPACE_ID"}
#: Every setting that has an environment variable.
SETTING_ENV_VARS = {**ENV_VARS, **OPTIONAL_ENV_VARS}
_NUMBERS = ("operation_timeout", "progress_interval")
_TEXTS = ("metrics_endpoint", "log_analytics_workspace_id", "log_analytics_endpoint")
#: Every key of the backend's settings mapping (the config file's ``backend:`` options).
KNOWN_KEYS = (*ENV_VARS, *_NUMBERS, *_TEXTS)


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
    #: The Log Analytics workspace (its Workspace ID, a GUID) that receives the endpoints'
    #: diagnostic logs; unset, AmlOnlineEndpointConsoleLog/TrafficLog are not queried.
    log_analytics_workspace_id: str | None = None
    #: The Log Analytics query endpoint (another cloud's); https://api.loganalytics.io if unset.
    log_analytics_endpoint: str | None = None

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any], environ: Mapping[str, str]) -> AzureSettings:
        """Build settings from the config mapping, then ``environ``; ``ValidationError`` if
        a key is unknown, the workspace cannot be identified or a number is bad."""
        for key in settings:
            if key not in KNOWN_KEYS:
                raise ValidationError(_unknown(str(key)))
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
            key: _positive(key, settings[key]) for key in _NUMBERS if settings.get(key) is not None
        }
        return cls(
            subscription_id=values["subscription_id"],
            resource_group=values["resource_group"],
            workspace_name=values["workspace_name"],
            metrics_endpoint=_text(settings, environ, "metrics_endpoint"),
            log_analytics_workspace_id=_text(settings, environ, "log_analytics_workspace_id"),
            log_analytics_endpoint=_text(settings, environ, "log_analytics_endpoint"),
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


def _text(settings: Mapping[str, Any], environ: Mapping[str, str], key: str) -> str | None:
    """A text setting from the mapping, else its environment variable (if it has one)."""
    variable = OPTIONAL_ENV_VARS.get(key)
    value = settings.get(key) or (environ.get(variable) if variable else None)
    return (str(value).strip() or None) if value else None


def _unknown(key: str) -> str:
    close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
    hint = messages.DID_YOU_MEAN.format(key=close[0]) if close else ""
    return messages.UNKNOWN_SETTING.format(key=key, known=", ".join(KNOWN_KEYS), hint=hint)


def _positive(key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if number <= 0:
        raise ValidationError(messages.BAD_NUMBER.format(key=key, value=value))
    return number
