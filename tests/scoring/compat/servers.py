"""Start either server on a free loopback port: azmlinfsrv, or fastserve from a scoring folder.

fastserve runs as ``python <folder>/fastserve --entry_script ... --port ... --host 127.0.0.1``:
the way it runs from a deployment's code folder, with nothing of the repository on its path.
Both come back as :class:`AzmlinfsrvProcess` (process, port, log), so tests treat them alike.

Usage::

    pair = start_pair(entry_script=script, model_dir=models, tmp=tmp, fastserve_dir=folder)
    pair.azmlinfsrv.url("/score"), pair.fastserve.url("/score")
    pair.stop()
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.azmlinfsrv import (
    HOST,
    AzmlinfsrvFailed,
    AzmlinfsrvProcess,
    free_port,
    launch_azmlinfsrv,
    lost_its_port,
    wait_until_healthy,
)

REPO = Path(__file__).resolve().parents[3]
FASTSERVE_DIR = REPO / "scoring" / "fastserve"
_READY_S = 60.0
#: Launches in all when another process takes a server's port before it binds it.
_ATTEMPTS = 3


def server_environ(
    model_dir: Path, worker_count: int, env: Mapping[str, str] | None
) -> dict[str, str]:
    """This process's environment without Azure ML's variables, plus the server's."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AZUREML_", "AML_", "FASTSERVE_")) and key != "WORKER_COUNT"
    }
    environ.update({"AZUREML_MODEL_DIR": str(model_dir), "WORKER_COUNT": str(worker_count)})
    environ.update(env or {})
    return environ


def launch_fastserve(
    *,
    entry_script: Path,
    model_dir: Path,
    log_path: Path,
    port: int,
    env: Mapping[str, str] | None = None,
    worker_count: int = 1,
    cwd: Path | None = None,
    fastserve_dir: Path = FASTSERVE_DIR,
    command: list[str] | None = None,
) -> AzmlinfsrvProcess:
    """Start fastserve and return at once (no health check)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = command or [sys.executable, str(fastserve_dir)]
    argv += ["--entry_script", str(entry_script), "--port", str(port), "--host", HOST]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=cwd or log_path.parent,
            env=server_environ(model_dir, worker_count, env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return AzmlinfsrvProcess(process=process, port=port, log_path=log_path)


def start_fastserve(**kwargs: object) -> AzmlinfsrvProcess:
    """:func:`launch_fastserve` on a free port, returned once ``GET /`` answers 200
    (on a new port if another process took that one first)."""
    for attempt in range(1, _ATTEMPTS + 1):
        server = launch_fastserve(port=free_port(), **kwargs)  # type: ignore[arg-type]
        try:
            wait_until_healthy(server, timeout=_READY_S)
        except AzmlinfsrvFailed:
            server.stop()
            if attempt < _ATTEMPTS and lost_its_port(server):
                continue
            raise
        return server
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class ServerPair:
    """The same script under both servers."""

    azmlinfsrv: AzmlinfsrvProcess
    fastserve: AzmlinfsrvProcess

    def stop(self) -> None:
        """Stop both."""
        self.azmlinfsrv.stop()
        self.fastserve.stop()


def start_pair(
    *,
    entry_script: Path,
    model_dir: Path,
    tmp: Path,
    env: Mapping[str, str] | None = None,
    worker_count: int = 1,
    fastserve_dir: Path = FASTSERVE_DIR,
) -> ServerPair:
    """Start both servers at once (same script, model, settings and working folder); both
    start again on new ports if another process took one of theirs first."""
    cwd = entry_script.parent
    for attempt in range(1, _ATTEMPTS + 1):
        azml = launch_azmlinfsrv(
            entry_script=entry_script, model_dir=model_dir, log_path=tmp / "azmlinfsrv.log",
            port=free_port(), env=env, worker_count=worker_count, cwd=cwd,
        )  # fmt: skip
        fast = launch_fastserve(
            entry_script=entry_script, model_dir=model_dir, log_path=tmp / "fastserve.log",
            port=free_port(), env=env, worker_count=worker_count, cwd=cwd,
            fastserve_dir=fastserve_dir,
        )  # fmt: skip
        pair = ServerPair(azmlinfsrv=azml, fastserve=fast)
        try:
            wait_until_healthy(azml, timeout=_READY_S)
            wait_until_healthy(fast, timeout=_READY_S)
        except AzmlinfsrvFailed:
            pair.stop()
            if attempt < _ATTEMPTS and (lost_its_port(azml) or lost_its_port(fast)):
                continue
            raise
        return pair
    raise AssertionError("unreachable")  # pragma: no cover
