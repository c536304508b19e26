"""One instance of a deployment: a server process, its probes and its restarts.

The process is Azure's inference server (or fastserve, see ``InstanceConfig.server``),
started on a free loopback port in its own process group (the gunicorn master and its
workers end together). Its output goes to the instance's log file. Probes follow the
deployment's settings:

- readiness (``GET /`` every ``period`` after ``initial_delay``): ``success_threshold``
  successes put the instance in rotation, ``failure_threshold`` failures take it out;
- liveness (every ``period`` after ``initial_delay``, once the process has been ready):
  ``failure_threshold`` failures in a row restart it; before its first readiness a
  process has ``startup_timeout`` instead, so short probes never kill a slow start;
- a process that exits is restarted with back-off (0.5 s doubling to 30 s), unless it
  never became ready and ``restart_before_ready`` is off: then the instance fails, and
  ``failure`` holds the reason and the process's own last log lines.

    instance = Instance(name="blue-1", config=config, log_path=path, hooks=hooks)
    instance.start()
    await instance.wait_settled()     # ready, or failed (see instance.failure)
    await instance.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local import messages as msg
from deploy.local.instances.cpu import AUTO, CpuLimiter, start_cpu_limit
from deploy.local.instances.launcher import (
    HOST,
    PARENT_ENV,
    UNIX_SOCKET_ENV,
    create_time,
    free_port,
    launch_command,
    probe,
    signal_group,
    unix_socket_path,
    wait_any,
    watch_exit,
)
from deploy.local.instances.logs import tail_file
from deploy.local.instances.memory import tree_memory
from deploy.local.instances.servers import AZMLINFSRV, FAST
from deploy.types import InstanceStatus, ProbeSettings

__all__ = [
    "Instance",
    "InstanceConfig",
    "InstanceFailure",
    "InstanceHooks",
    "InstanceState",
]

logger = logging.getLogger(__name__)

_PORT_TAKEN = ("Address already in use", "Connection in use")
_PORT_RETRIES = 3
_BACKOFF_START = 0.5
_BACKOFF_MAX = 30.0
_STABLE_SECONDS = 60.0
_STOP_GRACE_SECONDS = 5.0
_FAILURE_LOG_LINES = 40
_POLL_SECONDS = 0.25


class InstanceState(enum.StrEnum):
    """Where an instance is in its life."""

    STARTING = "starting"
    READY = "ready"
    UNREADY = "unready"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass(frozen=True, kw_only=True)
class InstanceConfig:
    """How to run a deployment's instances (the same for all of a generation)."""

    python: str
    entry_script: Path
    app_root: Path
    environment: Mapping[str, str]
    liveness: ProbeSettings = field(default_factory=ProbeSettings)
    readiness: ProbeSettings = field(default_factory=ProbeSettings)
    #: The longest a new process may take to be ready before it counts as failed.
    startup_timeout: float = 120.0
    #: The inference server: ``azmlinfsrv`` or ``fast`` (see ``deploy.local.instances.servers``).
    server: str = AZMLINFSRV
    #: ``resources.limits.memory`` in bytes (``None``: no limit), for the instance's processes
    #: together; ``memory_limit_text`` is the quantity as the user wrote it (``512Mi``).
    memory_limit: int | None = None
    memory_limit_text: str = ""
    #: ``resources.limits.cpu`` in cores (``None``: no limit), as written (``250m``), and how
    #: it is held: ``auto`` (a cgroup where one is writable, else ``throttle``), ``cgroup``
    #: or ``throttle`` (see ``deploy.local.instances.cpu``).
    cpu_limit: float | None = None
    cpu_limit_text: str = ""
    cpu_limit_method: str = AUTO


@dataclass(frozen=True, kw_only=True)
class InstanceFailure:
    """Why an instance did not start: a reason and the process's last log lines."""

    reason: str
    log_lines: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class InstanceHooks:
    """Callbacks from an instance: state changes, and processes started and ended."""

    changed: Callable[[Instance], None] = lambda _instance: None
    spawned: Callable[[Instance, int, float], None] = lambda _instance, _pid, _created: None
    ended: Callable[[int], None] = lambda _pid: None


