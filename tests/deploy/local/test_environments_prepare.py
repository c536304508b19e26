"""prepare_environment for real: fallbacks with warnings, the conda-only error, and virtual
environments built offline (pip --no-index) on the platform's interpreter, cached and atomic."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy.errors import DeploymentFailedError, SpecError
from deploy.local.environments.conda import parse_conda_file
from deploy.local.environments.prepare import ENVS_DIR, environment_key, prepare_environment
from deploy.local.environments.venvs import MANIFEST, inspect_interpreter
from deploy.types import EnvironmentSpec

pytestmark = pytest.mark.slow(budget=30)

#: Offline: pip must find every requirement satisfied by the platform's interpreter.
OFFLINE = ("--no-index",)
#: numpy and onnxruntime are platform dependencies: satisfied, nothing to download.
SATISFIED: dict[str, Any] = {
    "name": "satisfied",
    "channels": ["conda-forge"],
    "dependencies": ["python=3.8", "numpy", "pip", {"pip": ["onnxruntime"]}],
}


class Lines:
    """A ``log`` callback that keeps what it was given."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def __call__(self, line: str) -> None:
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


async def _prepare(env: EnvironmentSpec | None, home: Path, log: Lines) -> Any:
    return await prepare_environment(
        env, home=home, base_python=sys.executable, log=log, pip_options=OFFLINE
    )


def _run(python: str, code: str) -> str:
    done = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


# ---------------------------------------------------------------- fallbacks


@pytest.mark.parametrize(
    ("env", "warning"),
    [
        (None, "no environment given; using the platform's interpreter"),
        (
            EnvironmentSpec(registered="recommendation-env:1"),
            "environment azureml:recommendation-env:1 is not available locally; "
            "using the platform's interpreter",
        ),
        (
            EnvironmentSpec(image="mcr.microsoft.com/azureml/minimal-py311-inference:latest"),
            "image mcr.microsoft.com/azureml/minimal-py311-inference:latest is not run locally",
        ),
    ],
)
async def test_no_conda_file_falls_back_to_the_platform_interpreter(
    tmp_path: Path, env: EnvironmentSpec | None, warning: str
) -> None:
    log = Lines()
    prepared = await _prepare(env, tmp_path, log)
    assert prepared.python == sys.executable
    assert prepared.path is None
    assert len(prepared.warnings) == 1
    assert prepared.warnings[0].startswith(warning)
    assert log.lines == [f"Warning: {prepared.warnings[0]}"]
    assert not (tmp_path / ENVS_DIR).exists()


async def test_a_conda_only_package_fails_before_anything_is_built(tmp_path: Path) -> None:
    env = EnvironmentSpec(conda_file={"dependencies": ["numpy", "cudatoolkit=11.8"]})
    log = Lines()
    with pytest.raises(SpecError, match="cudatoolkit: conda-only"):
        await _prepare(env, tmp_path, log)
    assert not (tmp_path / ENVS_DIR).exists()
    assert log.lines == []


async def test_nothing_to_install_uses_the_platform_interpreter(tmp_path: Path) -> None:
    env = EnvironmentSpec(conda_file={"dependencies": ["python=3.11", "pip"]})
    log = Lines()
    prepared = await _prepare(env, tmp_path, log)
    assert prepared.python == sys.executable
    assert "lists no packages to install" in log.text
    assert not (tmp_path / ENVS_DIR).exists()


# ---------------------------------------------------------------- building


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One home for the build tests below: the second test uses the first's cache."""
    return tmp_path_factory.mktemp("flightdeck-home")


