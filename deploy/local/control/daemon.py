"""The local platform daemon: Platform + Router + control API, in one process.

Run by ``flightdeck local up`` (see ``deploy.local.control.lifecycle``), detached::

    python -m deploy.local.control.daemon --home ~/.flightdeck \
        --router-port 8787 --control-port 8786

On start it takes the home's lock (one daemon per home), kills what a killed
predecessor left running (instance processes whose command line or model dir
points into this home), starts the router, restores every endpoint and
deployment (``Platform.start``), opens the control API, and writes
``daemon.json`` and ``ports.json``. SIGTERM, SIGINT or ``POST /shutdown`` stop it:
instances stop, state stays. Everything listens on 127.0.0.1 only.

A port not given (``--router-port``, ``--control-port``) is the one the home's last
daemon bound (``ports.json``), else the fixed default: scoring URIs stay where they
were across restarts, also after ``--router-port 0``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
import resource
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

import psutil

from deploy.errors import FlightdeckError
from deploy.local import messages as local_messages
from deploy.local.control import messages as messages
from deploy.local.control.api import ControlAPI
from deploy.local.instances.logs import rotate_logs
from deploy.local.logsafety import KnownSecrets, Throttle, held_back, rotating_handler
from deploy.local.state.home import DaemonInfo, Home, HomeNotOwnedError, ListenPorts, owner_only

if TYPE_CHECKING:
    from deploy.local.metrics.archive import MetricsArchive
    from deploy.local.metrics.recorder import MetricsRecorder

__all__ = [
    "DEFAULT_CONTROL_PORT",
    "DEFAULT_ROUTER_PORT",
    "CannotStartError",
    "choose_ports",
    "kill_leftovers",
    "main",
    "raise_open_files_limit",
    "run",
]

logger = logging.getLogger("deploy.local.control.daemon")

#: Fixed defaults, so that scoring URIs stay the same across restarts.
DEFAULT_ROUTER_PORT = 8787
DEFAULT_CONTROL_PORT = 8786
HOST = "127.0.0.1"
#: The per-minute metrics of the last day, and how often they are stored.
METRICS_DB = "metrics.db"
METRICS_FLUSH_SECONDS = 30.0
#: How long leftovers get to end after SIGTERM before SIGKILL (seconds).
LEFTOVER_GRACE = 5.0
#: How often the instance and storage-initializer logs are checked for rotation (seconds).
LOG_ROTATE_SECONDS = 10.0
#: The router's connection cap (or half the open files limit when that is lower).
MAX_CONNECTIONS = 4096
#: The secrets the daemon's log redacts (the admin token, then the router's keys).
SECRETS = KnownSecrets()


class CannotStartError(Exception):
    """The daemon cannot start (a port is taken): the message says which and what to do."""


def choose_ports(
    home: Home, *, router_port: int | None, control_port: int | None
) -> tuple[ListenPorts, frozenset[str]]:
    """The ports to bind: each as given, else remembered, else the default.

    Also returns which of ``{"router", "control"}`` came from ``ports.json``.
    """
    remembered = home.read_ports()
    chosen: dict[str, int] = {}
    recalled: set[str] = set()
    for what, given, default in (
        ("router", router_port, DEFAULT_ROUTER_PORT),
        ("control", control_port, DEFAULT_CONTROL_PORT),
    ):
        if given is not None:
            chosen[what] = given
        elif remembered is not None:
            chosen[what] = getattr(remembered, what)
            recalled.add(what)
        else:
            chosen[what] = default
    return ListenPorts(router=chosen["router"], control=chosen["control"]), frozenset(recalled)


def _cannot_listen(
    home: Home, what: str, port: int, exc: OSError, remembered: frozenset[str]
) -> CannotStartError:
    if what in remembered:
        text = messages.remembered_port_taken(what, port, exc, str(home.ports_file))
    else:
        text = messages.cannot_listen(what, port, exc)
    return CannotStartError(text)


async def run(
    *,
    home: Home,
    router_port: int,
    control_port: int,
    python: str,
    remembered: frozenset[str] = frozenset(),
) -> None:
    """Serve until SIGTERM/SIGINT or ``POST /shutdown``; stop instances, keep state.

    ``remembered`` names the ports (``router``, ``control``) taken from ``ports.json``,
    for the message when one of them is taken.
    """
    from deploy.local.dataplane.router import Router
    from deploy.local.metrics.archive import MetricsArchive
    from deploy.local.metrics.autoscaler import Autoscaler
    from deploy.local.metrics.recorder import MetricsRecorder
    from deploy.local.platform import Platform

    token = home.admin_token(create=True)
    assert token is not None
    SECRETS.add(token)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_throttled_exception_handler())
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    started_at = time.time()
    recorder = MetricsRecorder()
    archive = MetricsArchive.open(home.root / METRICS_DB)
    loaded = archive.load(recorder, now=time.time())
    logger.info("metrics: %d stored minute(s) loaded", loaded)
    router = Router(host=HOST, port=router_port, recorder=recorder)
    # Half the open files at most, so that instances, databases and probes keep theirs.
    soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    router.max_connections = max(64, min(MAX_CONNECTIONS, soft_limit // 2))
    SECRETS.add_source(router.secrets)
    try:
        bound_router = await router.start()
    except OSError as exc:
        raise _cannot_listen(home, "router", router_port, exc, remembered) from None
    platform = Platform(home=home.root, router=router, python=python, recorder=recorder)
    api: ControlAPI | None = None
    flusher: asyncio.Task[None] | None = None
    rotator: asyncio.Task[None] | None = None
    autoscaler = Autoscaler(platform=platform, in_flight=router.in_flight, recorder=recorder)
    try:
        await platform.start()
        autoscaler.start()
        flusher = asyncio.create_task(_flush_every(archive, recorder, stopping))
        rotator = asyncio.create_task(_rotate_every(home, stopping))
        info: dict[str, Any] = {}

        def status() -> dict[str, Any]:
            return {
                "status": "running",
                **info,
                "uptime_seconds": round(time.time() - started_at, 1),
            }

        api = ControlAPI(
            backend=platform,
            token=token,
            host=HOST,
            port=control_port,
            on_shutdown=stopping.set,
            status=status,
            decisions=autoscaler.decisions,
        )
        try:
            await api.start()
        except OSError as exc:
            raise _cannot_listen(home, "control", control_port, exc, remembered) from None
        daemon = DaemonInfo(
            pid=os.getpid(),
            control_url=api.base_url,
            router_url=router.base_url,
            home=str(home.root),
            started_at=started_at,
        )
        info.update(daemon.to_dict())
        home.write_ports(ListenPorts(router=bound_router, control=api.port))
        home.write_daemon_info(daemon)
        logger.info("ready: control %s, router %s", api.base_url, router.base_url)
        await stopping.wait()
        logger.info("stopping")
    finally:
        home.remove_daemon_info(pid=os.getpid())
        if api is not None:
            await api.stop()
        await autoscaler.stop()
        stopping.set()
        if flusher is not None:
            await flusher
        if rotator is not None:
            await rotator
        archive.flush(recorder, now=time.time())
        archive.close()
        await platform.stop()
        await router.stop()
        logger.info("stopped")


async def _flush_every(
    archive: MetricsArchive, recorder: MetricsRecorder, stopping: asyncio.Event
) -> None:
    """Store the recorder's recent minutes every ``METRICS_FLUSH_SECONDS`` until stopping."""
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), METRICS_FLUSH_SECONDS)
        try:
            archive.flush(recorder, now=time.time())
        except Exception:
            logger.exception("storing metrics failed")


