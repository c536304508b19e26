"""The local platform: every Backend operation, in process, on azmlinfsrv instances.

State lives in ``<home>/state.db`` (see ``store``) and is written only after an
operation succeeded, with one exception Azure makes too: a create whose instances
fail is kept in the ``Failed`` state (no process, no traffic, its logs; see
``versions``). A failed update leaves the previous version serving and its row
unchanged. Operations on one endpoint run one at a time (a lock per endpoint).
Routing is pushed to the router after every change of traffic, keys or ready instances.

    router = Router(port=0, recorder=MetricsRecorder())
    await router.start()
    platform = Platform(home=Path("~/.flightdeck").expanduser(), router=router)
    await platform.start()                  # restores every endpoint and its instances
    await platform.create_or_update_endpoint(EndpointSpec(name="product-recommender"))
    await platform.create_or_update_deployment(spec, progress=print_line)
    await platform.stop()                   # stops every instance, keeps the state
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from base.numbers import format_number
from deploy.backend import Backend
from deploy.errors import NotFoundError, ValidationError
from deploy.local import messages as msg
from deploy.local.control.identity import TokenEndpoint, identity_mode
from deploy.local.instances.logs import DeploymentLogs
from deploy.local.instances.processes import end_leftovers, invoke_endpoint
from deploy.local.metrics.autoscaler import ScaleTarget
from deploy.local.metrics.recorder import RETENTION_MINUTES
from deploy.local.state.home import Home
from deploy.local.state.live import (
    DeployedVersion,
    EndpointState,
    MetricsSource,
    RoutePublisher,
    deployment_view,
    endpoint_route,
    endpoint_view,
)
from deploy.local.state.models import ModelRegistry
from deploy.local.state.records import (
    check_endpoint_spec,
    credentials_for,
    new_endpoint_record,
    with_new_key,
    with_spec,
    with_traffic,
    without_deployment,
)
from deploy.local.state.store import Store
from deploy.local.support import endpoint_warnings
from deploy.local.versions import Rollout, sweep_generations
from deploy.rules import validate_name
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

__all__ = ["Platform"]

logger = logging.getLogger(__name__)

_CONTAINERS = ("inference-server", "storage-initializer")


class Platform(Backend):
    """Azure ML managed online endpoints on one machine (the daemon's Backend)."""

    name: ClassVar[str] = "local"
    loopback_only: ClassVar[bool] = True
    #: The metrics recorder keeps a day of minutes.
    metrics_retention: ClassVar[timedelta] = timedelta(minutes=RETENTION_MINUTES)

    def __init__(
        self,
        *,
        home: Path,
        router: RoutePublisher,
        python: str = sys.executable,
        clock: Callable[[], float] = time.time,
        recorder: MetricsSource | None = None,
        min_startup_timeout: float = 120.0,
        identity: TokenEndpoint | None = None,
    ) -> None:
        """``home``: the state folder; ``router``: where routes are pushed (scoring URIs are
        under its ``base_url``); ``python``: the interpreter instances run on without a
        conda environment; ``recorder``: the metrics source (default: ``router.recorder``);
        ``min_startup_timeout``: the least time a new instance gets to become ready;
        ``identity``: the managed-identity token endpoint instances are pointed at (default:
        one started with the platform, in the mode ``FLIGHTDECK_LOCAL_IDENTITY`` asks for)."""
        self._home = Home(root=Path(home))
        self._router = router
        self._python = python
        self._clock = clock
        self._recorder = recorder
        self._min_startup = min_startup_timeout
        self._store: Store | None = None
        self._models: ModelRegistry | None = None
        self._rollout: Rollout | None = None
        self._endpoints: dict[str, EndpointState] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._identity = identity or TokenEndpoint(mode=identity_mode(os.environ))

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the state, end a dead daemon's leftovers, restore and relaunch everything."""
        self._home.ensure()
        await self._identity.start()
        store = self._store = Store.open(self._home.state_db)
        self._models = ModelRegistry(root=self._home.models_dir, store=store, clock=self._clock)
        self._rollout = Rollout(
            home=self._home,
            store=store,
            models=self._models,
            python=self._python,
            clock=self._clock,
            min_startup_timeout=self._min_startup,
            push=self._push,
            instance_env=self._identity.instance_environment(),
        )
        await end_leftovers(store)
        restoring: list[DeployedVersion] = []
        for record in store.endpoints():
            state = EndpointState(record=record)
            self._endpoints[record.name] = state
            for deployment in store.deployments(record.name):
                state.deployments[deployment.name] = self._rollout.restore(deployment)
            self._push(record.name)
            restoring.extend(state.deployments.values())
        referenced = {
            (v.record.spec.endpoint_name, v.record.spec.name, v.record.generation)
            for v in restoring
        }
        swept = await asyncio.to_thread(sweep_generations, self._home.deployments_dir, referenced)
        for folder in swept:
            logger.info(
                "removed %s: a generation no deployment uses (left by a killed daemon)", folder
            )
        await asyncio.gather(*(self._rollout.relaunch(version) for version in restoring))

    async def stop(self) -> None:
        """Stop every instance (the state stays for the next start)."""
        if self._rollout is not None:
            await self._rollout.stop_all()
        self._endpoints.clear()
        if self._store is not None:
            self._store.close()
            self._store = None
        await self._identity.stop()

    async def aclose(self) -> None:
        """Same as ``stop``."""
        await self.stop()

    # ------------------------------------------------------------ endpoints

    async def list_endpoints(self) -> list[Endpoint]:
        self._db()
        return [self._endpoint_view(s) for _, s in sorted(self._endpoints.items())]

    async def get_endpoint(self, name: str) -> Endpoint:
        return self._endpoint_view(self._state(name))

    async def create_or_update_endpoint(
        self, spec: EndpointSpec, *, progress: ProgressCallback | None = None
    ) -> Endpoint:
        check_endpoint_spec(spec)
        spec = replace(spec, name=spec.name.lower())  # as Azure ML: names are case-insensitive
        async with self._lock(spec.name):
            for warning in endpoint_warnings(spec):
                await _say(progress, warning)
            state = self._endpoints.get(spec.name)
            if state is None:
                record = new_endpoint_record(spec, now=self._clock())
                state = EndpointState(record=record)
            else:
                record = with_spec(state.record, spec)
            self._db().put_endpoint(record)
            state.record = record
            self._endpoints[spec.name] = state
            self._push(spec.name)
            return self._endpoint_view(state)

    async def delete_endpoint(self, name: str, *, progress: ProgressCallback | None = None) -> None:
        name = name.lower()
        async with self._lock(name):
            state = self._state(name)
            await _say(progress, msg.DELETING_ENDPOINT.format(name=name))
            self._db().delete_endpoint(name)
            del self._endpoints[name]
            self._router.remove(name)
            for version in state.deployments.values():
                await self._roll().retire(version, remove_files=True)
            for folder in (self._home.deployments_dir / name, self._home.logs_dir / name):
                await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)

    async def set_traffic(
        self,
        endpoint: str,
        traffic: Mapping[str, int] | None = None,
        *,
        mirror_traffic: Mapping[str, int] | None = None,
    ) -> Endpoint:
        endpoint = endpoint.lower()
        async with self._lock(endpoint):
            state = self._state(endpoint)
            for name, percent in {**(traffic or {}), **(mirror_traffic or {})}.items():
                version = state.deployments.get(name)
                if percent > 0 and version is not None and version.record.failed:
                    raise ValidationError(
                        msg.DEPLOYMENT_IS_FAILED.format(name=name, action="take traffic")
                    )
            new = with_traffic(state.record, list(state.deployments), traffic, mirror_traffic)
            self._db().put_endpoint(new)
            state.record = new
            self._push(endpoint)
            return self._endpoint_view(state)

    async def previous_traffic(self, endpoint: str) -> dict[str, int] | None:
        """The live split before the last change of traffic (for a rollback), if any."""
        previous = self._state(endpoint).record.previous_traffic
        return None if previous is None else dict(previous)

    async def get_credentials(self, endpoint: str) -> Credentials:
        return credentials_for(self._state(endpoint).record, now=self._clock())

    async def regenerate_keys(self, endpoint: str, *, key_type: str = "primary") -> Credentials:
        async with self._lock(endpoint):
            state = self._state(endpoint)
            new = with_new_key(state.record, key_type)
            self._db().put_endpoint(new)
            state.record = new
            self._push(endpoint)
            return credentials_for(new, now=self._clock())

    async def invoke(
        self, endpoint: str, body: bytes, *, deployment: str | None = None
    ) -> InvokeResult:
        credentials = await self.get_credentials(endpoint)
        uri = self._endpoint_view(self._state(endpoint)).scoring_uri
        return await invoke_endpoint(uri, body, bearer=credentials.bearer(), deployment=deployment)

    async def metrics(self, endpoint: str, window: timedelta) -> MetricsSnapshot:
        minutes = window.total_seconds() / 60
        longest = self.metrics_retention.total_seconds() / 60
        if not 1 <= minutes <= longest:
            raise ValidationError(
                msg.METRICS_WINDOW.format(
                    minutes=format_number(minutes), longest=format_number(longest)
                )
            )
        self._state(endpoint)
        end = datetime.fromtimestamp(self._clock(), tz=UTC)
        start = end - window
        source = self._recorder or getattr(self._router, "recorder", None)
        if source is None:
            return MetricsSnapshot(endpoint=endpoint, start=start, end=end)
        snapshot: MetricsSnapshot = source.snapshot(endpoint, start, end)
        return snapshot

    # ------------------------------------------------------------ deployments

    async def list_deployments(self, endpoint: str) -> list[Deployment]:
        state = self._state(endpoint)
        return [deployment_view(v) for _, v in sorted(state.deployments.items())]

    async def get_deployment(self, endpoint: str, name: str) -> Deployment:
        return deployment_view(self._version(endpoint, name))

    async def create_or_update_deployment(
        self, spec: DeploymentSpec, *, progress: ProgressCallback | None = None
    ) -> Deployment:
        validate_name("endpoint", spec.endpoint_name)
        validate_name("deployment", spec.name)
        spec = replace(spec, name=spec.name.lower(), endpoint_name=spec.endpoint_name.lower())
        async with self._lock(spec.endpoint_name):
            state = self._state(spec.endpoint_name)
            version = await self._roll().deploy(state, spec, progress=progress)
            return deployment_view(version)

    async def delete_deployment(
        self, endpoint: str, name: str, *, progress: ProgressCallback | None = None
    ) -> None:
        endpoint, name = endpoint.lower(), name.lower()
        async with self._lock(endpoint):
            state = self._state(endpoint)
            version = self._version(endpoint, name)
            new = without_deployment(state.record, name)
            await _say(progress, msg.DELETING_DEPLOYMENT.format(name=name))
            store = self._db()
            with store.batch():
                store.delete_deployment(endpoint, name)
                store.put_endpoint(new)
            state.record = new
            del state.deployments[name]
            self._push(endpoint)
            await self._roll().retire(version, remove_files=True)

    async def scale(
        self,
        endpoint: str,
        deployment: str,
        instance_count: int,
        *,
        progress: ProgressCallback | None = None,
    ) -> Deployment:
        async with self._lock(endpoint):
            version = self._version(endpoint, deployment)
            await self._roll().scale(version, instance_count, progress=progress)
            return deployment_view(version)

    async def set_autoscale(
        self, endpoint: str, deployment: str, policy: AutoscalePolicy | None
    ) -> Deployment:
        if policy is not None:
            validate_policy(policy)
        async with self._lock(endpoint):
            version = self._version(endpoint, deployment)
            self._roll().save_spec(version, replace(version.record.spec, autoscale=policy))
            return deployment_view(version)

    async def get_logs(
        self,
        endpoint: str,
        deployment: str,
        *,
        lines: int = 100,
        container: ContainerType = "inference-server",
    ) -> str:
        if container not in _CONTAINERS:
            raise ValidationError(msg.LOGS_CONTAINER_INVALID.format(container=container))
        if lines < 1:
            raise ValidationError(msg.LOGS_LINES_INVALID.format(lines=lines))
        version = self._version(endpoint, deployment)
        logs: DeploymentLogs = version.logs
        return await asyncio.to_thread(logs.tail, lines=lines, container=container)

    # ------------------------------------------------------------ models

    async def register_model(
        self, name: str, version: str, path: str, *, description: str | None = None
    ) -> RegisteredModel:
        return await self._registry().register(name, version, path, description=description)

    async def list_models(self) -> list[RegisteredModel]:
        return self._registry().versions()

    async def get_model(self, name: str, version: str) -> RegisteredModel:
        return self._registry().get(name, version)

    async def set_model_archived(self, name: str, version: str | None, *, archived: bool) -> None:
        await self._registry().set_archived(name, version, archived=archived)

    # ------------------------------------------------------------ diagnostics

    def instance_pids(self, endpoint: str, deployment: str) -> dict[str, int]:
        """The running process (gunicorn master) of each instance of a deployment."""
        version = self._version(endpoint, deployment)
        return {i.name: i.pid for i in version.supervisor.instances if i.pid is not None}

    def scale_targets(self) -> list[ScaleTarget]:
        """Every running deployment, its policy, instance count and instance pids (for the
        autoscaler)."""
        targets = []
        for endpoint, state in sorted(self._endpoints.items()):
            for name, version in sorted(state.deployments.items()):
                if version.record.failed:
                    continue
                spec = version.record.spec
                settings = spec.request_settings
                targets.append(
                    ScaleTarget(
                        endpoint=endpoint,
                        deployment=name,
                        policy=spec.autoscale,
                        instances=spec.instance_count,
                        max_concurrent_per_instance=settings.max_concurrent_requests_per_instance,
                        pids=tuple(i.pid for i in version.supervisor.instances if i.pid),
                    )
                )
        return targets

    def note(self, endpoint: str, deployment: str, line: str) -> None:
        """Append a line to a deployment's storage-initializer log (autoscale decisions)."""
        self._version(endpoint, deployment).logs.storage(line)

    # ------------------------------------------------------------ helpers

    def _lock(self, endpoint: str) -> asyncio.Lock:
        return self._locks.setdefault(endpoint.lower(), asyncio.Lock())

    def _state(self, endpoint: str) -> EndpointState:
        self._db()
        # Names are case-insensitive on Azure ML (azure-ai-ml lowercases them at create, as
        # "MFE is case-insensitive for Name"): what create made, show and delete find.
        state = self._endpoints.get(endpoint.lower())
        if state is None:
            known = ", ".join(sorted(self._endpoints)) or "none"
            raise NotFoundError(msg.ENDPOINT_NOT_FOUND.format(name=endpoint, known=known))
        return state

    def _version(self, endpoint: str, name: str) -> DeployedVersion:
        state = self._state(endpoint)
        version = state.deployments.get(name.lower())
        if version is None:
            known = ", ".join(sorted(state.deployments)) or "none"
            raise NotFoundError(
                msg.DEPLOYMENT_NOT_FOUND.format(name=name, endpoint=endpoint, known=known)
            )
        return version

    def _push(self, endpoint: str) -> None:
        state = self._endpoints.get(endpoint)
        if state is not None:
            self._router.update(endpoint_route(state))

    def _endpoint_view(self, state: EndpointState) -> Endpoint:
        return endpoint_view(state, base_url=self._router.base_url)

    def _db(self) -> Store:
        if self._store is None:
            from deploy.errors import BackendUnavailableError

            raise BackendUnavailableError(msg.PLATFORM_NOT_STARTED)
        return self._store

    def _roll(self) -> Rollout:
        self._db()
        assert self._rollout is not None
        return self._rollout

    def _registry(self) -> ModelRegistry:
        self._db()
        assert self._models is not None
        return self._models


async def _say(progress: ProgressCallback | None, line: str) -> None:
    if progress is not None:
        await progress(line)