@dataclass(kw_only=True)
class _Run:
    """One process of an instance."""

    process: subprocess.Popen[bytes]
    port: int
    log_offset: int
    started: float
    exited: asyncio.Event
    watched: bool = False
    was_ready: bool = False
    unresponsive: bool = False
    cpu: CpuLimiter | None = None
    unix_socket: str | None = None  # fastserve's, for the router


class Instance:
    """A server process (azmlinfsrv or fastserve) kept alive by probes and restarts."""

    def __init__(
        self,
        *,
        name: str,
        config: InstanceConfig,
        log_path: Callable[[], Path],
        hooks: InstanceHooks | None = None,
        restart_before_ready: bool = False,
    ) -> None:
        self.name = name
        self.config = config
        self.state = InstanceState.STARTING
        self.restarts = 0
        self.failure: InstanceFailure | None = None
        self._log_path = log_path
        self._hooks = hooks or InstanceHooks()
        self._restart_before_ready = restart_before_ready
        self._ever_ready = False
        self._run: _Run | None = None
        self._task: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()
        self._stop = asyncio.Event()

    # ------------------------------------------------------------ public

    @property
    def url(self) -> str | None:
        """``http://127.0.0.1:<port>`` of the running process, if any."""
        return f"http://{HOST}:{self._run.port}" if self._run else None

    @property
    def unix_socket(self) -> str | None:
        """The Unix socket the running process also listens on (fastserve), once it exists.

        None for azmlinfsrv, and for a fastserve that does not make one (an older copy in
        the deployment's code folder): the router then uses :attr:`url`.
        """
        path = self._run.unix_socket if self._run else None
        if path is None:
            return None
        try:
            return path if stat.S_ISSOCK(os.lstat(path).st_mode) else None
        except OSError:
            return None

    @property
    def pid(self) -> int | None:
        """The pid of the running process (the gunicorn master), if any."""
        return self._run.process.pid if self._run else None

    @property
    def ready(self) -> bool:
        """True while the instance is in rotation."""
        return self.state is InstanceState.READY

    def status(self) -> InstanceStatus:
        """The instance as ``Deployment.instances`` reports it."""
        return InstanceStatus(name=self.name, state=str(self.state), restarts=self.restarts)

    def start(self) -> None:
        """Start the process and its probes in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._main(), name=f"instance {self.name}")

    async def wait_settled(self) -> None:
        """Return once the instance was ready for the first time, or has failed (with
        ``restart_before_ready``: or its first process ended, and it goes on restarting)."""
        await self._settled.wait()

    async def stop(self) -> None:
        """Stop the process (SIGTERM, SIGKILL after a grace period) and the probes."""
        self._stop.set()
        if self.state not in (InstanceState.FAILED, InstanceState.STOPPED):
            self._set(InstanceState.STOPPING)
        if self._task is not None:
            await asyncio.shield(self._task)
        self._settled.set()
        if self.state is not InstanceState.FAILED:
            self._set(InstanceState.STOPPED)

    # ------------------------------------------------------------ the loop

    async def _main(self) -> None:
        try:
            await self._loop()
        except Exception:  # a bug: logged once here, and the instance fails visibly
            logger.exception("instance %s stopped on an unexpected error", self.name)
            self.failure = InstanceFailure(reason=msg.UNKNOWN_FAILURE)
            self._set(InstanceState.FAILED)
            self._settled.set()

    async def _loop(self) -> None:
        backoff = _BACKOFF_START
        port_retries = 0
        while not self._stop.is_set():
            started = time.monotonic()
            failure = await self._run_once()
            if self._stop.is_set() or failure is None:
                break
            if time.monotonic() - started > _STABLE_SECONDS:
                backoff = _BACKOFF_START  # it had run well for a while: a fresh crash
            if self._port_taken(failure) and port_retries < _PORT_RETRIES:
                port_retries += 1
                continue
            if not self._ever_ready and not self._restart_before_ready:
                self.failure = failure
                self._set(InstanceState.FAILED)
                self._settled.set()
                return
            self.restarts += 1
            logger.warning(
                "instance %s %s; restart %d in %.1f s",
                self.name,
                failure.reason,
                self.restarts,
                backoff,
            )
            self._note(
                msg.INSTANCE_RESTARTING_LOG.format(
                    instance=self.name, reason=failure.reason, count=self.restarts, delay=backoff
                )
            )
            self._set(InstanceState.RESTARTING)
            # Restoring: a first attempt that failed settles too (it goes on restarting).
            self._settled.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _run_once(self) -> InstanceFailure | None:
        """Run one process until it exits, fails its probes, or we stop; why it ended."""
        try:
            run = self._spawn()
        except OSError as exc:
            return InstanceFailure(reason=msg.INSTANCE_SPAWN_FAILED.format(error=exc))
        self._run = run
        loop = asyncio.get_running_loop()
        pidfd = watch_exit(loop, run.process.pid, run.exited)
        run.watched = pidfd is not None
        try:
            return await self._watch(run)
        finally:
            if run.cpu is not None:
                await run.cpu.release()  # a stopped group would not act on SIGTERM
            await self._end(run)
            if run.cpu is not None:
                await asyncio.to_thread(run.cpu.remove)
            if pidfd is not None:
                loop.remove_reader(pidfd)
                os.close(pidfd)
            self._run = None

    async def _watch(self, run: _Run) -> InstanceFailure | None:
        readiness, liveness = self.config.readiness, self.config.liveness
        now = time.monotonic()
        next_ready = now + readiness.initial_delay
        next_live = now + liveness.initial_delay
        deadline = now + self.config.startup_timeout
        ready_ok = ready_failed = live_failed = 0
        while True:
            wake = min(next_ready, next_live)
            if not run.was_ready:
                wake = min(wake, deadline)
            timeout = max(0.0, wake - time.monotonic())
            if not run.watched or self.config.memory_limit or run.cpu is not None:
                timeout = min(timeout, _POLL_SECONDS)
            await wait_any(run.exited, self._stop, seconds=timeout)
            if self._stop.is_set():
                return None
            if run.exited.is_set() or run.process.poll() is not None:
                code = run.process.wait()
                text = msg.INSTANCE_CRASHED if run.was_ready else msg.INSTANCE_EXITED
                return self._failure(run, text.format(code=code))
            self._note_throttled(run)
            over = self._over_memory_limit(run)
            if over is not None:
                run.unresponsive = True  # killed at once, as the OOM killer does
                return self._failure(run, over)
            now = time.monotonic()
            if not run.was_ready and now >= deadline:
                return self._failure(run, msg.INSTANCE_NOT_READY.format(seconds=now - run.started))
            if now >= next_ready:
                next_ready = now + readiness.period
                if await probe(run.port, readiness.timeout):
                    ready_ok, ready_failed = ready_ok + 1, 0
                    if ready_ok >= readiness.success_threshold and not self.ready:
                        run.was_ready = True
                        self._became_ready()
                else:
                    ready_ok, ready_failed = 0, ready_failed + 1
                    if ready_failed >= readiness.failure_threshold and self.ready:
                        self._set(InstanceState.UNREADY)
            if now >= next_live:
                next_live = now + liveness.period
                # Before its first readiness a process has the startup deadline instead:
                # a slow start under load is not killed over and over by short probes.
                if not run.was_ready or await probe(run.port, liveness.timeout):
                    live_failed = 0
                else:
                    live_failed += 1
                    if live_failed >= liveness.failure_threshold:
                        run.unresponsive = True
                        return self._failure(run, msg.INSTANCE_LIVENESS.format(count=live_failed))

    def _over_memory_limit(self, run: _Run) -> str | None:
        """Why the instance must die when its processes together use more memory than
        ``config.memory_limit`` (proportional set size: pages shared by the gunicorn master
        and its forked workers count once, as a container's cgroup counts them)."""
        limit = self.config.memory_limit
        if not limit:
            return None
        used = tree_memory(run.process.pid)
        if used <= limit:
            return None
        return msg.INSTANCE_MEMORY_LIMIT.format(
            limit=self.config.memory_limit_text or limit, used=used // 2**20
        )

    def _note_throttled(self, run: _Run) -> None:
        """Say in the instance's log, once per process, that it is held to its CPU limit."""
        how = run.cpu.poll() if run.cpu is not None else None
        if how is not None:
            logger.info("instance %s is throttled to its CPU limit by %s", self.name, how)
            self._note(
                msg.INSTANCE_CPU_THROTTLED.format(
                    instance=self.name, limit=self.config.cpu_limit_text, how=how
                )
            )

    def _became_ready(self) -> None:
        self._ever_ready = True
        self._set(InstanceState.READY)
        self._settled.set()

    # ------------------------------------------------------------ processes

    def _spawn(self) -> _Run:
        port = free_port()
        path = self._log_path()
        env = {**self.config.environment, PARENT_ENV: str(os.getpid())}
        unix_socket = unix_socket_path() if self.config.server == FAST else None
        if unix_socket is not None:
            env[UNIX_SOCKET_ENV] = unix_socket
        command = launch_command(
            self.config.python,
            self.config.entry_script,
            port=port,
            server=self.config.server,
            app_root=self.config.app_root,
        )
        with path.open("ab") as log:
            offset = log.tell()
            process = subprocess.Popen(
                command,
                cwd=self.config.app_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        created = create_time(process.pid)
        cpu = None
        if self.config.cpu_limit:
            cpu = start_cpu_limit(
                process.pid, cores=self.config.cpu_limit, method=self.config.cpu_limit_method
            )
        if self.state is not InstanceState.STARTING:
            self._set(InstanceState.STARTING)
        self._hooks.spawned(self, process.pid, created)
        return _Run(
            process=process,
            port=port,
            log_offset=offset,
            started=time.monotonic(),
            exited=asyncio.Event(),
            cpu=cpu,
            unix_socket=unix_socket,
        )

    async def _end(self, run: _Run) -> None:
        """Make sure the process group is gone, then reap the leader."""
        if self.ready:
            self._set(InstanceState.UNREADY)
        # An instance that fails its liveness probes is killed at once, as a hung one would be.
        if run.process.poll() is None and not run.exited.is_set() and not run.unresponsive:
            signal_group(run.process.pid, signal.SIGTERM)
            await wait_any(run.exited, seconds=_STOP_GRACE_SECONDS)
        # The leader is not reaped yet, so its pid (= the group id) cannot be reused.
        signal_group(run.process.pid, signal.SIGKILL)
        await asyncio.to_thread(run.process.wait)
        if run.unix_socket is not None:  # its own random path: no other process uses it
            with contextlib.suppress(OSError):
                os.unlink(run.unix_socket)
        self._hooks.ended(run.process.pid)

    def _note(self, line: str) -> None:
        """Append a line of the supervisor's to the instance's log (get-logs shows it)."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S") + f",{int(time.time() * 1000) % 1000:03d}"
        with contextlib.suppress(OSError), self._log_path().open("a", encoding="utf-8") as out:
            out.write(f"{stamp} W {line}\n")

    def _failure(self, run: _Run, reason: str) -> InstanceFailure:
        lines = tail_file(self._log_path(), _FAILURE_LOG_LINES, since=run.log_offset)
        return InstanceFailure(reason=reason, log_lines=tuple(lines))

    @staticmethod
    def _port_taken(failure: InstanceFailure) -> bool:
        return any(text in line for line in failure.log_lines for text in _PORT_TAKEN)

    def _set(self, state: InstanceState) -> None:
        if state is not self.state:
            self.state = state
            self._hooks.changed(self)
