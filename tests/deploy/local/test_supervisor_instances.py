"""Supervisor and Instance with real azmlinfsrv processes: readiness, failures, stop, restarts."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from deploy.errors import DeploymentFailedError
from deploy.local.instances.instance import Instance, InstanceConfig
from deploy.local.instances.launcher import probe
from deploy.local.instances.logs import DeploymentLogs
from deploy.local.instances.supervisor import InstanceNames, Supervisor
from deploy.local.staging import instance_config
from deploy.types import ProbeSettings
from tests.deploy.local.platform_kit import (
    BROKEN_INIT,
    READINESS,
    Progress,
    deployment_spec,
    echo_code,
    wait_for,
    write_code,
)

pytestmark = pytest.mark.slow(budget=60)


def _config(code: Path, tmp_path: Path, **probes: ProbeSettings) -> InstanceConfig:
    spec = deployment_spec("ep-sup", "blue", code, **probes)  # type: ignore[arg-type]
    config = instance_config(spec, folder=tmp_path / "gen", model_dir=None, python=sys.executable)
    # Run the code folder in place (no staging here).
    return InstanceConfig(
        python=config.python,
        entry_script=code / "score.py",
        app_root=code,
        environment=config.environment,
        liveness=config.liveness,
        readiness=config.readiness,
        startup_timeout=config.startup_timeout,
    )


class _Hooks:
    def __init__(self) -> None:
        self.running: dict[int, str] = {}
        self.ended: list[int] = []
        #: time.monotonic() when each pid was started and when it was gone (reaped).
        self.spawned_at: dict[int, float] = {}
        self.ended_at: dict[int, float] = {}

    def spawned(self, instance: Instance, pid: int, _created: float) -> None:
        self.running[pid] = instance.name
        self.spawned_at[pid] = time.monotonic()

    def gone(self, pid: int) -> None:
        self.running.pop(pid, None)
        self.ended.append(pid)
        self.ended_at[pid] = time.monotonic()


def _supervisor(config: InstanceConfig, tmp_path: Path, hooks: _Hooks) -> Supervisor:
    changes: list[int] = []
    supervisor = Supervisor(
        deployment="blue",
        config=config,
        logs=DeploymentLogs(folder=tmp_path / "logs"),
        names=InstanceNames("blue"),
        on_change=lambda: changes.append(1),
        spawn_hooks=(hooks.spawned, hooks.gone),
    )
    return supervisor


def test_names_are_unique_among_live_instances() -> None:
    names = InstanceNames("blue")
    assert [names.take(), names.take(), names.take()] == ["blue-1", "blue-2", "blue-3"]
    names.release("blue-2")
    assert names.take() == "blue-2"
    assert names.take() == "blue-4"


async def test_start_waits_for_readiness_then_stop_ends_every_process(tmp_path: Path) -> None:
    code = echo_code(tmp_path / "code")
    # Readiness probes start after 2 s: until then no instance may be in rotation, even
    # once its server answers.
    late = ProbeSettings(initial_delay=2, period=0.5, timeout=1, failure_threshold=2)
    hooks = _Hooks()
    supervisor = _supervisor(_config(code, tmp_path, readiness=late), tmp_path, hooks)
    progress = Progress()
    started = time.monotonic()
    task = asyncio.create_task(supervisor.start(2, progress=progress))
    try:
        while time.monotonic() - started < late.initial_delay - 0.2:
            assert supervisor.upstreams() == ()
            assert not task.done()
            await asyncio.sleep(0.05)
        await task
        assert time.monotonic() - started >= late.initial_delay
        upstreams = supervisor.upstreams()
        assert sorted(u.instance for u in upstreams) == ["blue-1", "blue-2"]
        for upstream in upstreams:
            assert await probe(int(upstream.url.rsplit(":", 1)[1]), 2.0)
        for listener in _listeners(hooks.running):
            assert listener == "127.0.0.1"
        assert "Starting instance blue-2 ..." in progress.lines
        assert sum(line.endswith("ready (2/2)") for line in progress.lines) == 1
    finally:
        pids = list(hooks.running)
        await supervisor.stop()
    assert len(pids) == 2
    assert supervisor.instances == ()
    assert hooks.running == {}
    assert sorted(hooks.ended) == sorted(pids)
    for pid in pids:
        assert not psutil.pid_exists(pid)


async def test_init_failure_fails_start_with_the_instance_log(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", BROKEN_INIT)
    hooks = _Hooks()
    supervisor = _supervisor(_config(code, tmp_path), tmp_path, hooks)
    with pytest.raises(DeploymentFailedError) as failed:
        await supervisor.start(1)
    error = failed.value
    assert "blue-1" in error.message
    assert "exited with code 3" in error.message
    assert any("flightdeck-init-marker" in line for line in error.log_lines)
    assert any("loading weights from" in line for line in error.log_lines)
    # Nothing half-started survives; the name is free again.
    assert supervisor.instances == ()
    assert hooks.running == {}
    assert len(hooks.ended) == 1
    assert InstanceNames("blue").take() == "blue-1"


async def test_scale_up_and_down(tmp_path: Path) -> None:
    code = echo_code(tmp_path / "code")
    hooks = _Hooks()
    supervisor = _supervisor(_config(code, tmp_path), tmp_path, hooks)
    try:
        await supervisor.start(1)
        first = supervisor.instances[0].pid
        await supervisor.scale(3)
        assert [i.name for i in supervisor.instances] == ["blue-1", "blue-2", "blue-3"]
        assert len(supervisor.upstreams()) == 3
        await supervisor.scale(1)
        assert [i.name for i in supervisor.instances] == ["blue-1"]
        assert supervisor.instances[0].pid == first  # the survivor was not restarted
        assert len(hooks.running) == 1
    finally:
        await supervisor.stop()
    assert hooks.running == {}


async def test_a_killed_process_is_restarted_with_back_off(tmp_path: Path) -> None:
    code = echo_code(tmp_path / "code")
    hooks = _Hooks()
    supervisor = _supervisor(_config(code, tmp_path), tmp_path, hooks)
    try:
        await supervisor.start(1)
        instance = supervisor.instances[0]
        pauses = []
        for expected_restarts in (1, 2):
            old = instance.pid
            assert old is not None
            killed = time.monotonic()
            os.killpg(old, signal.SIGKILL)
            await wait_for(lambda: not instance.ready, what="leaving rotation")
            assert supervisor.upstreams() == ()
            await wait_for(_replaced(instance, old), what="a new process")
            pauses.append(time.monotonic() - killed)
            await wait_for(lambda: instance.ready, what="ready again")
            assert instance.restarts == expected_restarts
            assert len(supervisor.upstreams()) == 1
        # Back-off: 0.5 s before the first restart, 1 s before the second.
        assert pauses[0] >= 0.5
        assert pauses[1] >= 1.0
    finally:
        await supervisor.stop()
    assert hooks.running == {}


async def test_a_hung_instance_leaves_rotation_and_is_restarted_by_liveness(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    code = echo_code(tmp_path / "code")
    # Liveness starts after readiness (ready in about a second): the hang comes first, so
    # the probes that fail are the first ones after initial_delay. A failed probe of a
    # stopped process takes its whole timeout (the kernel accepts, nobody answers).
    liveness = ProbeSettings(initial_delay=2, period=0.5, timeout=0.5, failure_threshold=3)
    hooks = _Hooks()
    config = _config(code, tmp_path, liveness=liveness, readiness=READINESS)
    supervisor = _supervisor(config, tmp_path, hooks)
    caplog.set_level(logging.WARNING, logger="deploy.local.instances.instance")
    try:
        await supervisor.start(1)
        instance = supervisor.instances[0]
        hung = instance.pid
        assert hung is not None
        os.killpg(hung, signal.SIGSTOP)  # alive but unresponsive
        stopped = time.monotonic()
        await wait_for(lambda: not instance.ready, what="readiness to fail")
        assert supervisor.upstreams() == ()
        await wait_for(
            lambda: instance.pid not in (None, hung), seconds=30, what="a liveness restart"
        )
        await wait_for(lambda: instance.ready, what="ready again")
        assert instance.restarts == 1
        assert hung not in hooks.running
        assert not psutil.pid_exists(hung) or psutil.Process(hung).status() == "zombie"
    finally:
        await supervisor.stop()
    assert hooks.running == {}
    # Restarted for failure_threshold failures in a row, not for the first one...
    restarts = [r.getMessage() for r in caplog.records if "restart" in r.getMessage()]
    assert restarts == ["instance blue-1 failed 3 liveness probes in a row; restart 1 in 0.5 s"]
    # ...so not before initial_delay + failure_threshold x period after the process started
    # (measured: when it was reaped), nor before threshold probes after the hang could fail.
    lived = hooks.ended_at[hung] - hooks.spawned_at[hung]
    threshold = liveness.failure_threshold
    assert lived >= liveness.initial_delay + threshold * liveness.period, lived
    hung_for = hooks.ended_at[hung] - stopped
    assert hung_for >= (threshold - 1) * liveness.period + liveness.timeout, hung_for


def _replaced(instance: Instance, old: int) -> Callable[[], bool]:
    """A condition: ``instance`` runs a process other than ``old``."""
    return lambda: instance.pid not in (None, old)


def _listeners(pids: dict[int, str]) -> list[str]:
    addresses = []
    for pid in pids:
        for conn in psutil.Process(pid).net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN:
                addresses.append(conn.laddr.ip)
    assert addresses, "no listening socket found"
    return addresses
