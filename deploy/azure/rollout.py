"""Deployment changes that provision instances: create/update and scale.

Both are long-running operations on Azure. When one fails, the error carries the
last lines of the storage-initializer and inference-server logs; a deployment
that did not exist before is deleted again, so nothing half-made survives.

Logs come from the live tail (``getLogs``). With a Log Analytics workspace
configured, an inference-server tail that is empty or cannot be read (no instance
runs, it restarted) falls back to AmlOnlineEndpointConsoleLog, which keeps the
console output of instances that are gone.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from deploy.azure import loganalytics, messages
from deploy.azure.autoscale import policy_from_resource
from deploy.azure.deployments import deployment_entity, deployment_from_entity
from deploy.azure.errors import error_detail, is_quota, translate
from deploy.azure.workspace import Workspace
from deploy.errors import (
    BackendUnavailableError,
    DeploymentFailedError,
    FlightdeckError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from deploy.rules import MAX_INSTANCES_PER_DEPLOYMENT
from deploy.types import ContainerType, Deployment, DeploymentSpec, ProgressCallback

__all__ = ["LOG_TAIL", "apply_spec", "log_tail", "scale"]

log = logging.getLogger(__name__)

#: Log lines a failure carries, per container.
LOG_TAIL = 20


async def apply_spec(
    ws: Workspace, spec: DeploymentSpec, *, progress: ProgressCallback | None
) -> Deployment:
    """Create or update the deployment, then its autoscale setting; wait until it serves."""
    existed = await _exists(ws, spec.endpoint_name, spec.name)
    verb = "Updating" if existed else "Creating"
    what = f"{verb} deployment '{spec.name}' of '{spec.endpoint_name}'"
    if progress is not None:
        count = f"{spec.instance_type} x {spec.instance_count}"
        await progress(f"{what} ({count})")
    entity = deployment_entity(spec)
    result = await ws.wait(
        lambda: ws.ml().online_deployments.begin_create_or_update(entity),
        what=what,
        progress=progress,
        not_found=None,
        failed=_on_failure(ws, spec.endpoint_name, spec.name),
        target=ws.deployment_target(spec.endpoint_name, spec.name),
    )
    try:
        if spec.autoscale is not None:
            await ws.put_autoscale(
                spec.endpoint_name, spec.name, spec.autoscale, current=spec.instance_count
            )
        else:
            await ws.delete_autoscale(spec.endpoint_name, spec.name)
    except FlightdeckError as exc:
        # The deployment changed and serves; say so rather than hide it behind the error.
        raise type(exc)(
            messages.AUTOSCALE_NOT_SAVED.format(
                deployment=spec.name, endpoint=spec.endpoint_name, detail=exc.message
            )
        ) from exc
    return deployment_from_entity(result, endpoint=spec.endpoint_name, autoscale=spec.autoscale)


async def scale(
    ws: Workspace,
    endpoint: str,
    deployment: str,
    instance_count: int,
    *,
    progress: ProgressCallback | None,
) -> Deployment:
    """Set a fixed instance count (sku.capacity); note an autoscale setting that overrides it."""
    if not 1 <= instance_count <= MAX_INSTANCES_PER_DEPLOYMENT:
        raise ValidationError(
            messages.BAD_INSTANCE_COUNT.format(
                most=MAX_INSTANCES_PER_DEPLOYMENT, count=instance_count
            )
        )
    missing = messages.DEPLOYMENT_NOT_FOUND.format(deployment=deployment, endpoint=endpoint)
    entity = await ws.call(lambda: ws.ml().online_deployments.get(deployment, endpoint), missing)
    entity.instance_count = instance_count
    what = f"Scaling '{deployment}' of '{endpoint}' to {instance_count}"
    result = await ws.wait(
        lambda: ws.ml().online_deployments.begin_create_or_update(entity),
        what=what,
        progress=progress,
        not_found=missing,
        failed=_on_failure(ws, endpoint, deployment),
        target=ws.deployment_target(endpoint, deployment),
    )
    resource = (await ws.autoscale_settings(endpoint)).get(deployment.lower())
    policy = policy_from_resource(resource) if resource is not None else None
    if progress is not None and resource is not None and policy is not None:
        await progress(
            messages.AUTOSCALE_OVERRIDES.format(
                setting=resource.name,
                deployment=deployment,
                low=policy.min_instances,
                high=policy.max_instances,
            )
        )
    return deployment_from_entity(result, endpoint=endpoint, autoscale=policy)


async def log_tail(
    ws: Workspace,
    endpoint: str,
    deployment: str,
    lines: int,
    container: ContainerType,
    *,
    now: datetime | None = None,
) -> str:
    """The last ``lines`` lines of a container's log (live, else from Log Analytics)."""
    missing = messages.DEPLOYMENT_NOT_FOUND.format(deployment=deployment, endpoint=endpoint)
    archived = container == "inference-server" and ws.settings.log_analytics_workspace_id
    try:
        text = await ws.call(
            lambda: ws.ml().online_deployments.get_logs(
                deployment, endpoint, lines, container_type=container
            ),
            missing,
        )
    except (NotFoundError, PermissionDeniedError):
        raise
    except FlightdeckError as exc:
        if not archived:
            raise
        log.info("Live logs of %s/%s unavailable (%s): reading Log Analytics", endpoint,
                 deployment, exc)  # fmt: skip
        return await _archived(ws, endpoint, deployment, lines, container, now, live_error=exc)
    live = str(text or "")
    if live.strip() or not archived:
        return live
    return await _archived(ws, endpoint, deployment, lines, container, now, live_error=None)


async def _archived(
    ws: Workspace,
    endpoint: str,
    deployment: str,
    lines: int,
    container: str,
    now: datetime | None,
    *,
    live_error: FlightdeckError | None,
) -> str:
    """The console log's tail when it has rows; else the live tail (or its error) stands."""
    return await loganalytics.after_live(
        ws, endpoint, deployment, lines, container,
        now=now or datetime.now(UTC), live="", live_error=live_error,
    )  # fmt: skip


async def _exists(ws: Workspace, endpoint: str, deployment: str) -> bool:
    missing = messages.ENDPOINT_NOT_FOUND.format(
        endpoint=endpoint, workspace=ws.settings.workspace_name
    )
    return deployment in await ws.deployment_names(endpoint, missing)


def _on_failure(ws: Workspace, endpoint: str, deployment: str) -> Any:
    """The ``failed`` hook of ``Workspace.wait``: the logs' last lines, DeploymentFailedError.

    A failed deployment is left as Azure keeps it, in the Failed state with no traffic, so
    that ``get-logs`` still shows why until it is updated with a fix or deleted."""

    async def failed(exc: BaseException) -> FlightdeckError | None:
        mapped = translate(exc, not_found=None)
        if isinstance(mapped, BackendUnavailableError | PermissionDeniedError | NotFoundError):
            return None
        detail = messages.QUOTA.format(detail=error_detail(exc)) if is_quota(exc) else None
        lines: list[str] = []
        for container in ("storage-initializer", "inference-server"):
            try:
                text = await log_tail(ws, endpoint, deployment, LOG_TAIL, container)
            except FlightdeckError:
                continue
            lines += [f"[{container}] {line}" for line in text.splitlines() if line.strip()]
        return DeploymentFailedError(
            messages.DEPLOYMENT_FAILED.format(
                deployment=deployment, endpoint=endpoint, detail=detail or error_detail(exc)
            ),
            log_lines=tuple(lines),
        )

    return failed
