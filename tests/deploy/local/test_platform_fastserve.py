"""FLIGHTDECK_SERVER=fast: deployments served by fastserve on the local platform, next to
azmlinfsrv ones. Real Router, real instances (the sample product recommender, scored by the
repository's scoring/ folder and its own fastserve/)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest
import pytest_asyncio

from deploy.errors import DeploymentFailedError, NotFoundError, ValidationError
from deploy.local.instances.launcher import (
    PARENT_ENV,
    fastserve_folder,
    free_port,
    launch_command,
    probe,
)
from deploy.local.platform import Platform
from deploy.specs import load_deployment_spec
from deploy.types import Deployment, DeploymentSpec, EndpointSpec
from tests.deploy.local.platform_kit import (
    BROKEN_INIT,
    LIVENESS,
    READINESS,
    deployment_spec,
    echo_code,
    processes_under,
    running_platform,
    score,
    wait_for,
    wait_until,
    write_code,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow(budget=30)]

REPO = Path(__file__).resolve().parents[3]
EP = "recs"
ROWS = {"data": [[1.0, 2.0, 3.0, 4.0, 5.0], [0.5, 0.1, 0.0, 2.0, 9.0], [3.0, 3.0, 3.0, 3.0, 3.0]]}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fastserve-home")


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fastserve-sources")


@pytest.fixture(scope="module")
def sample(sources: Path) -> Path:
    """examples/product-recommender and scoring/ copied side by side, as in the repository
    (the YAML names ``../../scoring`` and ``./model-v1``): the blue deployment's YAML."""
    example = sources / "examples" / "product-recommender"
    shutil.copytree(REPO / "examples" / "product-recommender", example)
    shutil.copytree(
        REPO / "scoring", sources / "scoring", ignore=shutil.ignore_patterns("__pycache__")
    )
    return example / "blue-deployment.yml"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(home: Path) -> AsyncIterator[Platform]:
    async with running_platform(home) as started:
        await started.create_or_update_endpoint(EndpointSpec(name=EP))
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def blue_and_green(platform: Platform, sample: Path) -> Deployment:
    """The sample deployed twice: blue on azmlinfsrv, green on fastserve; green returned.

    A fixture, so that each test using them runs alone too (``-k``)."""
    await platform.create_or_update_deployment(sample_spec(sample, name="blue"))
    fast = sample_spec(sample, name="green", env={"FLIGHTDECK_SERVER": "fast"})
    return await platform.create_or_update_deployment(fast)


def sample_spec(yml: Path, *, name: str, env: Mapping[str, str] | None = None) -> DeploymentSpec:
    """The sample's deployment with short probes, under ``name``, with extra variables."""
    spec = load_deployment_spec(yml)
    return replace(
        spec,
        name=name,
        endpoint_name=EP,
        liveness_probe=LIVENESS,
        readiness_probe=READINESS,
        environment_variables={**spec.environment_variables, **(env or {})},
    )


async def snapshot(platform: Platform, home: Path) -> dict[str, Any]:
    """What a refused operation must leave as it was."""
    return {
        "deployments": await platform.list_deployments(EP),
        "endpoint": await platform.get_endpoint(EP),
        "files": sorted(str(p.relative_to(home)) for p in (home / "deployments").rglob("*")),
        "processes": sorted(p.pid for p in processes_under(home)),
    }


async def test_launch_command_picks_the_code_folders_fastserve(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", "def init(): pass\ndef run(raw): return raw\n")
    installed = fastserve_folder(None)
    assert (installed / "__main__.py").is_file() and installed.name == "fastserve"
    assert fastserve_folder(code) == installed  # no fastserve/ of its own
    (code / "fastserve").mkdir()
    (code / "fastserve" / "__main__.py").write_text("", encoding="utf-8")
    assert fastserve_folder(code) == code / "fastserve"
    command = launch_command("py", code / "score.py", port=5, server="fast", app_root=code)
    assert command[3:] == [
        str(code / "fastserve"),
        "--entry_script",
        str(code / "score.py"),
        "--port",
        "5",
        "--host",
        "127.0.0.1",
    ]
    assert "amlserver" in launch_command("py", code / "score.py", port=5)[2]


async def test_sample_on_fast_answers_as_on_azmlinfsrv(
    platform: Platform, blue_and_green: Deployment
) -> None:
    assert blue_and_green.instances[0].state == "ready"
    answers = {}
    for name in ("blue", "green"):
        status, body, answered = await score(platform, EP, ROWS, deployment=name)
        assert (status, answered) == (200, name), body
        answers[name] = body
    assert answers["green"]["predictions"] == answers["blue"]["predictions"]
    assert answers["green"]["batch_size"] == answers["blue"]["batch_size"] == 3
    # A bad body: the script's 400 (424 through the router, as on Azure), the same from both.
    bad = [await score(platform, EP, {"data": "not rows"}, deployment=n) for n in ("blue", "green")]
    assert [status for status, _, _ in bad] == [424, 424]
    assert bad[0][1] == bad[1][1] and "must be a list of rows" in bad[0][1]["message"]


async def test_the_router_reaches_fastserve_on_its_unix_socket(
    platform: Platform, blue_and_green: Deployment
) -> None:
    """green (fastserve) listens on a private Unix socket too, and the router uses it."""
    process = psutil.Process(platform.instance_pids(EP, "green")["green-1"])
    path = process.environ()["FASTSERVE_UNIX_SOCKET"]
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.lstat(os.path.dirname(path)).st_mode) == 0o700
    blue = psutil.Process(platform.instance_pids(EP, "blue")["blue-1"])
    assert "FASTSERVE_UNIX_SOCKET" not in blue.environ()  # azmlinfsrv: TCP
    for _ in range(3):
        status, body, answered = await score(platform, EP, ROWS, deployment="green")
        assert (status, answered) == (200, "green"), body
    # A Unix connection's laddr is its path (a str, though the stubs say an address).
    on_socket = [c for c in process.net_connections(kind="unix") if str(c.laddr) == path]
    assert len(on_socket) >= 2  # the listener, and the router's connection it accepted