async def test_satisfied_requirements_build_an_offline_layered_venv(home: Path) -> None:
    log, output = Lines(), Lines()
    prepared = await prepare_environment(
        EnvironmentSpec(conda_file=SATISFIED),
        home=home,
        base_python=sys.executable,
        log=log,
        output=output,
        pip_options=OFFLINE,
    )
    assert prepared.built
    assert prepared.key is not None
    assert prepared.path == home / ENVS_DIR / prepared.key
    assert prepared.python == str(prepared.path / "bin" / "python")
    # A python pin other than the platform's is a warning, not a failure.
    assert len(prepared.warnings) == 1
    assert "pins python 3.8" in prepared.warnings[0]
    assert f"Warning: {prepared.warnings[0]}" in log.lines
    assert "Conda channels ignored (conda-forge)" in log.text
    assert f"Building environment {prepared.key} on Python" in log.text
    # pip's own output, line by line, goes to ``output``: nothing was downloaded.
    assert "pip: Requirement already satisfied: numpy" in output.text
    assert "pip: Requirement already satisfied: onnxruntime" in output.text
    assert "Downloading" not in output.text
    assert "pip:" not in log.text
    # The venv runs on its own prefix and sees the platform's packages and inference server.
    probe = (
        "import json, sys, numpy, onnxruntime, azureml_inference_server_http;"
        "print(json.dumps([sys.prefix, numpy.__file__]))"
    )
    prefix, numpy_file = json.loads(_run(prepared.python, probe))
    assert Path(prefix) == prepared.path
    assert not Path(numpy_file).is_relative_to(prepared.path)  # found, not installed
    manifest = json.loads((prepared.path / MANIFEST).read_text())
    assert manifest["requirements"] == ["numpy", "onnxruntime"]
    # Only the finished environment and its lock file remain: no build leftovers.
    entries = sorted(p.name for p in (home / ENVS_DIR).iterdir())
    assert entries == sorted([prepared.key, f".{prepared.key}.lock"])


async def test_a_second_prepare_uses_the_cache(home: Path) -> None:
    first = await _prepare(EnvironmentSpec(conda_file=SATISFIED), home, Lines())
    assert first.path is not None
    stamp = (first.path / MANIFEST).stat().st_mtime_ns
    respelled = {"dependencies": ["pip", {"pip": ["ONNXRuntime", "NumPy"]}]}
    log = Lines()
    second = await _prepare(EnvironmentSpec(conda_file=respelled), home, log)
    assert not second.built
    assert (second.path, second.python) == (first.path, first.python)
    assert f"Environment {first.key} is cached" in log.text
    assert "pip:" not in log.text
    assert (first.path / MANIFEST).stat().st_mtime_ns == stamp


async def test_concurrent_prepares_of_one_environment_build_it_once(tmp_path: Path) -> None:
    env = EnvironmentSpec(conda_file={"dependencies": [{"pip": ["numpy"]}]})
    logs = [Lines(), Lines()]
    results = await asyncio.gather(*(_prepare(env, tmp_path, log) for log in logs))
    assert sorted(r.built for r in results) == [False, True]
    assert results[0].path == results[1].path
    assert sum("Building environment" in log.text for log in logs) == 1
    assert _run(results[0].python, "import sys; print(sys.prefix)") == str(results[0].path)


async def test_a_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    missing = "flightdeck-no-such-package-for-tests"
    conda = {"dependencies": ["numpy", {"pip": [missing]}]}
    key = environment_key(parse_conda_file(conda), await inspect_interpreter(sys.executable))
    envs = tmp_path / ENVS_DIR
    stale = envs / f".tmp-{key}-interrupted"  # what a killed daemon's build would leave
    (stale / "bin").mkdir(parents=True)
    log = Lines()
    with pytest.raises(DeploymentFailedError) as caught:
        await _prepare(EnvironmentSpec(conda_file=conda), tmp_path, log)
    assert f"Building the environment {key} failed: pip install exited" in caught.value.message
    tail = "\n".join(caught.value.log_lines)
    assert missing in tail
    assert "No matching distribution" in tail or "Could not find a version" in tail
    assert sorted(p.name for p in envs.iterdir()) == [f".{key}.lock"]
    # The next attempt builds again (and fails again): nothing was cached.
    with pytest.raises(DeploymentFailedError):
        await _prepare(EnvironmentSpec(conda_file=conda), tmp_path, Lines())
    assert sorted(p.name for p in envs.iterdir()) == [f".{key}.lock"]


async def test_an_interpreter_that_cannot_run_is_a_deployment_failure(tmp_path: Path) -> None:
    env = EnvironmentSpec(conda_file={"dependencies": ["numpy"]})
    with pytest.raises(DeploymentFailedError, match="could not be inspected"):
        await prepare_environment(
            env, home=tmp_path, base_python=str(tmp_path / "no-python"), log=Lines()
        )
    assert not (tmp_path / ENVS_DIR).exists()
