"""prepare_environment for real: fallbacks with warnings, the conda-only error, and isolated
virtual environments built by uv (from PyPI or the machine's mirror, then from uv's cache),
cached by content and atomic."""

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
from deploy.local.environments.installed import installed_version
from deploy.local.environments.prepare import ENVS_DIR, environment_key, prepare_environment
from deploy.local.environments.venvs import MANIFEST, inspect_interpreter
from deploy.local.staging import instance_environment
from deploy.types import DeploymentSpec, EnvironmentSpec

pytestmark = pytest.mark.slow(budget=150)

#: Built from uv's cache alone: the test that first builds these packages filled it.
OFFLINE = ("--offline",)
#: A python no machine has, numpy and joblib.
SATISFIED: dict[str, Any] = {
    "name": "satisfied",
    "channels": ["conda-forge"],
    "dependencies": ["python=3.4", "numpy", "pip", {"pip": ["joblib"]}],
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


async def _prepare(
    env: EnvironmentSpec | None, home: Path, log: Lines, *, offline: bool = False
) -> Any:
    return await prepare_environment(
        env, home=home, base_python=sys.executable, log=log, pip_options=OFFLINE if offline else ()
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


# ---------------------------------------------------------------- building


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One home for the build tests below: the second test uses the first's cache."""
    return tmp_path_factory.mktemp("flightdeck-home")


async def test_an_environment_is_isolated_resolved_by_uv_and_gets_the_inference_server(
    home: Path,
) -> None:
    log, output = Lines(), Lines()
    prepared = await prepare_environment(
        EnvironmentSpec(conda_file=SATISFIED),
        home=home,
        base_python=sys.executable,
        log=log,
        output=output,
    )
    assert prepared.built
    assert prepared.key is not None
    assert prepared.path == home / ENVS_DIR / prepared.key
    assert prepared.python == str(prepared.path / "bin" / "python")
    # A python pin this machine lacks is a warning that says so, not a failure.
    assert len(prepared.warnings) == 1
    assert "pins python 3.4, which this machine does not have" in prepared.warnings[0]
    assert f"Warning: {prepared.warnings[0]}" in log.lines
    assert "Conda channels ignored (conda-forge)" in log.text
    assert "azureml-inference-server-http added" in log.text
    assert f"Building environment {prepared.key} on Python" in log.text
    # uv's own output, line by line, goes to ``output``.
    assert "uv: " in output.text
    assert "uv:" not in log.text
    # Its own numpy and joblib and the server; none of the platform's packages leak in.
    probe = (
        "import json, sys, importlib.util, numpy, joblib, azureml_inference_server_http;"
        "print(json.dumps([sys.prefix, numpy.__file__, sys.path,"
        " importlib.util.find_spec('onnxruntime') is None]))"
    )
    prefix, numpy_file, path, no_onnxruntime = json.loads(_run(prepared.python, probe))
    assert Path(prefix) == prepared.path
    assert Path(numpy_file).is_relative_to(prepared.path)
    assert no_onnxruntime  # a platform dependency, not listed: absent
    platform_site = _run(
        sys.executable, "import numpy, os; print(os.path.dirname(numpy.__path__[0]))"
    )
    assert platform_site not in path
    manifest = json.loads((prepared.path / MANIFEST).read_text())
    assert manifest["requirements"] == ["joblib", "numpy", "azureml-inference-server-http"]
    # Only the finished environment and its lock file remain: no build leftovers.
    entries = sorted(p.name for p in (home / ENVS_DIR).iterdir())
    assert entries == sorted([prepared.key, f".{prepared.key}.lock"])


async def test_a_second_environment_with_the_same_packages_builds_offline_from_the_cache(
    home: Path,
) -> None:
    # Not the same key (flask is listed), but no package the first build lacked.
    conda = {"dependencies": ["python=3.4", "numpy", {"pip": ["joblib", "flask"]}]}
    log = Lines()
    prepared = await _prepare(EnvironmentSpec(conda_file=conda), home, log, offline=True)
    assert prepared.built
    assert "Downloading" not in log.text
    assert _run(prepared.python, "import joblib, flask; print('ok')") == "ok"


async def test_a_second_prepare_uses_the_cache(home: Path) -> None:
    first = await _prepare(EnvironmentSpec(conda_file=SATISFIED), home, Lines(), offline=True)
    assert first.path is not None
    stamp = (first.path / MANIFEST).stat().st_mtime_ns
    respelled = {"dependencies": ["python=3.4", "pip", {"pip": ["JobLib", "NumPy"]}]}
    log = Lines()
    second = await _prepare(EnvironmentSpec(conda_file=respelled), home, log, offline=True)
    assert not second.built
    assert (second.path, second.python) == (first.path, first.python)
    assert f"Environment {first.key} is cached" in log.text
    assert "uv:" not in log.text
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
    assert f"Building the environment {key} failed" in caught.value.message
    assert "No solution found" in caught.value.message
    assert missing in caught.value.message
    assert missing in "\n".join(caught.value.log_lines)
    assert sorted(p.name for p in envs.iterdir()) == [f".{key}.lock"]
    # The next attempt builds again (and fails again): nothing was cached.
    with pytest.raises(DeploymentFailedError):
        await _prepare(EnvironmentSpec(conda_file=conda), tmp_path, Lines())
    assert sorted(p.name for p in envs.iterdir()) == [f".{key}.lock"]


async def test_a_dependency_conflict_fails_the_build_with_uvs_explanation(tmp_path: Path) -> None:
    # The inference server pins opentelemetry-sdk; asking for another one cannot be met.
    conda = {
        "dependencies": [
            {"pip": ["azureml-inference-server-http==1.5.1", "opentelemetry-sdk==1.20.0"]}
        ]
    }
    with pytest.raises(DeploymentFailedError) as caught:
        await _prepare(EnvironmentSpec(conda_file=conda), tmp_path, Lines())
    assert "No solution found" in caught.value.message
    assert "opentelemetry-sdk" in caught.value.message
    assert [p.name for p in (tmp_path / ENVS_DIR).iterdir() if not p.name.endswith(".lock")] == []


async def test_an_interpreter_that_cannot_run_is_a_deployment_failure(tmp_path: Path) -> None:
    env = EnvironmentSpec(conda_file={"dependencies": ["numpy"]})
    with pytest.raises(DeploymentFailedError, match="could not be inspected"):
        await prepare_environment(
            env, home=tmp_path, base_python=str(tmp_path / "no-python"), log=Lines()
        )
    assert not (tmp_path / ENVS_DIR).exists()


# ---------------------------------------------------------------- gunicorn's options


def _fake_prefix(root: Path, gunicorn: str | None) -> str:
    """An installation's layout with only a gunicorn dist-info (or none) in site-packages."""
    site = root / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    if gunicorn is not None:
        (site / f"gunicorn-{gunicorn}.dist-info").mkdir()
    (root / "bin").mkdir()
    return str(root / "bin" / "python")


@pytest.mark.parametrize(
    ("gunicorn", "expected"),
    [("22.0.0", None), ("23.0.0", "--no-control-socket"), (None, None)],
)
def test_no_control_socket_is_set_only_for_a_gunicorn_that_knows_it(
    tmp_path: Path, gunicorn: str | None, expected: str | None
) -> None:
    python = _fake_prefix(tmp_path, gunicorn)
    assert installed_version(python, "Gunicorn") == gunicorn
    spec = DeploymentSpec(name="blue", endpoint_name="ep")
    env = instance_environment(spec, model_dir=None, app_root=tmp_path, inherited={}, python=python)
    assert env.get("GUNICORN_CMD_ARGS") == expected
