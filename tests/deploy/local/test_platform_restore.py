"""Restore after a restart: Platform.start on an existing home brings back every endpoint,
deployment, key, token secret and traffic split, and serves again; a killed platform
leaves no instance behind, and recorded leftovers of a dead one are ended."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from deploy.local.state.store import ProcessRecord, Store
from deploy.types import EndpointSpec, ModelRef
from tests.deploy.local.platform_kit import (
    BROKEN_INIT,
    deployment_spec,
    echo_code,
    model_folder,
    processes_under,
    running_platform,
    score,
    wait_for,
    wait_until,
)
from tests.support.azmlinfsrv import start_azmlinfsrv

pytestmark = pytest.mark.slow(budget=30)


def _shown(endpoint: Any) -> dict[str, Any]:
    """An endpoint as shown, minus the router's port (a new router may take another)."""
    fields = dict(vars(endpoint))
    for key in ("scoring_uri", "swagger_uri"):
        fields[key] = fields[key].split("/", 3)[3]
    return fields


async def _post(uri: str, bearer: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(uri, json={"data": [1]}, headers={"Authorization": f"Bearer {bearer}"}) as r,
    ):
        return r.status


async def test_a_restarted_platform_restores_everything_and_serves(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code = echo_code(tmp_path / "code", version="v1")
    model = model_folder(tmp_path / "model")
    async with running_platform(home) as first:
        await first.register_model("restored-model", "1", str(model))
        await first.create_or_update_endpoint(EndpointSpec(name="ep-keys", tags={"a": "b"}))
        await first.create_or_update_endpoint(EndpointSpec(name="ep-token", auth_mode="aml_token"))
        await first.create_or_update_deployment(
            deployment_spec("ep-keys", "blue", code, model=ModelRef(path=str(model)), count=2)
        )
        await first.create_or_update_deployment(
            deployment_spec(
                "ep-keys", "green", code, model=ModelRef(name="restored-model", version="1")
            )
        )
        await first.create_or_update_deployment(deployment_spec("ep-keys", "shadow", code))
        await first.create_or_update_deployment(deployment_spec("ep-token", "blue", code))
        await first.set_traffic("ep-keys", {"blue": 80, "green": 20})
        await first.set_traffic("ep-keys", {"blue": 70, "green": 30}, mirror_traffic={"shadow": 10})
        await first.set_traffic("ep-token", {"blue": 100})
        await first.regenerate_keys("ep-keys", key_type="secondary")
        endpoints = [_shown(e) for e in await first.list_endpoints()]
        deployments = await first.list_deployments("ep-keys")
        keys = await first.get_credentials("ep-keys")
        token = (await first.get_credentials("ep-token")).access_token
        models = await first.list_models()
        old_pids = {p.pid for p in processes_under(home)}
    assert processes_under(home) == []  # stop ends every instance

    async with running_platform(home) as second:
        assert [_shown(e) for e in await second.list_endpoints()] == endpoints
        restored = await second.list_deployments("ep-keys")
        assert [(d.name, d.instance_count, d.model) for d in restored] == [
            (d.name, d.instance_count, d.model) for d in deployments
        ]
        assert all(i.state == "ready" for d in restored for i in d.instances)
        assert [len(d.instances) for d in restored] == [2, 1, 1]
        assert await second.get_credentials("ep-keys") == keys
        assert await second.previous_traffic("ep-keys") == {"blue": 80, "green": 20, "shadow": 0}
        assert await second.list_models() == models
        # Serving again, through the new router, with the keys and token issued before.
        endpoint = await second.get_endpoint("ep-keys")
        assert keys.secondary_key is not None and token is not None
        assert await _post(endpoint.scoring_uri, keys.secondary_key) == 200
        token_uri = (await second.get_endpoint("ep-token")).scoring_uri
        assert await _post(token_uri, token) == 200
        answered = set()
        for _ in range(10):
            status, body, deployment = await score(second, "ep-keys")
            assert (status, body["version"]) == (200, "v1")
            answered.add(deployment)
        assert answered == {"blue", "green"}
        _status, body, _ = await score(second, "ep-keys", deployment="green")
        assert body["model_files"] == ["model/sub/vocab.txt", "model/weights.bin"]
        assert not {p.pid for p in processes_under(home)} & old_pids


_ROOT = Path(__file__).resolve().parents[3]
_CHILD = """
import asyncio, json, sys
from pathlib import Path
from deploy.local.platform import Platform
from deploy.local.dataplane.router import Router
from deploy.types import DeploymentSpec, EndpointSpec, ProbeSettings

async def main():
    router = Router()
    await router.start()
    platform = Platform(home=Path(sys.argv[1]), router=router)
    await platform.start()
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-killed"))
    fast = ProbeSettings(initial_delay=0, period=0.5, timeout=1, failure_threshold=10)
    await platform.create_or_update_deployment(DeploymentSpec(
        name="blue", endpoint_name="ep-killed", code_path=sys.argv[2],
        scoring_script="score.py", instance_count=2,
        liveness_probe=fast, readiness_probe=fast))
    await platform.set_traffic("ep-killed", {"blue": 100})
    print(json.dumps(platform.instance_pids("ep-killed", "blue")), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _gone(pid: int) -> bool:
    """Not running: no such process, or a zombie its (dead) parent never reaped."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _start(*command: str, stdout: int | None = None) -> subprocess.Popen[bytes]:
    """A child process in its own session, run from the repository's root."""
    return subprocess.Popen(command, stdout=stdout, cwd=_ROOT, start_new_session=True)


async def test_a_killed_platform_leaves_no_instance_and_is_restored(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code = echo_code(tmp_path / "code", version="v1")
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(_CHILD))
    child = _start(sys.executable, str(script), str(home), str(code), stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 60)
        pids = json.loads(line)
        assert sorted(pids) == ["blue-1", "blue-2"]
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        # The instances, workers included, die with the platform's process (no orphans).
        await wait_for(
            lambda: not processes_under(home), what="the instances of the killed platform to end"
        )
        assert all(_gone(pid) for pid in pids.values())
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
    async with running_platform(home) as restored:
        deployment = await restored.get_deployment("ep-killed", "blue")
        assert [(i.name, i.state) for i in deployment.instances] == [
            ("blue-1", "ready"),
            ("blue-2", "ready"),
        ]
        status, body, answered = await score(restored, "ep-killed")
        assert (status, body["version"], answered) == (200, "v1", "blue")
        assert not set(restored.instance_pids("ep-killed", "blue").values()) & set(pids.values())


async def test_recorded_leftovers_of_a_dead_platform_are_ended(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code = echo_code(tmp_path / "code")
    # An instance a dead platform left running (started here in its own session) ...
    leftover = start_azmlinfsrv(
        entry_script=code / "score.py", model_dir=tmp_path, log_path=tmp_path / "left.log"
    )
    # ... and an unrelated process that happens to have a recorded pid (reused).
    bystander = _start(sys.executable, "-c", "import time; time.sleep(120)")
    try:
        store = Store.open(home / "state.db")
        created = psutil.Process(leftover.process.pid).create_time()
        for pid, create_time in ((leftover.process.pid, created), (bystander.pid, 1.0)):
            store.put_process(
                ProcessRecord(
                    pid=pid, create_time=create_time, endpoint="e", deployment="d", instance="i"
                )
            )
        store.close()
        started = time.monotonic()
        async with running_platform(home):
            assert leftover.process.poll() is not None  # ended (and reaped by its parent)
            assert bystander.poll() is None  # a different process: left alone
            assert time.monotonic() - started < 30
        store = Store.open(home / "state.db")
        try:
            assert store.processes() == []
        finally:
            store.close()
    finally:
        leftover.stop()
        bystander.kill()
        bystander.wait(timeout=10)


async def test_a_restored_deployment_that_crashes_does_not_hold_up_the_others(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    code = echo_code(tmp_path / "code", version="v1")
    async with running_platform(home) as first:
        await first.create_or_update_endpoint(EndpointSpec(name="ep-mixed"))
        for name in ("blue", "green"):
            await first.create_or_update_deployment(deployment_spec("ep-mixed", name, code))
        await first.set_traffic("ep-mixed", {"blue": 100})
    # The uploaded copy of green breaks behind the platform's back.
    (home / "deployments" / "ep-mixed" / "green" / "1" / "code" / "score.py").write_text(
        BROKEN_INIT
    )
    started = time.monotonic()
    async with running_platform(home) as second:
        # start() came back without waiting out green's 120 s startup timeout.
        assert time.monotonic() - started < 60
        status, body, answered = await score(second, "ep-mixed")
        assert (status, body["version"], answered) == (200, "v1", "blue")

        async def green_restarts() -> bool:
            green = await second.get_deployment("ep-mixed", "green")
            return green.instances[0].restarts >= 1

        await wait_until(green_restarts, "green to be restarted")
        green = await second.get_deployment("ep-mixed", "green")
        assert green.instances[0].state != "ready"
        logs = await second.get_logs("ep-mixed", "green", lines=200)
        assert "flightdeck-init-marker" in logs
