"""Deploying, scaling, restoring and retiring the versions of deployments.

A create or update stages a new generation folder (code and model copies),
starts its instances and waits until every one is ready; only then is the row
written and the route swapped, and the previous version stopped (a rolling
replacement). If anything fails, what was started is stopped and the new folder
removed. A failed update leaves the previous version serving and its row unchanged.
A create whose instances fail (``DeploymentFailedError``) is kept as Azure keeps it,
in the ``Failed`` state: a row with the failure, no instances, 0% traffic, its logs
(the failed instance marked, the failure in the storage-initializer log), until it is
updated or deleted; any other failure of a create leaves nothing.

The caller (``Platform``) holds the endpoint's lock around every call.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from deploy.errors import DeploymentFailedError, ValidationError
from deploy.local import messages as msg
from deploy.local.instances.instance import Instance, InstanceConfig
from deploy.local.instances.logs import DeploymentLogs
from deploy.local.instances.supervisor import InstanceNames, Supervisor
from deploy.local.staging import (
    check_deployment_spec,
    instance_config,
    model_dir_for,
    stage_generation,
    staged_python,
)
from deploy.local.state.home import Home
from deploy.local.state.live import DeployedVersion, EndpointState
from deploy.local.state.models import ModelRegistry
from deploy.local.state.store import DeploymentRecord, EndpointRecord, ProcessRecord, Store
from deploy.local.support import cpu_limit, deployment_warnings, memory_limit
from deploy.rules import MAX_DEPLOYMENTS_PER_ENDPOINT, MAX_INSTANCES_PER_DEPLOYMENT
from deploy.types import DeploymentSpec, ProgressCallback

__all__ = ["Rollout", "sweep_generations"]

logger = logging.getLogger(__name__)


class Rollout:
    """Runs deployments' versions for the platform; tracks every supervisor it started."""

    def __init__(
        self,
        *,
        home: Home,
        store: Store,
        models: ModelRegistry,
        python: str,
        push: Callable[[str], None],
        clock: Callable[[], float] = time.time,
        min_startup_timeout: float = 120.0,
        instance_env: Mapping[str, str] | None = None,
    ) -> None:
        """``instance_env``: variables every instance gets from the platform (the managed
        identity endpoint's), under the deployment's own."""
        self._home = home
        self._instance_env = dict(instance_env or {})
        self._store = store
        self._models = models
        self._python = python
        self._push = push
        self._clock = clock
        self._min_startup = min_startup_timeout
        self._supervisors: set[Supervisor] = set()

    # ------------------------------------------------------------ create / update

    async def deploy(
        self,
        state: EndpointState,
        spec: DeploymentSpec,
        *,
        progress: ProgressCallback | None = None,
    ) -> DeployedVersion:
        """Create or update (rolling) a deployment; see the module's docstring."""
        check_deployment_spec(spec)
        current = state.deployments.get(spec.name)
        # A Failed deployment serves nothing: updating it is a create over its row.
        serving = current if current is not None and not current.record.failed else None
        if current is None and len(state.deployments) >= MAX_DEPLOYMENTS_PER_ENDPOINT:
            raise ValidationError(
                msg.TOO_MANY_DEPLOYMENTS.format(
                    endpoint=spec.endpoint_name,
                    count=len(state.deployments),
                    limit=MAX_DEPLOYMENTS_PER_ENDPOINT,
                )
            )
        if spec.model is not None and spec.model.registered:
            self._models.get(spec.model.name or "", spec.model.version or "")
        endpoint = spec.endpoint_name
        generation = current.record.generation + 1 if current else 1
        folder = self._folder(endpoint, spec.name, generation)
        logs = current.logs if current else self._logs(endpoint, spec.name)
        names = current.names if current else InstanceNames(spec.name)
        if serving is None:
            line = msg.CREATING_DEPLOYMENT.format(
                name=spec.name, endpoint=endpoint, count=spec.instance_count
            )
        else:
            line = msg.UPDATING_DEPLOYMENT.format(name=spec.name, endpoint=endpoint)
        await _say(progress, line)
        logs.clear_failures()
        for warning in deployment_warnings(spec):
            logs.storage(warning)
            await _say(progress, warning)
        supervisor: Supervisor | None = None
        endpoint_record = state.record
        try:
            staged = await stage_generation(
                spec,
                folder=folder,
                registry=self._models,
                logs=logs,
                home=self._home.root,
                python=self._python,
                progress=progress,
            )
            config = instance_config(
                spec,
                folder=folder,
                model_dir=staged.model_dir,
                python=staged.python,
                min_startup_timeout=self._min_startup,
            )
            config = self._enforced(config, spec)
            supervisor = self._supervisor(endpoint, spec.name, config, logs, names)
            await supervisor.start(spec.instance_count, progress=progress)
            created = current.record.created_at if current else self._clock()
            record = DeploymentRecord(spec=spec, generation=generation, created_at=created)
            endpoint_record = self._save(endpoint_record, record)
        except BaseException as exc:
            if supervisor is not None:
                await self._discard(supervisor)
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(exc, DeploymentFailedError):
                logs.storage(msg.FAILED_STORAGE_LINE.format(message=exc.message))
                if serving is not None:
                    raise DeploymentFailedError(
                        msg.DEPLOYMENT_FAILED_UPDATE.format(message=exc.message),
                        log_lines=exc.log_lines,
                    ) from None
                await self._keep_failed(state, spec, generation, logs, names, exc, current)
                raise DeploymentFailedError(
                    msg.DEPLOYMENT_KEPT_FAILED.format(message=exc.message, name=spec.name),
                    log_lines=exc.log_lines,
                ) from None
            if current is None:
                logs.remove()
                shutil.rmtree(folder.parent, ignore_errors=True)
            raise
        version = DeployedVersion(
            record=record, supervisor=supervisor, names=names, logs=logs, folder=folder
        )
        state.record = endpoint_record
        state.deployments[spec.name] = version
        self._push(endpoint)
        if serving is not None:
            await _say(progress, msg.SWAPPED.format(name=spec.name))
        if current is not None:
            await self.retire(current, remove_files=False)
        await _say(progress, msg.DEPLOYMENT_READY.format(name=spec.name, count=spec.instance_count))
        return version

    def _save(self, endpoint: EndpointRecord, record: DeploymentRecord) -> EndpointRecord:
        """Write a deployment's row, and its 0% share of traffic when it is new."""
        with self._store.batch():
            self._store.put_deployment(record)
            if record.name not in endpoint.traffic:
                endpoint = replace(endpoint, traffic={**endpoint.traffic, record.name: 0})
                self._store.put_endpoint(endpoint)
        return endpoint

    async def _keep_failed(
        self,
        state: EndpointState,
        spec: DeploymentSpec,
        generation: int,
        logs: DeploymentLogs,
        names: InstanceNames,
        error: DeploymentFailedError,
        current: DeployedVersion | None,
    ) -> None:
        """Keep a create that failed as Azure does: a Failed row, no instances, its logs."""
        created = current.record.created_at if current else self._clock()
        record = DeploymentRecord(
            spec=spec, generation=generation, created_at=created, failure=error.message
        )
        state.record = self._save(state.record, record)
        folder = self._folder(spec.endpoint_name, spec.name, generation)
        config = self._failed_config(folder)
        supervisor = Supervisor(deployment=spec.name, config=config, logs=logs, names=names)
        state.deployments[spec.name] = DeployedVersion(
            record=record, supervisor=supervisor, names=names, logs=logs, folder=folder
        )
        self._push(spec.endpoint_name)
        if current is not None:
            await self.retire(current, remove_files=False)

    def _enforced(self, config: InstanceConfig, spec: DeploymentSpec) -> InstanceConfig:
        """``config`` with the platform's variables (the deployment's own win) and what this
        machine enforces of the spec (the memory and CPU limits)."""
        config = replace(config, environment={**self._instance_env, **config.environment})
        limit = memory_limit(spec)
        if limit is not None:
            config = replace(config, memory_limit=limit.bytes, memory_limit_text=limit.text)
        cpu = cpu_limit(spec)
        if cpu is not None:
            config = replace(config, cpu_limit=cpu.cores, cpu_limit_text=cpu.text)
        return config

    def _failed_config(self, folder: Path) -> InstanceConfig:
        """The config of a Failed version's supervisor (it never starts an instance)."""
        return InstanceConfig(
            python=self._python,
            entry_script=folder / "code" / "score.py",
            app_root=folder / "code",
            environment={},
        )

    # ------------------------------------------------------------ scale, settings

    async def scale(
        self, version: DeployedVersion, count: int, *, progress: ProgressCallback | None = None
    ) -> None:
        """Start or stop instances; the row changes only once the new count runs."""
        spec = version.record.spec
        if version.record.failed:
            raise ValidationError(msg.DEPLOYMENT_IS_FAILED.format(name=spec.name, action="scale"))
        if not 1 <= count <= MAX_INSTANCES_PER_DEPLOYMENT:
            raise ValidationError(
                msg.INSTANCE_COUNT_INVALID.format(
                    name=spec.name, limit=MAX_INSTANCES_PER_DEPLOYMENT, count=count
                )
            )
        current = len(version.supervisor.instances)
        await _say(progress, msg.SCALING.format(name=spec.name, current=current, count=count))
        await version.supervisor.scale(count, progress=progress)
        self.save_spec(version, replace(spec, instance_count=count))
        await _say(progress, msg.DEPLOYMENT_READY.format(name=spec.name, count=count))

    def save_spec(self, version: DeployedVersion, spec: DeploymentSpec) -> None:
        """Store a changed spec of the running version (no restart)."""
        record = replace(version.record, spec=spec)
        self._store.put_deployment(record)
        version.record = record

    # ------------------------------------------------------------ restore, retire, stop

    def restore(self, record: DeploymentRecord) -> DeployedVersion:
        """The version a stored row describes (not started yet: see ``relaunch``)."""
        spec = record.spec
        folder = self._folder(spec.endpoint_name, spec.name, record.generation)
        if record.failed:
            logs = self._logs(spec.endpoint_name, spec.name)
            names = InstanceNames(spec.name)
            supervisor = Supervisor(
                deployment=spec.name, config=self._failed_config(folder), logs=logs, names=names
            )
            return DeployedVersion(
                record=record, supervisor=supervisor, names=names, logs=logs, folder=folder
            )
        if not folder.is_dir():
            logger.error(
                "the code and model copies of %s/%s are gone: %s",
                spec.endpoint_name,
                spec.name,
                folder,
            )
        model_dir = model_dir_for(spec, folder=folder, registry=self._models)
        config = instance_config(
            spec,
            folder=folder,
            model_dir=model_dir,
            python=staged_python(folder, default=self._python),
            min_startup_timeout=self._min_startup,
        )
        config = self._enforced(config, spec)
        logs = self._logs(spec.endpoint_name, spec.name)
        names = InstanceNames(spec.name)
        supervisor = self._supervisor(spec.endpoint_name, spec.name, config, logs, names)
        return DeployedVersion(
            record=record, supervisor=supervisor, names=names, logs=logs, folder=folder
        )

    async def relaunch(self, version: DeployedVersion) -> None:
        """Start a restored version's instances; wait (bounded) for them to be ready.

        Instances that fail are restarted with back-off, as after a crash.
        """
        if version.record.failed:
            return
        supervisor = version.supervisor
        await supervisor.start(
            version.record.spec.instance_count,
            restart_before_ready=True,
            wait=supervisor.config.startup_timeout,
        )

    async def retire(self, version: DeployedVersion, *, remove_files: bool) -> None:
        """Stop a version's instances; remove its folder (and with ``remove_files`` all
        of the deployment's folders and logs)."""
        await self._discard(version.supervisor)
        if remove_files:
            await asyncio.to_thread(shutil.rmtree, version.folder.parent, ignore_errors=True)
            await asyncio.to_thread(version.logs.remove)
        else:
            await asyncio.to_thread(shutil.rmtree, version.folder, ignore_errors=True)

    async def stop_all(self) -> None:
        """Stop every instance of every version."""
        await asyncio.gather(*(self._discard(s) for s in list(self._supervisors)))

    # ------------------------------------------------------------ helpers

    def _folder(self, endpoint: str, deployment: str, generation: int) -> Path:
        return self._home.deployments_dir / endpoint / deployment / str(generation)

    def _logs(self, endpoint: str, deployment: str) -> DeploymentLogs:
        return DeploymentLogs(folder=self._home.logs_dir / endpoint / deployment, clock=self._clock)

    def _supervisor(
        self,
        endpoint: str,
        deployment: str,
        config: InstanceConfig,
        logs: DeploymentLogs,
        names: InstanceNames,
    ) -> Supervisor:
        store = self._store

        def spawned(instance: Instance, pid: int, created: float) -> None:
            store.put_process(
                ProcessRecord(
                    pid=pid,
                    create_time=created,
                    endpoint=endpoint,
                    deployment=deployment,
                    instance=instance.name,
                )
            )

        def ended(pid: int) -> None:
            store.delete_process(pid)

        supervisor = Supervisor(
            deployment=deployment,
            config=config,
            logs=logs,
            names=names,
            on_change=lambda: self._push(endpoint),
            spawn_hooks=(spawned, ended),
        )
        self._supervisors.add(supervisor)
        return supervisor

    async def _discard(self, supervisor: Supervisor) -> None:
        try:
            await supervisor.stop()
        finally:
            self._supervisors.discard(supervisor)


def sweep_generations(root: Path, referenced: set[tuple[str, str, int]]) -> list[Path]:
    """Remove generation folders (``<root>/<endpoint>/<deployment>/<n>``) that no stored
    deployment references: what a daemon killed while staging or replacing left behind.
    Folders emptied by that go too. Returns what was removed."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for endpoint in sorted(p for p in root.iterdir() if p.is_dir()):
        for deployment in sorted(p for p in endpoint.iterdir() if p.is_dir()):
            for generation in sorted(p for p in deployment.iterdir() if p.is_dir()):
                if not generation.name.isdigit():
                    continue
                if (endpoint.name, deployment.name, int(generation.name)) not in referenced:
                    shutil.rmtree(generation, ignore_errors=True)
                    removed.append(generation)
            if not any(deployment.iterdir()):
                deployment.rmdir()
        if not any(endpoint.iterdir()):
            endpoint.rmdir()
    return removed


async def _say(progress: ProgressCallback | None, line: str) -> None:
    if progress is not None:
        await progress(line)
