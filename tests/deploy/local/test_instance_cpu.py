"""``resources.limits.cpu`` held on a real instance's process tree: by a cgroup where one is
writable here, and by the duty-cycle throttle (SIGSTOP/SIGCONT) everywhere."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from deploy.errors import ValidationError
from deploy.local.instances.cpu import CGROUP, THROTTLE, cgroup_parent, parse_cpu
from deploy.local.instances.instance import Instance, InstanceConfig, InstanceState
from deploy.local.staging import instance_config
from deploy.local.support import cpu_limit, deployment_warnings
from deploy.types import DeploymentSpec, ResourceSettings
from tests.deploy.local.platform_kit import deployment_spec, write_code

#: A scoring script whose init() starts a thread that spins for ever: one core, if allowed.
SPINNER = """
import threading


def _spin():
    n = 0
    while True:
        n += 1


def init():
    threading.Thread(target=_spin, daemon=True).start()


def run(raw_data):
    return {"ok": True}
"""

_MEASURE_SECONDS = 3.0


def _config(code: Path, tmp_path: Path) -> InstanceConfig:
    spec = deployment_spec("ep-cpu", "blue", code)
    config = instance_config(spec, folder=tmp_path / "gen", model_dir=None, python=sys.executable)
    return InstanceConfig(
        python=config.python,
        entry_script=code / "score.py",
        app_root=code,
        environment=config.environment,
        liveness=config.liveness,
        readiness=config.readiness,
        startup_timeout=60.0,
    )


def _tree_cpu(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its live descendants."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


async def _cores_used(config: InstanceConfig, log: Path) -> tuple[float, float]:
    """Start an instance of ``config``; once it is ready, the cores its tree uses, and the
    cores a plain spinning process (the baseline: what one CPU-bound thread gets on this
    machine now, with whatever else shares it) uses over the same seconds."""
    instance = Instance(name="blue-1", config=config, log_path=lambda: log)
    instance.start()
    try:
        await asyncio.wait_for(instance.wait_settled(), 90)
        assert instance.state is InstanceState.READY, instance.failure
        assert instance.pid is not None
        await asyncio.sleep(1.0)  # let a throttle settle past the start-up's CPU
        baseline = await asyncio.create_subprocess_exec(sys.executable, "-c", "while True: pass")
        try:
            await asyncio.sleep(0.3)  # past the baseline's interpreter start
            before = _tree_cpu(instance.pid), _tree_cpu(baseline.pid)
            started = time.monotonic()
            await asyncio.sleep(_MEASURE_SECONDS)
            after = _tree_cpu(instance.pid), _tree_cpu(baseline.pid)
            seconds = time.monotonic() - started
        finally:
            baseline.kill()
            await baseline.wait()
        return (after[0] - before[0]) / seconds, (after[1] - before[1]) / seconds
    finally:
        await instance.stop()


def _flightdeck_cgroups() -> list[Path]:
    parent = cgroup_parent()
    return [] if parent is None else sorted(parent.folder.glob("flightdeck-*"))


@pytest.mark.slow(budget=120)
@pytest.mark.asyncio
@pytest.mark.parametrize("method", [THROTTLE, CGROUP])
async def test_a_quarter_core_limit_holds_a_cpu_bound_instance_to_about_a_quarter_core(
    tmp_path: Path, method: str
) -> None:
    if method == CGROUP and cgroup_parent() is None:
        pytest.skip("no writable cgroup with a cpu controller on this machine")
    before = _flightdeck_cgroups()
    code = write_code(tmp_path / "code", SPINNER)
    log = tmp_path / "blue-1.log"
    limited = replace(
        _config(code, tmp_path), cpu_limit=0.25, cpu_limit_text="0.25", cpu_limit_method=method
    )
    used, baseline = await _cores_used(limited, log)
    assert 0.02 < used < 0.45, (used, baseline)
    text = log.read_text(encoding="utf-8")
    assert "used more CPU than its limit of 0.25 and is throttled" in text, text
    assert ("cgroup" if method == CGROUP else "duty-cycle throttle") in text, text
    assert text.count("is throttled") == 1, text
    assert _flightdeck_cgroups() == before  # its cgroup went with it


@pytest.mark.slow(budget=90)
@pytest.mark.asyncio
async def test_without_a_limit_a_cpu_bound_instance_uses_about_a_core(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", SPINNER)
    log = tmp_path / "blue-1.log"
    used, baseline = await _cores_used(_config(code, tmp_path), log)
    # As much as one spinning thread gets on this machine now (about a core when it is
    # idle; less when others share its cores).
    assert used > 0.7 * baseline, (used, baseline)
    assert "throttled" not in log.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "cores"), [("0.25", 0.25), ("250m", 0.25), ("2", 2.0), ("1.5", 1.5)]
)
def test_cpu_quantities_are_read_as_kubernetes_writes_them(text: str, cores: float) -> None:
    assert parse_cpu(text) == pytest.approx(cores)


def _with_limits(tmp_path: Path, limits: dict[str, str]) -> DeploymentSpec:
    spec = deployment_spec("ep-cpu", "blue", write_code(tmp_path / "code", SPINNER))
    return replace(spec, resources=ResourceSettings(requests={}, limits=limits))


@pytest.mark.parametrize("text", ["lots", "-1", "0", "1x", "nan", "inf"])
def test_a_cpu_limit_that_is_not_a_quantity_is_refused_by_name(tmp_path: Path, text: str) -> None:
    with pytest.raises(ValidationError, match=f"resources.limits.cpu '{text}' is not"):
        cpu_limit(_with_limits(tmp_path, {"cpu": text}))
    assert cpu_limit(_with_limits(tmp_path, {})) is None


def test_a_cpu_limit_is_named_as_enforced_not_as_ignored(tmp_path: Path) -> None:
    spec = _with_limits(tmp_path, {"cpu": "250m", "nvidia.com/gpu": "1"})
    lines = deployment_warnings(spec)
    assert not any("resources.limits.cpu" in line and "not honoured" in line for line in lines)
    assert any(line.startswith("resources.limits.cpu 250m: enforced") for line in lines), lines
    assert any("nvidia.com/gpu" in line and "no GPU" in line for line in lines), lines
