"""Start, stop and look at the local platform daemon from outside (``flightdeck local``).

    info, was_running = start_daemon(home, router_port=8787, control_port=8786)
    info, was_running = start_daemon(home, router_port=None, control_port=None)
    stop_daemon(home)

``start_daemon`` spawns ``python -m deploy.local.control.daemon`` detached (its own session,
output appended to ``logs/daemon.out``) and returns once ``daemon.json`` names it and
its ``/health`` answers; it is idempotent (a running daemon is left alone). A port
given as ``None`` is left to the daemon: the one its home's last daemon bound
(``ports.json``), else the default, so that scoring URIs do not move.
``stop_daemon`` asks the daemon to stop (``POST /shutdown``, SIGTERM as a fallback),
waits until it has gone, and kills what a dead daemon left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import psutil

from deploy.errors import BackendUnavailableError
from deploy.local.control import messages as messages
from deploy.local.control.daemon import kill_leftovers
from deploy.local.state.home import DaemonInfo, Home, process_alive

__all__ = ["daemon_status", "running_daemon", "start_daemon", "stop_daemon"]

#: Longest wait for a starting daemon (it restores every deployment first).
START_TIMEOUT = 180.0
#: Longest wait for a stopping daemon before it is killed.
STOP_TIMEOUT = 60.0
_POLL = 0.05


def running_daemon(home: Home) -> DaemonInfo | None:
    """The daemon of ``home`` if it runs and answers ``/health``."""
    info = home.read_daemon_info()
    if info is None or not process_alive(info.pid):
        return None
    return info if _healthy(info) else None


def start_daemon(
    home: Home,
    *,
    router_port: int | None,
    control_port: int | None,
    python: str = sys.executable,
    timeout: float = START_TIMEOUT,
) -> tuple[DaemonInfo, bool]:
    """Start the daemon unless it runs; return its info and whether it was running already."""
    info = running_daemon(home)
    if info is not None:
        return info, True
    home.ensure()
    home.admin_token(create=True)
    stale = home.read_daemon_info()
    if stale is not None and not process_alive(stale.pid):
        home.daemon_file.unlink(missing_ok=True)
    out_path = home.logs_dir / "daemon.out"
    command = [python, "-m", "deploy.local.control.daemon", "--home", str(home.root)]
    for option, port in (("--router-port", router_port), ("--control-port", control_port)):
        if port is not None:
            command += [option, str(port)]
    command += ["--python", python]
    fd = os.open(out_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "ab") as out:
        offset = out.tell()
        child = subprocess.Popen(
            command,
            cwd=home.root,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            reason = _last_error(out_path, offset) or f"it exited with code {child.returncode}"
            if reason == messages.ALREADY_RUNNING:
                # Another `up` won the home's lock meanwhile: wait for that daemon instead.
                return _wait_for_other(home, deadline), True
            raise BackendUnavailableError(messages.did_not_start(reason, str(home.daemon_log)))
        info = home.read_daemon_info()
        if info is not None and info.pid == child.pid and _healthy(info):
            return info, False
        time.sleep(_POLL)
    _terminate(child.pid)
    raise BackendUnavailableError(
        messages.did_not_start(f"not ready after {timeout:.0f} s", str(home.daemon_log))
    )


def _wait_for_other(home: Home, deadline: float) -> DaemonInfo:
    while time.monotonic() < deadline:
        info = running_daemon(home)
        if info is not None:
            return info
        time.sleep(_POLL)
    raise BackendUnavailableError(
        messages.did_not_start(messages.ALREADY_RUNNING, str(home.daemon_log))
    )


def stop_daemon(home: Home, *, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the daemon of ``home`` (state kept); True when one was running."""
    info = home.read_daemon_info()
    if info is None or not process_alive(info.pid):
        home.daemon_file.unlink(missing_ok=True)
        kill_leftovers(home)
        return False
    token = home.admin_token()
    try:
        _request(info, "POST", "/shutdown", token=token)
    except (OSError, urllib.error.URLError):
        _terminate(info.pid)
    deadline = time.monotonic() + timeout
    while process_alive(info.pid) and time.monotonic() < deadline:
        time.sleep(_POLL)
    if process_alive(info.pid):
        if _is_daemon(info.pid):
            os.kill(info.pid, signal.SIGKILL)
        kill_leftovers(home)
    home.remove_daemon_info(pid=info.pid)
    return True


def daemon_status(home: Home) -> dict[str, Any]:
    """``{"status": "running", pid, URLs, ...}`` from the daemon, or ``{"status": "stopped"}``."""
    info = running_daemon(home)
    if info is None:
        return {"status": "stopped", "home": str(home.root)}
    try:
        status: dict[str, Any] = _request(info, "GET", "/status", token=home.admin_token())
    except (OSError, urllib.error.URLError):
        return {"status": "stopped", "home": str(home.root)}
    return status


# ---------------------------------------------------------------- helpers


def _request(info: DaemonInfo, method: str, path: str, *, token: str | None) -> Any:
    request = urllib.request.Request(info.control_url + path, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def _healthy(info: DaemonInfo) -> bool:
    try:
        return bool(_request(info, "GET", "/health", token=None).get("status") == "ok")
    except (OSError, urllib.error.URLError, ValueError, AttributeError):
        return False


def _is_daemon(pid: int) -> bool:
    try:
        return "deploy.local.control.daemon" in psutil.Process(pid).cmdline()
    except psutil.Error:
        return False


def _terminate(pid: int) -> None:
    if _is_daemon(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def _last_error(path: Any, offset: int) -> str | None:
    try:
        with open(path, "rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("ERROR: "):
            return line.removeprefix("ERROR: ")
    return lines[-1] if lines else None
