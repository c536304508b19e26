"""AzureMLBackend: the Backend interface on Azure ML managed online endpoints.

azure-ai-ml (MLClient) for endpoints, deployments, keys, logs and models;
azure-mgmt-monitor for autoscale settings; azure-monitor-querymetrics for
metrics; azure-monitor-query for Log Analytics (console and traffic logs, when
a Log Analytics workspace is configured); aiohttp for scoring calls. The SDK
blocks, so every call runs in a worker thread and long-running operations
report progress while they wait.

    backend = create_azure_backend({"subscription_id": "...", "resource_group": "rg",
                                    "workspace_name": "mlw"})
    await backend.set_traffic("product-recommender", {"blue": 90, "green": 10})
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from azure.core.credentials import TokenCredential
from azure.core.pipeline.transport import HttpTransport

from base.numbers import format_number
from deploy.azure import loganalytics, messages, models, rollout
from deploy.azure.deployments import deployment_from_entity
from deploy.azure.endpoints import (
    auth_mode,
    credentials_from_sdk,
    endpoint_entity,
    endpoint_from_entity,
    positive,
)
from deploy.azure.invoke import Scorer
from deploy.azure.loganalytics import TrafficRecord
from deploy.azure.metrics import read_snapshot
from deploy.azure.settings import AzureSettings
from deploy.azure.workspace import Workspace
from deploy.backend import Backend
from deploy.errors import ConflictError, FlightdeckError, NotFoundError, ValidationError
from deploy.rules import validate_name, validate_traffic
from deploy.specs import validate_policy
from deploy.types import (
    AutoscalePolicy,
    ContainerType,
    Credentials,
    Deployment,
    DeploymentSpec,
    Endpoint,
    EndpointSpec,
    InvokeResult,
    MetricsSnapshot,
    ProgressCallback,
    RegisteredModel,
)

__all__ = ["AzureMLBackend"]


class AzureMLBackend(Backend):
    """Managed online endpoints of one Azure ML workspace."""

    name: ClassVar[str] = "azure"
    loopback_only: ClassVar[bool] = False
    #: Azure Monitor answers one-minute points for up to 30 days (the stand-in enforces it).
    metrics_retention: ClassVar[timedelta] = timedelta(days=30)

    def __init__(
        self,
        *,
        settings: AzureSettings,
        credential: TokenCredential | None = None,
        transport: HttpTransport[Any, Any] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``clock`` and ``sleep`` pace the waits for a busy resource (tests pass fakes)."""
        self._ws = Workspace(
            settings=settings, credential=credential, transport=transport, clock=clock, sleep=sleep
        )
        self._scorer = Scorer()
        self._clock = clock

    @property
    def settings(self) -> AzureSettings:
        """Which workspace this backend works on."""
        return self._ws.settings

    async def aclose(self) -> None:
        """Close the scoring session and the clients."""
        await self._scorer.aclose()
        self._ws.close()

    # ------------------------------------------------------------ messages

    def _no_endpoint(self, endpoint: str) -> str:
        return messages.ENDPOINT_NOT_FOUND.format(
            endpoint=endpoint, workspace=self.settings.workspace_name
        )

    def _no_deployment(self, endpoint: str, deployment: str) -> str:
        return messages.DEPLOYMENT_NOT_FOUND.format(deployment=deployment, endpoint=endpoint)

    async def _deployment_entity(self, endpoint: str, name: str) -> Any:
        return await self._ws.call(
            lambda: self._ws.ml().online_deployments.get(name, endpoint),
            self._no_deployment(endpoint, name),
        )

    async def _endpoint_entity(self, name: str) -> Any:
        return await self._ws.call(
            lambda: self._ws.ml().online_endpoints.get(name), self._no_endpoint(name)
        )

    # ------------------------------------------------------------ endpoints

    async def list_endpoints(self) -> list[Endpoint]:
        entities = await self._ws.call(lambda: list(self._ws.ml().online_endpoints.list()), None)
        return [endpoint_from_entity(e) for e in entities]

    async def get_endpoint(self, name: str) -> Endpoint:
        return endpoint_from_entity(await self._endpoint_entity(name))

    async def create_or_update_endpoint(
        self, spec: EndpointSpec, *, progress: ProgressCallback | None = None
    ) -> Endpoint:
        validate_name("endpoint", spec.name)
        try:
            existing = await self._endpoint_entity(spec.name)
        except NotFoundError:
            existing = None
        if existing is not None and auth_mode(existing.auth_mode) != spec.auth_mode:
            raise ValidationError(
                messages.AUTH_MODE_FIXED.format(
                    endpoint=spec.name, current=auth_mode(existing.auth_mode), mode=spec.auth_mode
                )
            )
        entity = endpoint_entity(spec, existing)
        verb = "Updating" if existing is not None else "Creating"
        result = await self._ws.wait(
            lambda: self._ws.ml().online_endpoints.begin_create_or_update(entity),
            what=f"{verb} endpoint '{spec.name}'",
            progress=progress,
            not_found=None,
            target=self._ws.endpoint_target(spec.name),
        )
        return endpoint_from_entity(result)

    async def delete_endpoint(self, name: str, *, progress: ProgressCallback | None = None) -> None:
        await self._endpoint_entity(name)
        await self._ws.wait(
            lambda: self._ws.ml().online_endpoints.begin_delete(name=name),
            what=f"Deleting endpoint '{name}'",
            progress=progress,
            not_found=self._no_endpoint(name),
            target=self._ws.endpoint_target(name),
        )
        await self._ws.delete_autoscale(name, leftover_ok=True, progress=progress)

    async def set_traffic(
        self,
        endpoint: str,
        traffic: Mapping[str, int] | None = None,
        *,
        mirror_traffic: Mapping[str, int] | None = None,
    ) -> Endpoint:
        entity = await self._endpoint_entity(endpoint)
        # The SDK lists every deployment in traffic (0 when it takes none) or mirror_traffic.
        names = {*(entity.traffic or {}), *(entity.mirror_traffic or {})}
        live = dict(traffic) if traffic is not None else positive(entity.traffic)
        mirror = (
            dict(mirror_traffic) if mirror_traffic is not None else positive(entity.mirror_traffic)
        )
        validate_traffic(names, live, mirror)
        entity.traffic = live
        entity.mirror_traffic = mirror
        result = await self._ws.wait(
            lambda: self._ws.ml().online_endpoints.begin_create_or_update(entity),
            what=f"Setting the traffic of '{endpoint}'",
            progress=None,
            not_found=self._no_endpoint(endpoint),
            target=self._ws.endpoint_target(endpoint),
        )
        return endpoint_from_entity(result)

    async def get_credentials(self, endpoint: str) -> Credentials:
        mode = auth_mode((await self._endpoint_entity(endpoint)).auth_mode)
        keys = await self._ws.call(
            lambda: self._ws.ml().online_endpoints.get_keys(endpoint), self._no_endpoint(endpoint)
        )
        return credentials_from_sdk(keys, mode)

    async def regenerate_keys(self, endpoint: str, *, key_type: str = "primary") -> Credentials:
        if key_type not in ("primary", "secondary"):
            raise ValidationError(messages.BAD_KEY_TYPE.format(key_type=key_type))
        mode = auth_mode((await self._endpoint_entity(endpoint)).auth_mode)
        if mode != "key":
            raise ValidationError(messages.NO_KEYS.format(endpoint=endpoint, auth_mode=mode))
        await self._ws.wait(
            lambda: self._ws.ml().online_endpoints.begin_regenerate_keys(
                endpoint, key_type=key_type
            ),
            what=f"Regenerating the {key_type} key of '{endpoint}'",
            progress=None,
            not_found=self._no_endpoint(endpoint),
            target=self._ws.endpoint_target(endpoint),
        )
        return await self.get_credentials(endpoint)

    async def invoke(
        self, endpoint: str, body: bytes, *, deployment: str | None = None
    ) -> InvokeResult:
        target = await self.get_endpoint(endpoint)
        credentials = await self.get_credentials(endpoint)
        return await self._scorer.post(
            target.scoring_uri,
            endpoint=endpoint,
            bearer=credentials.bearer(),
            body=body,
            deployment=deployment,
        )

    async def metrics(self, endpoint: str, window: timedelta) -> MetricsSnapshot:
        minutes = window.total_seconds() / 60
        longest = self.metrics_retention.total_seconds() / 60
        if not 1 <= minutes <= longest:
            raise ValidationError(
                messages.BAD_WINDOW.format(
                    minutes=format_number(minutes), longest=format_number(longest)
                )
            )
        deployments = await self._ws.deployment_names(endpoint, self._no_endpoint(endpoint))
        now = datetime.fromtimestamp(self._clock(), tz=UTC)
        # Whole minutes, the current one included (Azure's points start on the minute).
        end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        start = end - timedelta(minutes=math.ceil(minutes))
        return await read_snapshot(
            self._ws,
            endpoint=endpoint,
            endpoint_id=self.settings.endpoint_id(endpoint),
            deployment_ids={d: self.settings.deployment_id(endpoint, d) for d in deployments},
            start=start,
            end=end,
        )

    # ------------------------------------------------------------ deployments

    async def list_deployments(self, endpoint: str) -> list[Deployment]:
        entities = await self._ws.call(
            lambda: list(self._ws.ml().online_deployments.list(endpoint)),
            self._no_endpoint(endpoint),
        )
        policies = await self._ws.autoscale_policies(endpoint)
        return [
            deployment_from_entity(e, endpoint=endpoint, autoscale=policies.get(e.name.lower()))
            for e in entities
        ]

    async def get_deployment(self, endpoint: str, name: str) -> Deployment:
        entity = await self._deployment_entity(endpoint, name)
        policy = await self._ws.autoscale_policy(endpoint, name)
        return deployment_from_entity(entity, endpoint=endpoint, autoscale=policy)

    async def create_or_update_deployment(
        self, spec: DeploymentSpec, *, progress: ProgressCallback | None = None
    ) -> Deployment:
        validate_name("endpoint", spec.endpoint_name)
        validate_name("deployment", spec.name)
        if spec.autoscale is not None:
            validate_policy(spec.autoscale)
        return await rollout.apply_spec(self._ws, spec, progress=progress)

    async def delete_deployment(
        self, endpoint: str, name: str, *, progress: ProgressCallback | None = None
    ) -> None:
        target = await self.get_endpoint(endpoint)
        for kind, weights in (("live", target.traffic), ("mirror", target.mirror_traffic)):
            if weights.get(name, 0) > 0:
                raise ConflictError(
                    messages.DEPLOYMENT_HAS_TRAFFIC.format(
                        deployment=name, percent=weights[name], kind=kind, endpoint=endpoint
                    )
                )
        await self._deployment_entity(endpoint, name)
        await self._ws.wait(
            lambda: self._ws.ml().online_deployments.begin_delete(name, endpoint),
            what=f"Deleting deployment '{name}' of '{endpoint}'",
            progress=progress,
            not_found=self._no_deployment(endpoint, name),
            target=self._ws.deployment_target(endpoint, name),
        )
        await self._ws.delete_autoscale(endpoint, name, leftover_ok=True, progress=progress)

    async def scale(
        self,
        endpoint: str,
        deployment: str,
        instance_count: int,
        *,
        progress: ProgressCallback | None = None,
    ) -> Deployment:
        return await rollout.scale(
            self._ws, endpoint, deployment, instance_count, progress=progress
        )

    async def set_autoscale(
        self, endpoint: str, deployment: str, policy: AutoscalePolicy | None
    ) -> Deployment:
        if policy is not None:
            validate_policy(policy)
        entity = await self._deployment_entity(endpoint, deployment)
        if policy is None:
            await self._ws.delete_autoscale(endpoint, deployment)
        else:
            current = int(entity.instance_count or 1)
            await self._ws.put_autoscale(endpoint, deployment, policy, current=current)
        return deployment_from_entity(entity, endpoint=endpoint, autoscale=policy)

    async def get_logs(
        self,
        endpoint: str,
        deployment: str,
        *,
        lines: int = 100,
        container: ContainerType = "inference-server",
    ) -> str:
        if lines < 1:
            raise ValidationError(messages.BAD_LINES.format(lines=lines))
        now = datetime.fromtimestamp(self._clock(), tz=UTC)
        return await rollout.log_tail(self._ws, endpoint, deployment, lines, container, now=now)

    async def traffic_log(
        self,
        endpoint: str,
        *,
        deployment: str | None = None,
        window: timedelta = timedelta(hours=1),
        limit: int = 100,
    ) -> list[TrafficRecord]:
        """The endpoint's most recent scoring requests (newest first), from Log Analytics.

        What AmlOnlineEndpointTrafficLog recorded in the last ``window`` (1 minute to 30
        days): status code and reason, the model's status, total duration. Azure-only (not
        part of ``Backend``); ``ValidationError`` when no Log Analytics workspace is set.

            records = await backend.traffic_log("product-recommender", deployment="green")
            errors = [r for r in records if r.status >= 500]
        """
        if not timedelta(minutes=1) <= window <= timedelta(days=30):
            raise ValidationError(messages.BAD_TRAFFIC_WINDOW.format(window=window))
        if not 1 <= limit <= loganalytics.MAX_TRAFFIC_RECORDS:
            raise ValidationError(
                messages.BAD_TRAFFIC_LIMIT.format(
                    most=loganalytics.MAX_TRAFFIC_RECORDS, limit=limit
                )
            )
        if self.settings.log_analytics_workspace_id is None:
            raise ValidationError(messages.LOGS_NOT_CONFIGURED)
        await self._endpoint_entity(endpoint)
        if deployment is not None:
            await self._deployment_entity(endpoint, deployment)
        end = datetime.fromtimestamp(self._clock(), tz=UTC)
        return await loganalytics.traffic(
            self._ws, endpoint, deployment=deployment, start=end - window, end=end, limit=limit
        )

    # ------------------------------------------------------------ models

    async def register_model(
        self, name: str, version: str, path: str, *, description: str | None = None
    ) -> RegisteredModel:
        return await models.register_model(self._ws, name, version, path, description)

    async def list_models(self) -> list[RegisteredModel]:
        return await models.list_models(self._ws)

    async def get_model(self, name: str, version: str) -> RegisteredModel:
        return await models.get_model(self._ws, name, version)

    async def set_model_archived(self, name: str, version: str | None, *, archived: bool) -> None:
        raise FlightdeckError(messages.MODEL_ARCHIVE_NOT_SUPPORTED)
