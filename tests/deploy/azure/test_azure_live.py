"""Against a real Azure ML workspace, when credentials are in the environment.

With AZURE_LOG_ANALYTICS_WORKSPACE_ID set as well, the traffic log is read too.

Needs AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE_NAME and a
credential DefaultAzureCredential can use from the environment (AZURE_CLIENT_ID,
AZURE_TENANT_ID and AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE), or
FLIGHTDECK_AZURE_LIVE=1 to use an ``az login`` session. Reads only, except with
FLIGHTDECK_AZURE_LIVE_WRITE=1: then it also creates and deletes an endpoint
without deployments (free, a minute or two).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from deploy.azure import AzureMLBackend, create_azure_backend
from deploy.errors import NotFoundError
from deploy.types import EndpointSpec

WORKSPACE_VARS = ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME")


def _skip_reason() -> str | None:
    missing = [name for name in WORKSPACE_VARS if not os.environ.get(name)]
    if missing:
        return f"no Azure ML workspace configured ({', '.join(missing)} not set)"
    service_principal = os.environ.get("AZURE_CLIENT_ID") and os.environ.get("AZURE_TENANT_ID")
    secret = os.environ.get("AZURE_CLIENT_SECRET") or os.environ.get("AZURE_FEDERATED_TOKEN_FILE")
    if not (service_principal and secret) and os.environ.get("FLIGHTDECK_AZURE_LIVE") != "1":
        return (
            "no Azure credentials in the environment (set AZURE_CLIENT_ID, AZURE_TENANT_ID and "
            "AZURE_CLIENT_SECRET, or FLIGHTDECK_AZURE_LIVE=1 to use 'az login')"
        )
    return None


@pytest.fixture
async def live() -> AsyncIterator[AzureMLBackend]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    backend = create_azure_backend({"progress_interval": 10})
    yield backend
    await backend.aclose()


async def test_reads_the_workspace(live: AzureMLBackend) -> None:
    endpoints = await live.list_endpoints()
    await live.list_models()
    for endpoint in endpoints[:2]:
        deployments = await live.list_deployments(endpoint.name)
        snapshot = await live.metrics(endpoint.name, timedelta(minutes=15))
        assert snapshot.endpoint == endpoint.name
        assert set(snapshot.deployments) >= {d.name for d in deployments}
        for deployment in deployments[:1]:
            await live.get_logs(endpoint.name, deployment.name, lines=5)
    with pytest.raises(NotFoundError):
        await live.get_endpoint(f"fd-missing-{secrets.token_hex(4)}")


async def test_reads_the_traffic_log(live: AzureMLBackend) -> None:
    if live.settings.log_analytics_workspace_id is None:
        pytest.skip("no Log Analytics workspace configured (AZURE_LOG_ANALYTICS_WORKSPACE_ID)")
    for endpoint in (await live.list_endpoints())[:1]:
        records = await live.traffic_log(endpoint.name, window=timedelta(days=1), limit=10)
        assert all(r.time.tzinfo is not None for r in records)
        assert [r.time for r in records] == sorted((r.time for r in records), reverse=True)


async def test_creates_and_deletes_an_endpoint(live: AzureMLBackend) -> None:
    if os.environ.get("FLIGHTDECK_AZURE_LIVE_WRITE") != "1":
        pytest.skip("writes to the workspace only with FLIGHTDECK_AZURE_LIVE_WRITE=1")
    name = f"fd-live-{secrets.token_hex(4)}"
    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    try:
        endpoint = await live.create_or_update_endpoint(
            EndpointSpec(name=name, description="Flightdeck live test"), progress=progress
        )
        assert endpoint.provisioning_state == "Succeeded"
        credentials = await live.get_credentials(name)
        assert credentials.primary_key
    finally:
        await live.delete_endpoint(name, progress=progress)
    with pytest.raises(NotFoundError):
        await live.get_endpoint(name)