async def test_logs_and_process_show_fastserve(
    platform: Platform, home: Path, blue_and_green: Deployment
) -> None:
    green = await platform.get_logs(EP, "green", lines=200)
    blue = await platform.get_logs(EP, "blue", lines=200)
    assert " fastserve - Listening on http://127.0.0.1:" in green
    assert " fastserve - " not in blue and "Worker Count: 2" in blue  # azmlinfsrv banner
    pid = platform.instance_pids(EP, "green")["green-1"]
    [process] = [p for p in processes_under(home) if p.pid == pid]
    code = home / "deployments" / EP / "green" / "1" / "code"
    assert str(code / "fastserve") in process.cmdline()  # the uploaded folder's own copy


async def test_installed_fastserve_serves_code_without_one(
    platform: Platform, home: Path, sources: Path
) -> None:
    code = echo_code(sources / "echo")
    spec = deployment_spec(EP, "plain", code, env={"FLIGHTDECK_SERVER": "fast"})
    await platform.create_or_update_deployment(spec)
    status, body, answered = await score(platform, EP, {"x": 1}, deployment="plain")
    assert (status, answered, body["input"]) == (200, "plain", {"x": 1})
    pid = platform.instance_pids(EP, "plain")["plain-1"]
    [process] = [p for p in processes_under(home) if p.pid == pid]
    assert str(fastserve_folder(None)) in process.cmdline()
    # Stopping ends the whole process group.
    await platform.delete_deployment(EP, "plain")
    assert pid not in [p.pid for p in processes_under(home)]


@pytest.mark.parametrize("value", ["turbo", "FAST", ""])
async def test_unknown_server_is_refused_and_changes_nothing(
    platform: Platform, home: Path, sample: Path, value: str
) -> None:
    before = await snapshot(platform, home)
    for name in ("green", "purple"):  # an update and a create
        spec = sample_spec(sample, name=name, env={"FLIGHTDECK_SERVER": value})
        with pytest.raises(ValidationError) as refused:
            await platform.create_or_update_deployment(spec)
        assert f"FLIGHTDECK_SERVER must be azmlinfsrv or fast, not '{value}'" in str(refused.value)
        assert f"Deployment '{name}'" in str(refused.value)
    assert await snapshot(platform, home) == before
    status, _, answered = await score(platform, EP, ROWS, deployment="green")
    assert (status, answered) == (200, "green")


async def test_init_failure_on_fast_is_reported_with_its_log(
    platform: Platform, home: Path, sources: Path
) -> None:
    before = await snapshot(platform, home)
    broken = write_code(sources / "broken", BROKEN_INIT)
    spec = deployment_spec(EP, "red", broken, env={"FLIGHTDECK_SERVER": "fast"})
    with pytest.raises(DeploymentFailedError) as failed:
        await platform.create_or_update_deployment(spec)
    error = failed.value
    assert "Deployment 'red' failed: instance red-" in error.message
    assert "exited with code 3" in error.message
    assert any("flightdeck-init-marker" in line for line in error.log_lines)
    assert any("init() failed" in line for line in error.log_lines)
    assert (await platform.get_deployment(EP, "red")).provisioning_state == "Failed"
    await platform.delete_deployment(EP, "red")
    assert await snapshot(platform, home) == before
    with pytest.raises(NotFoundError):
        await platform.get_deployment(EP, "red")


#: A stand-in for the platform's process: starts the command (argv after it) as the platform
#: does, with itself as the parent to outlive, prints the pid, and waits to be killed.
_HOLDER = (
    "import os, subprocess, sys\n"
    f"env = {{**os.environ, '{PARENT_ENV}': str(os.getpid())}}\n"
    "child = subprocess.Popen(\n"
    "    sys.argv[1:], env=env, start_new_session=True, stdout=subprocess.DEVNULL\n"
    ")\n"
    "print(child.pid, flush=True)\n"
    "sys.stdin.read()\n"
)


async def test_fastserve_processes_die_with_the_platform(sources: Path) -> None:
    """FASTSERVE_PROCESSES=2: the supervisor and both servers end when their parent is killed."""
    code = echo_code(sources / "orphans")
    port = free_port()
    command = launch_command(
        sys.executable, code / "score.py", port=port, server="fast", app_root=code
    )
    env = {**os.environ, "FASTSERVE_PROCESSES": "2", "PYTHONUNBUFFERED": "1"}
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _HOLDER,
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=env,
        cwd=code,
    )
    servers: list[psutil.Process] = []
    try:
        assert holder.stdout is not None
        supervisor = psutil.Process(int(await holder.stdout.readline()))
        servers.append(supervisor)
        await wait_until(lambda: probe(port, 1.0), "fastserve answering GET /", seconds=60)
        await wait_for(lambda: len(supervisor.children()) == 2, what="two server processes")
        servers.extend(supervisor.children())
        holder.kill()
        await holder.wait()
        await wait_for(
            lambda: not any(_alive(p) for p in servers),
            what="the servers to end with their parent",
        )
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
        for process in servers:
            with contextlib.suppress(psutil.Error):
                process.kill()


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
