"""The platform's in-memory state, and how it is shown: to users (``Endpoint``,
``Deployment``) and to the router (``EndpointRoute``).

Also the two small interfaces the platform needs from its neighbours: a route
table (the router) and a metrics source (the router's recorder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from deploy.local.dataplane.routes import DeploymentRoute, EndpointRoute
from deploy.local.instances.logs import DeploymentLogs
from deploy.local.instances.supervisor import InstanceNames, Supervisor
from deploy.local.state.store import DeploymentRecord, EndpointRecord
from deploy.types import Deployment, Endpoint, MetricsSnapshot

__all__ = [
    "DeployedVersion",
    "EndpointState",
    "MetricsSource",
    "RoutePublisher",
    "deployment_view",
    "endpoint_route",
    "endpoint_view",
]


class RoutePublisher(Protocol):
    """What the platform needs of the router (``deploy.local.dataplane.router.Router``)."""

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        ...

    def update(self, route: EndpointRoute) -> None:
        """Add or replace an endpoint's routing."""
        ...

    def remove(self, endpoint: str) -> None:
        """Forget an endpoint."""
        ...


class MetricsSource(Protocol):
    """What the platform needs of the metrics recorder (``deploy.local.metrics.recorder``)."""

    def snapshot(self, endpoint: str, start: datetime, end: datetime) -> MetricsSnapshot:
        """Per-deployment, per-minute metrics of ``endpoint`` in ``[start, end)``."""
        ...


@dataclass(kw_only=True)
class DeployedVersion:
    """The running version of a deployment: its record, instances, logs and folder."""

    record: DeploymentRecord
    supervisor: Supervisor
    names: InstanceNames
    logs: DeploymentLogs
    folder: Path


@dataclass(kw_only=True)
class EndpointState:
    """An endpoint's record and its deployments' running versions."""

    record: EndpointRecord
    deployments: dict[str, DeployedVersion] = field(default_factory=dict)


def endpoint_view(state: EndpointState, *, base_url: str) -> Endpoint:
    """The endpoint as ``show`` prints it."""
    record = state.record
    spec = record.spec
    base = base_url.rstrip("/")
    return Endpoint(
        name=spec.name,
        auth_mode=spec.auth_mode,
        scoring_uri=f"{base}/{spec.name}/score",
        swagger_uri=f"{base}/{spec.name}/swagger.json",
        traffic=dict(record.traffic),
        mirror_traffic=dict(record.mirror_traffic),
        description=spec.description,
        tags=dict(spec.tags),
    )


def deployment_view(version: DeployedVersion) -> Deployment:
    """The deployment as ``show`` prints it, with its instances' states."""
    spec = version.record.spec
    code = version.folder / "code"
    return Deployment(
        name=spec.name,
        endpoint_name=spec.endpoint_name,
        model=spec.model.display() if spec.model else None,
        provisioning_state="Failed" if version.record.failed else "Succeeded",
        instance_type=spec.instance_type,
        instance_count=spec.instance_count,
        request_settings=spec.request_settings,
        liveness_probe=spec.liveness_probe,
        readiness_probe=spec.readiness_probe,
        environment_variables=dict(spec.environment_variables),
        environment=spec.environment.display() if spec.environment else None,
        environment_spec=spec.environment,
        # The uploaded copy, as Azure shows the code asset: what runs, and what a clone gets.
        code_path=str(code),
        scoring_script=spec.scoring_script,
        autoscale=spec.autoscale,
        instances=version.supervisor.statuses(),
    )


def endpoint_route(state: EndpointState) -> EndpointRoute:
    """The endpoint as the router needs it: auth, traffic, ready upstreams."""
    record = state.record
    keys = (record.primary_key, record.secondary_key) if record.spec.auth_mode == "key" else ()
    deployments = {}
    for name, version in state.deployments.items():
        settings = version.record.spec.request_settings
        deployments[name] = DeploymentRoute(
            name=name,
            upstreams=version.supervisor.upstreams(),
            request_timeout_ms=settings.request_timeout_ms,
            max_concurrent_requests_per_instance=settings.max_concurrent_requests_per_instance,
            failed=version.record.failed,
        )
    return EndpointRoute(
        name=record.name,
        auth_mode=record.spec.auth_mode,
        keys=keys,
        token_secret=record.token_secret,
        traffic=dict(record.traffic),
        mirror_traffic=dict(record.mirror_traffic),
        deployments=deployments,
    )
