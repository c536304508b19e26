"""What the control API reports while a long operation runs: Azure's provisioning states.

Azure shows ``Creating``, ``Updating`` or ``Deleting`` on an endpoint or deployment while an
operation on it runs (what ``az ml ... --no-wait`` users poll ``show`` for). The control API
marks a resource when it starts an operation and clears it when the operation ends; reads
pass through ``Provisioning.endpoint`` / ``deployment`` to carry the state::

    async with provisioning.busy(endpoint, deployment, "Updating", spec=spec):
        ...
    shown = provisioning.deployment(await backend.get_deployment(e, d))
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from deploy.types import Deployment, DeploymentSpec, Endpoint, EndpointSpec

__all__ = ["Provisioning"]

Key = tuple[str, str | None]


@dataclass(frozen=True)
class _Busy:
    state: str
    spec: DeploymentSpec | EndpointSpec | None


class Provisioning:
    """Resources with an operation under way, and the state to report for them."""

    def __init__(self) -> None:
        self._busy: dict[Key, _Busy] = {}

    @contextlib.asynccontextmanager
    async def busy(
        self,
        endpoint: str,
        deployment: str | None,
        state: str,
        *,
        spec: DeploymentSpec | EndpointSpec | None = None,
    ) -> AsyncIterator[None]:
        """Report ``state`` for the resource while the block runs."""
        key = (endpoint, deployment)
        self._busy[key] = _Busy(state, spec)
        try:
            yield
        finally:
            if self._busy.get(key) == _Busy(state, spec):
                del self._busy[key]

    def endpoint(self, endpoint: Endpoint) -> Endpoint:
        """``endpoint`` with the state of an operation under way, if any."""
        busy = self._busy.get((endpoint.name, None))
        return endpoint if busy is None else replace(endpoint, provisioning_state=busy.state)

    def deployment(self, deployment: Deployment) -> Deployment:
        """``deployment`` with the state of an operation under way, if any."""
        busy = self._busy.get((deployment.endpoint_name, deployment.name))
        return deployment if busy is None else replace(deployment, provisioning_state=busy.state)

    def creating_endpoint(self, name: str) -> Endpoint | None:
        """An endpoint being created that the platform does not hold yet."""
        busy = self._busy.get((name, None))
        if busy is None or busy.state != "Creating" or not isinstance(busy.spec, EndpointSpec):
            return None
        spec = busy.spec
        return Endpoint(
            name=spec.name,
            auth_mode=spec.auth_mode,
            scoring_uri="",
            provisioning_state="Creating",
            description=spec.description,
            tags=dict(spec.tags),
        )

    def creating_deployments(self, endpoint: str) -> list[Deployment]:
        """Deployments of ``endpoint`` being created that the platform does not hold yet."""
        found = []
        for (ep, name), busy in self._busy.items():
            spec = busy.spec
            if ep != endpoint or name is None or busy.state != "Creating":
                continue
            if not isinstance(spec, DeploymentSpec):
                continue
            found.append(
                Deployment(
                    name=spec.name,
                    endpoint_name=spec.endpoint_name,
                    model=spec.model.display() if spec.model else None,
                    instance_type=spec.instance_type,
                    instance_count=spec.instance_count,
                    provisioning_state="Creating",
                    request_settings=spec.request_settings,
                    liveness_probe=spec.liveness_probe,
                    readiness_probe=spec.readiness_probe,
                    environment_variables=dict(spec.environment_variables),
                    environment_spec=spec.environment,
                    code_path=spec.code_path,
                    scoring_script=spec.scoring_script,
                    autoscale=spec.autoscale,
                )
            )
        return found
