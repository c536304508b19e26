"""The Azure clients of one workspace, built on first use, and the helpers they share.

    MLClient                  azure-ai-ml: endpoints, deployments, models, workspace
    MonitorManagementClient   azure-mgmt-monitor: autoscale settings
    MetricsClient             azure-monitor-querymetrics: metrics (regional endpoint)
    LogsQueryClient           azure-monitor-query: Log Analytics (when a workspace id is set)

All of them share one credential and, in tests, one transport (a fake ARM); so do
the storage clients azure-ai-ml builds for uploads (``deploy.azure.storage``). A change
that ARM refuses because another operation runs on the resource is retried until the
operation timeout (``deploy.azure.busy``), on the injected clock and sleep.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from azure.core.credentials import TokenCredential
from azure.core.pipeline.transport import HttpTransport
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.monitor.models import AutoscaleSettingResource
from azure.monitor.query import LogsQueryClient
from azure.monitor.querymetrics import MetricsClient

from deploy.azure import autoscale, lro, messages
from deploy.azure.busy import Target, start_when_free
from deploy.azure.console import quiet_sdk_console
from deploy.azure.settings import AzureSettings
from deploy.azure.storage import use_transport
from deploy.errors import FlightdeckError, PermissionDeniedError
from deploy.types import AutoscalePolicy, ProgressCallback

__all__ = ["Target", "Workspace"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Workspace:
    """One Azure ML workspace: its clients, its region, its autoscale settings."""

    def __init__(
        self,
        *,
        settings: AzureSettings,
        credential: TokenCredential | None = None,
        transport: HttpTransport[Any, Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._credential = credential
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._ml: Any = None
        self._monitor: MonitorManagementClient | None = None
        self._metrics: MetricsClient | None = None
        self._logs: LogsQueryClient | None = None
        self._location: str | None = None

    # ------------------------------------------------------------ clients

    def _client_kwargs(self) -> dict[str, Any]:
        return {"transport": self._transport} if self._transport is not None else {}

    def credential(self) -> TokenCredential:
        """The credential: the injected one, or ``DefaultAzureCredential``."""
        with self._lock:
            if self._credential is None:
                from azure.identity import DefaultAzureCredential

                self._credential = DefaultAzureCredential()
            return self._credential

    def ml(self) -> Any:
        """The ``MLClient`` (blocking; call from a worker thread)."""
        credential = self.credential()
        with self._lock:
            if self._ml is None:
                from azure.ai.ml import MLClient

                self._ml = MLClient(
                    credential,
                    self.settings.subscription_id,
                    self.settings.resource_group,
                    self.settings.workspace_name,
                    enable_telemetry=False,
                    show_progress=False,
                    **self._client_kwargs(),
                )
            quiet_sdk_console()
            return self._ml

    def monitor(self) -> MonitorManagementClient:
        """The ``MonitorManagementClient`` for autoscale settings."""
        credential = self.credential()
        with self._lock:
            if self._monitor is None:
                self._monitor = MonitorManagementClient(
                    credential, self.settings.subscription_id, **self._client_kwargs()
                )
            return self._monitor

    async def metrics(self) -> MetricsClient:
        """The ``MetricsClient`` of the workspace's region."""
        endpoint = self.settings.metrics_endpoint
        if endpoint is None:
            region = (await self.location()).replace(" ", "").lower()
            endpoint = f"https://{region}.metrics.monitor.azure.com"
        credential = self.credential()
        with self._lock:
            if self._metrics is None:
                self._metrics = MetricsClient(endpoint, credential, **self._client_kwargs())
            return self._metrics

    def logs(self) -> LogsQueryClient:
        """The ``LogsQueryClient`` (blocking): the configured endpoint, else the public cloud's."""
        credential = self.credential()
        with self._lock:
            if self._logs is None:
                kwargs = self._client_kwargs()
                if self.settings.log_analytics_endpoint:
                    kwargs["endpoint"] = self.settings.log_analytics_endpoint
                self._logs = LogsQueryClient(credential, **kwargs)
            return self._logs

    async def location(self) -> str:
        """The workspace's region; ``NotFoundError`` naming the settings if it does not exist."""
        if self._location is None:
            s = self.settings
            missing = messages.WORKSPACE_NOT_FOUND.format(
                workspace=s.workspace_name,
                resource_group=s.resource_group,
                subscription=s.subscription_id,
            )
            found = await self.run(lambda: self.ml().workspaces.get(s.workspace_name), missing)
            self._location = str(found.location)
        return self._location

    def close(self) -> None:
        """Close the clients' connections."""
        for client in (self._monitor, self._metrics, self._logs):
            if client is not None:
                client.close()

    # ------------------------------------------------------------ calls

    async def run(self, fn: Callable[[], T], not_found: str | None) -> T:
        """``fn()`` in a worker thread, errors mapped (a 404 says ``not_found``)."""
        return await lro.run(self._with_transport(fn), not_found=not_found)

    async def call(self, fn: Callable[[], T], not_found: str | None) -> T:
        """Like ``run``, once the workspace is known to exist (a 404 then means ``not_found``)."""
        await self.location()
        return await lro.run(self._with_transport(fn), not_found=not_found)

    def _with_transport(self, fn: Callable[[], T]) -> Callable[[], T]:
        """``fn`` with the storage clients it builds (uploads) on the injected transport."""
        if self._transport is None:
            return fn

        def call() -> T:
            with use_transport(self._transport):
                return fn()

        return call

    def endpoint_target(self, endpoint: str) -> Target:
        """An endpoint as the subject of a change (its state read when it is busy)."""
        return Target(f"endpoint '{endpoint}'", lambda: self.ml().online_endpoints.get(endpoint))

    def deployment_target(self, endpoint: str, deployment: str) -> Target:
        """A deployment as the subject of a change."""
        return Target(
            f"deployment '{deployment}' of '{endpoint}'",
            lambda: self.ml().online_deployments.get(deployment, endpoint),
        )

    async def wait(
        self,
        start: Callable[[], Any],
        *,
        what: str,
        progress: ProgressCallback | None,
        not_found: str | None,
        failed: Callable[[BaseException], Awaitable[FlightdeckError | None]] | None = None,
        target: Target | None = None,
    ) -> Any:
        """Start a long-running operation (``start()`` returns its poller) and wait for it.

        While another operation runs on ``target`` (ARM refuses with 409, or 400 "... in
        Updating provisioning state"), the start is retried with back-off, reporting
        progress, until ``operation_timeout``; then ``ConflictError`` names what is in the way.
        """
        poller = await start_when_free(
            lambda: self.call(start, not_found),
            target=target or Target(what),
            action=what,
            progress=progress,
            deadline=self.settings.operation_timeout,
            clock=self._clock,
            sleep=self._sleep,
        )
        return await lro.wait(
            poller,
            what=what,
            progress=progress,
            interval=self.settings.progress_interval,
            limit=self.settings.operation_timeout,
            not_found=not_found,
            failed=failed,
        )

    async def deployment_names(self, endpoint: str, not_found: str) -> list[str]:
        """The names of the endpoint's deployments (``not_found`` if it does not exist)."""
        return await self.call(
            lambda: [str(d.name) for d in self.ml().online_deployments.list(endpoint)], not_found
        )

    # ------------------------------------------------------------ autoscale

    async def autoscale_settings(self, endpoint: str) -> dict[str, AutoscaleSettingResource]:
        """The autoscale settings that target the endpoint's deployments, by deployment.

        Reading them needs 'Monitoring Reader'; without it, none are reported (logged).
        """
        prefix = self.settings.endpoint_id(endpoint).lower() + "/deployments/"
        group = self.settings.resource_group

        def listing() -> list[AutoscaleSettingResource]:
            return list(self.monitor().autoscale_settings.list_by_resource_group(group))

        try:
            resources = await self.run(listing, None)
        except PermissionDeniedError as exc:
            log.warning("Cannot read autoscale settings: %s", exc)
            return {}
        found: dict[str, AutoscaleSettingResource] = {}
        for resource in resources:
            target = (resource.target_resource_uri or "").lower()
            if target.startswith(prefix):
                found[target.removeprefix(prefix)] = resource
        return found

    async def autoscale_policies(self, endpoint: str) -> dict[str, AutoscalePolicy]:
        """The policy of each of the endpoint's deployments that has an enabled setting."""
        found = {}
        for name, resource in (await self.autoscale_settings(endpoint)).items():
            policy = autoscale.policy_from_resource(resource)
            if policy is not None:
                found[name] = policy
        return found

    async def autoscale_policy(self, endpoint: str, deployment: str) -> AutoscalePolicy | None:
        """The deployment's autoscale policy, if a setting targets it."""
        return (await self.autoscale_policies(endpoint)).get(deployment.lower())

    async def put_autoscale(
        self, endpoint: str, deployment: str, policy: AutoscalePolicy, *, current: int
    ) -> None:
        """Create or update the deployment's autoscale setting (keeping an existing name)."""
        existing = (await self.autoscale_settings(endpoint)).get(deployment.lower())
        name = existing.name if existing is not None and existing.name else None
        name = name or autoscale.setting_name(endpoint, deployment)
        resource = autoscale.autoscale_resource(
            policy,
            deployment_id=self.settings.deployment_id(endpoint, deployment),
            location=await self.location(),
            name=name,
            current=current,
            existing=existing,
        )
        group = self.settings.resource_group
        await self.run(
            lambda: self.monitor().autoscale_settings.create_or_update(group, name, resource),
            None,
        )

    async def delete_autoscale(
        self,
        endpoint: str,
        deployment: str | None = None,
        *,
        leftover_ok: bool = False,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Delete the autoscale settings of one deployment (or of every one of the endpoint).

        With ``leftover_ok`` (the deployment itself is gone), a refusal is logged and
        reported through ``progress`` only: a setting whose target is gone does nothing.
        """
        settings = await self.autoscale_settings(endpoint)
        group = self.settings.resource_group
        for name, resource in settings.items():
            if deployment is not None and name != deployment.lower():
                continue
            delete = partial(self.monitor().autoscale_settings.delete, group, str(resource.name))
            try:
                await self.run(delete, None)
            except PermissionDeniedError as exc:
                if not leftover_ok:
                    raise
                log.warning("Autoscale setting %s was left behind: %s", resource.name, exc)
                if progress is not None:
                    await progress(messages.AUTOSCALE_LEFT.format(setting=resource.name))
