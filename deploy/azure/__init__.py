"""The azure backend: Azure ML managed online endpoints through azure-ai-ml.

Registered in ``deploy.registry`` as ``azure``::

    backend = create_backend("azure", {"subscription_id": "...", "resource_group": "rg",
                                       "workspace_name": "mlw"})

Settings missing from the mapping come from AZURE_SUBSCRIPTION_ID,
AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE_NAME and (optional, for Log Analytics
queries) AZURE_LOG_ANALYTICS_WORKSPACE_ID. Credentials come from
``DefaultAzureCredential`` (az login, a service principal's environment
variables, a managed identity), never from the config file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from deploy.azure.backend import AzureMLBackend
from deploy.azure.loganalytics import TrafficRecord
from deploy.azure.settings import AzureSettings

__all__ = ["AzureMLBackend", "AzureSettings", "TrafficRecord", "create_azure_backend"]

#: Keys that are objects handed to the clients, not settings.
_INJECTED = ("credential", "transport")


def create_azure_backend(
    settings: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> AzureMLBackend:
    """The backend registered as ``azure``.

    ``settings`` keys: ``subscription_id``, ``resource_group``, ``workspace_name``
    (else from the environment), optional ``operation_timeout``,
    ``progress_interval``, ``metrics_endpoint``, ``log_analytics_workspace_id``
    (else from the environment), ``log_analytics_endpoint``; and, for tests,
    ``credential`` (a ``TokenCredential``) and ``transport`` (an ``HttpTransport``)
    handed to every Azure client. ``ValidationError`` when the workspace is not
    identified or a key is unknown.
    """
    options = {k: v for k, v in settings.items() if k not in _INJECTED}
    parsed = AzureSettings.from_mapping(options, os.environ if environ is None else environ)
    return AzureMLBackend(
        settings=parsed,
        credential=settings.get("credential"),
        transport=settings.get("transport"),
    )
