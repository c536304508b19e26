"""Scripts written for ``az ml`` run unchanged with flightdeck as ``az``, end to end.

The shipped example (examples/az-scripts/deploy-safe-rollout-online-endpoints.sh, written as
Azure's own sample scripts are) runs under bash ``set -e`` against a real daemon in a tmp
home, once with the ``az`` shim ``flightdeck alias install`` writes and once with the
one-line shell function. Both create an endpoint and blue, invoke, read the key and scoring
URI with ``-o tsv --query``, curl, add green, mirror, shift 90/10 then 0/100, scale with
``--set instance_count=2``, read logs and delete with ``--yes --no-wait``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.flightdeck_cli import (
    REPO,
    LocalPlatform,
    local_platform,
    poll,
    run_cli,
    write_deployment,
    write_endpoint,
    write_request,
)

SCRIPT = REPO / "examples" / "az-scripts" / "deploy-safe-rollout-online-endpoints.sh"


def _specs(folder: Path) -> Path:
    """The example's specs with short probes, under the names the script reads."""
    folder.mkdir()
    write_endpoint(folder).rename(folder / "endpoint.yml")
    write_deployment(folder, file_name="blue-deployment.yml")
    write_deployment(folder, name="green", version="v2", file_name="green-deployment.yml")
    write_request(folder).rename(folder / "sample-request.json")
    return folder


def _run_script(
    platform: LocalPlatform, specs: Path, env: dict[str, str], *, shell_prefix: str
) -> subprocess.CompletedProcess[str]:
    command = f"{shell_prefix}\nsource {SCRIPT}"
    return subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
        stdin=subprocess.DEVNULL,
        env={
            **os.environ,
            **env,
            "FLIGHTDECK_HOME": str(platform.home),
            "PYTHONPATH": str(REPO),
            "SPECS": str(specs),
        },
    )


def _endpoints(platform: LocalPlatform) -> list[str]:
    listed = platform.cli("online-endpoint", "list", "--query", "[].name", "-o", "tsv").ok()
    return listed.stdout.split()


def _check(platform: LocalPlatform, done: subprocess.CompletedProcess[str], name: str) -> None:
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    out = done.stdout
    assert '"traffic": {\n  "blue": 100' not in out  # --query traffic prints the map alone
    assert '{\n  "blue": 100,\n  "green": 0\n}' in out  # --query traffic: green at 0%
    assert '"predictions"' in out  # invoke (a JSON string) and the curl answers
    assert "Instance green-1 ready" in done.stderr or "green" in done.stderr
    poll(lambda: name not in _endpoints(platform), timeout=120, what=f"{name} deleted")


@pytest.mark.slow(budget=600)
def test_the_safe_rollout_script_runs_with_the_az_shim(tmp_path: Path) -> None:
    if shutil.which("curl") is None or shutil.which("bash") is None:
        pytest.fail("the az scripts need bash and curl")
    specs = _specs(tmp_path / "specs")
    bin_dir = tmp_path / "bin"
    with local_platform(tmp_path / "home") as platform:
        installed = run_cli("alias", "install", "--dir", str(bin_dir), home=platform.home).ok()
        assert installed.json()["path"] == str(bin_dir / "az")
        path = f"{bin_dir}:{os.environ.get('PATH', '')}"
        done = _run_script(
            platform, specs, {"PATH": path, "ENDPOINT_NAME": "rollout-shim"}, shell_prefix=""
        )
        _check(platform, done, "rollout-shim")


@pytest.mark.slow(budget=600)
def test_the_safe_rollout_script_runs_with_the_shell_function(tmp_path: Path) -> None:
    specs = _specs(tmp_path / "specs")
    with local_platform(tmp_path / "home") as platform:
        function = f'az() {{ shift; "{sys.executable}" -m cli.main "$@"; }}'
        done = _run_script(platform, specs, {"ENDPOINT_NAME": "rollout-fn"}, shell_prefix=function)
        _check(platform, done, "rollout-fn")
