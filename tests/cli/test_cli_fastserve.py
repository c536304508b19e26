"""``flightdeck fastserve environment``: the Azure custom-container environment for fastserve.

The YAML is loaded with azure-ai-ml's own loader (offline); the Dockerfile's CMD is run as
is on this machine (no Docker here): its interpreter is this one and its fastserve folder the
one written into the build context, with the variables Azure sets, on a free port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from azure.ai.ml import load_environment

from cli.fastserve import IMAGE_DIR
from samples import product_recommender
from tests.scoring.compat.wire import exchange
from tests.scoring.helpers import copy_scoring_alone
from tests.support.azmlinfsrv import AzmlinfsrvProcess, free_port, wait_until_healthy
from tests.support.flightdeck_cli import CliResult, run_cli


def flightdeck(*args: str) -> CliResult:
    """``flightdeck *args`` in-process (no daemon: the home is never created)."""
    return run_cli(*args, home=Path("/nonexistent/flightdeck-home"))


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("env") / "fastserve-env"
    result = flightdeck("fastserve", "environment", "--out", str(out), "--name", "fd-fast")
    return out, result.ok().json()


def test_writes_a_build_context(environment: tuple[Path, dict[str, Any]]) -> None:
    out, printed = environment
    assert printed["path"] == str(out)
    assert {"Dockerfile", "environment.yml", "requirements.txt", "fastserve/__main__.py"} <= set(
        printed["files"]
    )
    dockerfile = (out / "Dockerfile").read_text()
    assert dockerfile.startswith("# Written by") and "FROM mcr.microsoft.com/azureml/" in dockerfile
    requirements = (out / "requirements.txt").read_text().split()
    assert any(line.startswith("onnxruntime") for line in requirements)
    assert any(line.startswith("httptools") for line in requirements)
    assert any(line.startswith("orjson") for line in requirements)


def test_azure_ai_ml_loads_the_environment(environment: tuple[Path, dict[str, Any]]) -> None:
    out, _ = environment
    env = load_environment(source=out / "environment.yml")
    assert (env.name, env.version) == ("fd-fast", "1")
    build = env.build
    assert build is not None and build.path is not None
    assert (Path(env.base_path) / build.path).resolve() == out.resolve()
    assert build.dockerfile_path == "Dockerfile"
    routes = env.inference_config
    assert (routes.liveness_route.path, routes.liveness_route.port) == ("/", 5001)
    assert (routes.readiness_route.path, routes.readiness_route.port) == ("/", 5001)
    assert (routes.scoring_route.path, routes.scoring_route.port) == ("/score", 5001)


@pytest.mark.slow(budget=30)
def test_the_container_command_serves_the_scoring_folder(
    environment: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, _ = environment
    command = json.loads((out / "Dockerfile").read_text().split("CMD ", 1)[1])
    assert command == ["python", IMAGE_DIR, "--port", "5001"]
    port = free_port()
    argv = [sys.executable, str(out / "fastserve"), "--port", str(port)]
    app_root = tmp_path / "var" / "azureml-app"  # as Azure mounts code_configuration.code
    copy_scoring_alone(app_root / "scoring")
    models = tmp_path / "azureml-models"
    product_recommender.write_models(models)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AZUREML_", "AML_"))}
    environ.update(
        AML_APP_ROOT=str(app_root),
        AZUREML_ENTRY_SCRIPT="scoring/score.py",
        AZUREML_MODEL_DIR=str(models / "model-v1"),
        FASTSERVE_HOST="127.0.0.1",  # the image's ENV says 0.0.0.0; tests stay on loopback
    )
    log_path = tmp_path / "container.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, cwd=tmp_path, env=environ, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    server = AzmlinfsrvProcess(process=process, port=port, log_path=log_path)
    try:
        wait_until_healthy(server, timeout=60)
        answer = exchange(server, "POST", "/score", body=b'{"data": [1, 2, 3, 4, 5]}',
                          headers={"Content-Type": "application/json"})  # fmt: skip
        assert answer.status == 200 and answer.json()["batch_size"] == 1
    finally:
        server.stop()


def test_an_existing_folder_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    result = flightdeck("fastserve", "environment", "--out", str(out))
    assert "exists and is not empty" in result.error_line()
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]  # no staging folder left


def test_a_bad_name_writes_nothing(tmp_path: Path) -> None:
    result = flightdeck("fastserve", "environment", "--out", str(tmp_path / "e"), "--name", "a b")
    assert "Environment name 'a b' is invalid" in result.error_line()
    assert list(tmp_path.iterdir()) == []