async def _rotate_every(home: Home, stopping: asyncio.Event) -> None:
    """Rotate large instance and storage-initializer logs until stopping."""
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), LOG_ROTATE_SECONDS)
        try:
            await asyncio.to_thread(rotate_logs, home.logs_dir)
        except OSError:
            logger.exception("rotating the instance logs failed")


def _throttled_exception_handler() -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    """The loop's exception handler: accept failures (too many open files) once a second.

    asyncio logs each failed ``accept()`` with a traceback; under a connection flood
    that is megabytes a second. One line a second with a count says the same.
    """
    throttle = Throttle()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if "accept" not in message:
            loop.default_exception_handler(context)
            return
        held = throttle.due()
        if held is not None:
            reason = context.get("exception") or message
            logger.error(local_messages.ACCEPT_FAILED.format(reason=reason, more=held_back(held)))

    return handle


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft limit of open files to the hard limit; return (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == resource.RLIM_INFINITY or soft >= hard:
        return soft, soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return soft, hard


def kill_leftovers(home: Home) -> list[int]:
    """Kill instance processes a dead daemon of ``home`` left running; return their pids.

    A leftover is a process (not this one) whose command line points into the
    home's deployments folder, or whose AZUREML_MODEL_DIR lies inside the home.
    Its whole process group goes (the gunicorn master and its workers).
    """
    marker = str(home.deployments_dir) + os.sep
    root = str(home.root) + os.sep
    me = os.getpid()
    victims: list[psutil.Process] = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.pid == me:
            continue
        try:
            if _points_into(proc, marker, root):
                victims.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    for proc in victims:
        _signal_group(proc, signal.SIGTERM)
    _gone, alive = psutil.wait_procs(victims, timeout=LEFTOVER_GRACE)
    for proc in alive:
        _signal_group(proc, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=LEFTOVER_GRACE)
    pids = sorted(proc.pid for proc in victims)
    if pids:
        logger.warning("killed %d leftover instance process(es): %s", len(pids), pids)
    return pids


def _points_into(proc: psutil.Process, marker: str, root: str) -> bool:
    cmdline: list[str] = proc.info.get("cmdline") or []
    if any(marker in part for part in cmdline):
        return True
    if proc.uids().real != os.getuid():
        return False
    model_dir = proc.environ().get("AZUREML_MODEL_DIR", "")
    return model_dir.startswith(root)


def _signal_group(proc: psutil.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError, psutil.Error):
        pgid = os.getpgid(proc.pid)
        if pgid != os.getpgid(0):
            os.killpg(pgid, sig)
        else:
            proc.send_signal(sig)


@contextlib.contextmanager
def _home_lock(home: Home) -> Iterator[bool]:
    """Hold the home's lock while the daemon runs; yields False when another holds it."""
    handle: IO[str] = open(home.lock_file, "a+", encoding="utf-8")  # noqa: SIM115
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        handle.close()


def _configure_logging(home: Home) -> None:
    """The daemon's log: size-rotated, owner-only, credentials redacted."""
    handler = rotating_handler(home.daemon_log, secrets=SECRETS)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m deploy.local.control.daemon``."""
    parser = argparse.ArgumentParser(prog="python -m deploy.local.control.daemon")
    parser.add_argument("--home", default=None)
    parser.add_argument("--router-port", type=int, default=None)
    parser.add_argument("--control-port", type=int, default=None)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)
    owner_only()
    home = Home.resolve(args.home)
    try:
        home.ensure()
    except HomeNotOwnedError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    _configure_logging(home)
    before, after = raise_open_files_limit()
    if after != before:
        logger.info(local_messages.NOFILE_RAISED.format(soft=before, hard=after))
    with _home_lock(home) as locked:
        if not locked:
            print(f"ERROR: {messages.ALREADY_RUNNING}", file=sys.stderr)
            return 1
        kill_leftovers(home)
        ports, remembered = choose_ports(
            home, router_port=args.router_port, control_port=args.control_port
        )
        try:
            asyncio.run(
                run(
                    home=home,
                    router_port=ports.router,
                    control_port=ports.control,
                    python=args.python,
                    remembered=remembered,
                )
            )
        except (CannotStartError, FlightdeckError) as exc:
            logger.error("the daemon could not start: %s", exc)
            print(f"ERROR: {exc}", file=sys.stderr)
            return 1
        except Exception:
            logger.exception("the daemon failed")
            print(f"ERROR: {messages.daemon_failed(str(home.daemon_log))}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
