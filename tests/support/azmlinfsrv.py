"""Start azmlinfsrv (Azure ML's inference server) on a free loopback port and wait until healthy.

A real process, as Azure runs it: ``azmlinfsrv --entry_script <script> --port <port>`` with
``AZUREML_MODEL_DIR`` set. It is started in its own process group, so :meth:`stop` ends the
gunicorn master and its workers together, and only them.

Usage::

    with running_azmlinfsrv(entry_script=script, model_dir=models, log_path=tmp / "srv.log") as srv:
        urllib.request.urlopen(srv.url("/"))          # "Healthy"

or, in a module-scoped fixture, ``server = start_azmlinfsrv(...)`` then ``server.stop()``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
_POLL_SECONDS = 0.05
_PORT_TAKEN = ("Address already in use", "Connection in use")
_LOG_TAIL_CHARS = 4000


class AzmlinfsrvFailed(RuntimeError):
    """The server exited or did not become healthy in time; the message ends with its log."""


@dataclass(kw_only=True)
class AzmlinfsrvProcess:
    """A running azmlinfsrv: its process, port and log file."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{HOST}:{self.port}"

    def url(self, path: str) -> str:
        """Full URL of ``path`` (e.g. ``/score``)."""
        return self.base_url + path

    def log_text(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, *, timeout: float = 15.0) -> int:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``); return its exit code."""
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        return self.process.returncode


#: Ports ``free_port`` handed out: two servers launched before either binds its port
#: must not be given the same one.
_GIVEN: set[int] = set()


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (bound to port 0, then released).

    Never one it gave before in this process; another process can still take it before
    the server binds it, which is why :func:`start_azmlinfsrv` tries again on a new one.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def lost_its_port(server: AzmlinfsrvProcess) -> bool:
    """Whether ``server`` failed because another process bound its port first."""
    return any(text in server.log_text() for text in _PORT_TAKEN)


def azmlinfsrv_command(python: str | None = None) -> list[str]:
    """The azmlinfsrv of this interpreter's environment, or run by ``python`` if given."""
    if python is not None:
        return [python, "-m", "azureml_inference_server_http"]
    script = Path(sys.executable).with_name("azmlinfsrv")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "azureml_inference_server_http"]


def launch_azmlinfsrv(
    *,
    entry_script: Path,
    model_dir: Path,
    log_path: Path,
    port: int,
    env: Mapping[str, str] | None = None,
    worker_count: int = 1,
    cwd: Path | None = None,
    python: str | None = None,
) -> AzmlinfsrvProcess:
    """Start the process and return at once (no health check); see :func:`start_azmlinfsrv`."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AZUREML_", "AML_")) and key != "WORKER_COUNT"
    }
    environ.update({"AZUREML_MODEL_DIR": str(model_dir), "WORKER_COUNT": str(worker_count)})
    environ.update(env or {})
    log_path.parent.mkdir(parents=True, exist_ok=True)
    arguments = ["--entry_script", str(entry_script), "--port", str(port)]
    command = [*azmlinfsrv_command(python), *arguments]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd or log_path.parent,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return AzmlinfsrvProcess(process=process, port=port, log_path=log_path)


def start_azmlinfsrv(
    *,
    entry_script: Path,
    model_dir: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    worker_count: int = 1,
    cwd: Path | None = None,
    ready_timeout: float = 60.0,
    attempts: int = 3,
    python: str | None = None,
) -> AzmlinfsrvProcess:
    """Start azmlinfsrv on a free port and return once ``GET /`` answers 200.

    Raises :class:`AzmlinfsrvFailed` (with the log's tail) if it exits or is not healthy
    within ``ready_timeout`` seconds. If another process took the port in the meantime,
    it tries again on a new one, ``attempts`` times in all. ``python`` runs the server
    with another interpreter (a deployment environment's) than this one.
    """
    for attempt in range(1, attempts + 1):
        server = launch_azmlinfsrv(
            entry_script=entry_script,
            model_dir=model_dir,
            log_path=log_path,
            port=free_port(),
            env=env,
            worker_count=worker_count,
            cwd=cwd,
            python=python,
        )
        try:
            wait_until_healthy(server, timeout=ready_timeout)
        except AzmlinfsrvFailed:
            server.stop()
            if attempt < attempts and lost_its_port(server):
                continue
            raise
        return server
    raise AssertionError("unreachable")  # pragma: no cover


def wait_until_healthy(server: AzmlinfsrvProcess, *, timeout: float) -> None:
    """Poll ``GET /`` until it answers 200; :class:`AzmlinfsrvFailed` on exit or deadline."""
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise AzmlinfsrvFailed(_failure(server, f"exited with {server.process.returncode}"))
        if _healthy(server.url("/")):
            return
        if time.monotonic() > deadline:
            raise AzmlinfsrvFailed(_failure(server, f"not healthy after {timeout:.0f} s"))
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(timeout=_POLL_SECONDS)


def wait_until_exited(server: AzmlinfsrvProcess, *, timeout: float) -> int:
    """Wait for a server that is expected to fail at start; return its exit code."""
    try:
        return server.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.stop()
        raise AzmlinfsrvFailed(_failure(server, f"still running after {timeout:.0f} s")) from None


@contextlib.contextmanager
def running_azmlinfsrv(
    *,
    entry_script: Path,
    model_dir: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    worker_count: int = 1,
    cwd: Path | None = None,
    ready_timeout: float = 60.0,
) -> Iterator[AzmlinfsrvProcess]:
    """:func:`start_azmlinfsrv` as a context manager that always stops the server."""
    server = start_azmlinfsrv(
        entry_script=entry_script,
        model_dir=model_dir,
        log_path=log_path,
        env=env,
        worker_count=worker_count,
        cwd=cwd,
        ready_timeout=ready_timeout,
    )
    try:
        yield server
    finally:
        server.stop()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # Called only while the leader is not yet reaped, so its group id is still ours.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _failure(server: AzmlinfsrvProcess, what: str) -> str:
    tail = server.log_text()[-_LOG_TAIL_CHARS:]
    return f"azmlinfsrv on port {server.port} {what}; log {server.log_path} ends with:\n{tail}"
