"""Test kit for the platform core: scoring scripts written by code, specs with fast probes,
a real Router + Platform on loopback, and a check that no instance process outlives a test.

    async with running_platform(home) as platform:
        await platform.create_or_update_endpoint(EndpointSpec(name="ep-one"))
        await platform.create_or_update_deployment(deployment_spec("ep-one", "blue", code))
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import psutil

from deploy.local.dataplane.router import Router
from deploy.local.platform import Platform
from deploy.types import DeploymentSpec, ModelRef, ProbeSettings, RequestSettings

#: Short probes, as the brief asks of tests: ready within a second of the server.
READINESS = ProbeSettings(
    initial_delay=0, period=0.5, timeout=1.0, success_threshold=1, failure_threshold=2
)
#: Liveness: a hung instance is restarted after 5 s of failed probes (not sooner: a busy
#: worker on two loaded cores may miss a probe or two).
LIVENESS = ProbeSettings(
    initial_delay=0.5, period=0.5, timeout=1.0, success_threshold=1, failure_threshold=10
)

ECHO = """
import json
import os
import sys

VERSION = "{version}"
_files = []


def init():
    model_dir = os.environ.get("AZUREML_MODEL_DIR")
    if model_dir:
        for root, _dirs, names in os.walk(model_dir):
            for name in names:
                _files.append(os.path.relpath(os.path.join(root, name), model_dir))
    print("echo init", VERSION, "model files:", sorted(_files))


def run(raw_data):
    return {{
        "input": json.loads(raw_data) if raw_data else None,
        "version": VERSION,
        "model_dir": os.environ.get("AZUREML_MODEL_DIR"),
        "model_files": sorted(_files),
        "tag": os.environ.get("TAG"),
        "worker_count": os.environ.get("WORKER_COUNT"),
        "home": os.environ.get("HOME"),
        "secret": os.environ.get("FLIGHTDECK_TEST_SECRET"),
        "pid": os.getpid(),
        "prefix": sys.prefix,
    }}
"""

BROKEN_INIT = """
import os


def init():
    print("loading weights from", os.environ.get("AZUREML_MODEL_DIR"))
    raise RuntimeError("weights file is corrupt: flightdeck-init-marker")


def run(raw_data):
    return {}
"""

STATUS = """
from azureml_inference_server_http.api.aml_response import AMLResponse


def init():
    pass


def run(raw_data):
    return AMLResponse({"message": "no rows in the request"}, 400, json_str=True)
"""


def write_code(folder: Path, source: str, *, script: str = "score.py") -> Path:
    """A code folder holding one scoring script."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / script).write_text(source, encoding="utf-8")
    return folder


def echo_code(folder: Path, version: str = "v1") -> Path:
    """A code folder whose script answers with what it sees (version, model files, env)."""
    return write_code(folder, ECHO.format(version=version))


def model_folder(folder: Path, files: Mapping[str, str] | None = None) -> Path:
    """A model folder with some files (name -> content)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in (files or {"weights.bin": "w1", "sub/vocab.txt": "v"}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return folder


def deployment_spec(
    endpoint: str,
    name: str,
    code: Path,
    *,
    model: ModelRef | None = None,
    count: int = 1,
    env: Mapping[str, str] | None = None,
    liveness: ProbeSettings = LIVENESS,
    readiness: ProbeSettings = READINESS,
    max_concurrent: int = 1,
    script: str = "score.py",
) -> DeploymentSpec:
    """A deployment spec with fast probes."""
    return DeploymentSpec(
        name=name,
        endpoint_name=endpoint,
        model=model,
        code_path=str(code),
        scoring_script=script,
        instance_count=count,
        request_settings=RequestSettings(max_concurrent_requests_per_instance=max_concurrent),
        liveness_probe=liveness,
        readiness_probe=readiness,
        environment_variables=dict(env or {}),
    )


class Progress:
    """A progress callback that keeps the lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def __call__(self, line: str) -> None:
        self.lines.append(line)

    def text(self) -> str:
        return "\n".join(self.lines)


@contextlib.asynccontextmanager
async def running_platform(home: Path, **options: Any) -> AsyncIterator[Platform]:
    """A started Router and Platform on ``home``; stops both and checks for leftovers."""
    router = Router()
    await router.start()
    platform = Platform(home=home, router=router, **options)
    try:
        await platform.start()
        yield platform
    finally:
        try:
            await platform.stop()
            await router.stop()
        finally:
            left = end_processes_under(home)
            assert not left, f"instance processes outlived the platform: {left}"


def processes_under(home: Path) -> list[psutil.Process]:
    """Processes (other than this one) whose command line names a path inside ``home``."""
    marker = str(home) + os.sep
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        if process.pid == os.getpid():
            continue
        cmdline = process.info.get("cmdline") or []
        if any(marker in part for part in cmdline):
            found.append(process)
    return found


def end_processes_under(home: Path) -> list[int]:
    """Kill any process still running from ``home`` (a safety net); return their pids."""
    left = processes_under(home)
    for process in left:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGKILL)
    psutil.wait_procs(left, timeout=5)
    return [p.pid for p in left]


async def wait_for(
    condition: Callable[[], Any], *, seconds: float = 20.0, what: str = "condition"
) -> None:
    """Poll ``condition()`` until it is true; fail after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.05)


async def wait_until(
    condition: Callable[[], Awaitable[bool]], what: str, *, seconds: float = 20.0
) -> None:
    """Poll the async ``condition()`` until it is true; fail after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.02)


async def score(
    platform: Platform, endpoint: str, payload: Any = None, *, deployment: str | None = None
) -> tuple[int, Any, str | None]:
    """Invoke through the router: status, JSON body (or text), answering deployment."""
    body = json.dumps(payload if payload is not None else {"data": [1, 2, 3]}).encode()
    result = await platform.invoke(endpoint, body, deployment=deployment)
    try:
        parsed: Any = json.loads(result.body)
    except ValueError:
        parsed = result.body.decode(errors="replace")
    return result.status, parsed, result.deployment
