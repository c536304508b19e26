"""The instances of one generation of a deployment: start, scale, stop.

A deployment runs one generation at a time, except during a rolling update, when
the platform starts the new generation's supervisor next to the old one, swaps the
route once every new instance is ready, and stops the old.

``start`` and ``scale`` wait until the new instances are ready; if one fails
(``init()`` raised, the process exited, or it was not ready in time) every instance
they started is stopped again and ``DeploymentFailedError`` carries the failed
instance's own log lines, so nothing half-started survives; the failed instance is
marked in the deployment's logs (``DeploymentLogs.mark_failed``) so ``get-logs`` shows
it first.

    supervisor = Supervisor(deployment="blue", config=config, logs=logs, names=names,
                            on_change=push_route)
    await supervisor.start(3, progress=progress)
    await supervisor.scale(1, progress=progress)
    await supervisor.stop()
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from deploy.errors import DeploymentFailedError
from deploy.local import messages as msg
from deploy.local.dataplane.routes import Upstream
from deploy.local.instances.instance import (
    Instance,
    InstanceConfig,
    InstanceHooks,
    InstanceState,
)
from deploy.local.instances.logs import DeploymentLogs
from deploy.types import InstanceStatus, ProgressCallback

__all__ = ["InstanceNames", "SpawnHooks", "Supervisor"]

#: Told when an instance process starts (instance, pid, create time) and ends (pid).
SpawnHooks = tuple[Callable[[Instance, int, float], None], Callable[[int], None]]


class InstanceNames:
    """Names ``<deployment>-<n>``, unique among a deployment's live instances."""

    def __init__(self, deployment: str) -> None:
        self._deployment = deployment
        self._used: set[str] = set()

    def take(self) -> str:
        """The lowest free name."""
        for number in itertools.count(1):
            name = f"{self._deployment}-{number}"
            if name not in self._used:
                self._used.add(name)
                return name
        raise AssertionError("unreachable")  # pragma: no cover

    def release(self, name: str) -> None:
        """Make a name free again."""
        self._used.discard(name)


class Supervisor:
    """Keeps ``count`` instances of one deployment generation running."""

    def __init__(
        self,
        *,
        deployment: str,
        config: InstanceConfig,
        logs: DeploymentLogs,
        names: InstanceNames,
        on_change: Callable[[], None] = lambda: None,
        spawn_hooks: SpawnHooks | None = None,
    ) -> None:
        self.deployment = deployment
        self.config = config
        self._logs = logs
        self._names = names
        self._on_change = on_change
        self._spawned, self._ended = spawn_hooks or (lambda _i, _p, _c: None, lambda _p: None)
        self._instances: list[Instance] = []

    # ------------------------------------------------------------ views

    @property
    def instances(self) -> tuple[Instance, ...]:
        """The instances, oldest first."""
        return tuple(self._instances)

    def upstreams(self) -> tuple[Upstream, ...]:
        """The ready instances, as the router sees them."""
        return tuple(
            Upstream(instance=i.name, url=i.url, unix_socket=i.unix_socket)
            for i in self._instances
            if i.ready and i.url
        )

    def statuses(self) -> tuple[InstanceStatus, ...]:
        """Every instance's name, state and restarts."""
        return tuple(i.status() for i in self._instances)

    # ------------------------------------------------------------ changes

    async def start(
        self,
        count: int,
        *,
        progress: ProgressCallback | None = None,
        restart_before_ready: bool = False,
        wait: float | None = None,
    ) -> None:
        """Add ``count`` instances and wait until they are ready.

        With ``restart_before_ready`` (restoring after a restart), instances that fail
        are restarted with back-off instead, and ``wait`` bounds the wait in seconds.
        """
        new = [self._new_instance(restart_before_ready) for _ in range(count)]
        for instance in new:
            await _say(progress, msg.STARTING_INSTANCE.format(instance=instance.name))
            instance.start()
        if restart_before_ready:
            waiters = [asyncio.ensure_future(i.wait_settled()) for i in new]
            _done, pending = await asyncio.wait(waiters, timeout=wait)
            for waiter in pending:
                waiter.cancel()
            return
        await self._wait_ready(new, progress)

    async def scale(self, count: int, *, progress: ProgressCallback | None = None) -> None:
        """Start or stop instances until ``count`` run; stopped ones leave rotation first."""
        current = len(self._instances)
        if count > current:
            await self.start(count - current, progress=progress)
        elif count < current:
            extra = self._instances[count:]
            for instance in extra:
                await _say(progress, msg.STOPPING_INSTANCE.format(instance=instance.name))
            await self._stop(extra)

    async def stop(self) -> None:
        """Stop every instance."""
        await self._stop(list(self._instances))

    # ------------------------------------------------------------ helpers

    def _new_instance(self, restart_before_ready: bool) -> Instance:
        name = self._names.take()
        instance = Instance(
            name=name,
            config=self.config,
            log_path=lambda: self._logs.instance_path(name),
            hooks=InstanceHooks(changed=self._changed, spawned=self._spawned, ended=self._ended),
            restart_before_ready=restart_before_ready,
        )
        self._instances.append(instance)
        return instance

    def _changed(self, _instance: Instance) -> None:
        self._on_change()

    async def _wait_ready(self, new: list[Instance], progress: ProgressCallback | None) -> None:
        """Wait for every new instance; on the first failure stop them all and raise."""
        pending = {asyncio.ensure_future(i.wait_settled()): i for i in new}
        ready = 0
        total = len(self._instances)
        base = total - len(new)
        try:
            while pending:
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for waiter in done:
                    instance = pending.pop(waiter)
                    if instance.state is InstanceState.FAILED:
                        raise self._failed(instance)
                    ready += 1
                    await _say(
                        progress,
                        msg.INSTANCE_READY.format(
                            instance=instance.name, ready=base + ready, total=total
                        ),
                    )
        except BaseException:
            for waiter in pending:
                waiter.cancel()
            await self._stop(new)
            raise

    def _failed(self, instance: Instance) -> DeploymentFailedError:
        failure = instance.failure
        reason = failure.reason if failure else msg.UNKNOWN_FAILURE
        lines = failure.log_lines if failure else ()
        self._logs.mark_failed(instance.name, reason)
        return DeploymentFailedError(
            msg.DEPLOYMENT_FAILED.format(
                deployment=self.deployment, instance=instance.name, reason=reason
            ),
            log_lines=lines,
        )

    async def _stop(self, instances: list[Instance]) -> None:
        try:
            await asyncio.gather(*(i.stop() for i in instances))
        finally:
            for instance in instances:
                if instance in self._instances:
                    self._instances.remove(instance)
                    self._names.release(instance.name)
            self._on_change()


async def _say(progress: ProgressCallback | None, line: str) -> None:
    if progress is not None:
        await progress(line)
