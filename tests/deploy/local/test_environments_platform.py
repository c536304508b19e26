"""Environments on the platform: a deployment whose conda file pins an old scikit-learn (built
against numpy 1.x) and an old gunicorn, with numpy unpinned, runs its instances in its own
isolated environment (numpy 1.x resolved, no --no-control-socket for gunicorn 22), through
create, score, restart; a conda-only package fails the create before anything is copied.
Real Router, uv and azmlinfsrv."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from deploy.errors import NotFoundError, SpecError
from deploy.local.environments.prepare import ENVS_DIR
from deploy.types import EndpointSpec, EnvironmentSpec, ModelRef
from tests.deploy.local.platform_kit import (
    Progress,
    deployment_spec,
    running_platform,
    score,
    write_code,
)

pytestmark = pytest.mark.slow(budget=180)

CONDA = {
    "name": "sklearn-1.2",
    "channels": ["conda-forge"],
    "dependencies": [
        "python=3.11",
        "scikit-learn=1.2.2",
        "numpy",
        "pip",
        {"pip": ["gunicorn==22.0.0"]},
    ],
}

#: The model is its training data: scikit-learn 1.2 cannot read a newer release's pickle.
SCORE = """
import json
import os
import sys

import numpy
import sklearn
from sklearn.tree import DecisionTreeClassifier

model = None


def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "train.json")) as file:
        data = json.load(file)
    model = DecisionTreeClassifier(random_state=0).fit(data["x"], data["y"])


def run(raw_data):
    rows = json.loads(raw_data)["data"]
    return {
        "predictions": model.predict(rows).tolist(),
        "prefix": sys.prefix,
        "versions": [sklearn.__version__, numpy.__version__],
        "gunicorn_args": os.environ.get("GUNICORN_CMD_ARGS"),
    }
"""


def _model(folder: Path) -> Path:
    """Training data of a decision tree; a single-file model sits at the root of the model dir."""
    data = {"x": [[0, 0], [1, 1], [0, 1], [9, 9], [8, 9], [9, 8]], "y": [0, 0, 0, 1, 1, 1]}
    folder.mkdir(parents=True)
    (folder / "train.json").write_text(json.dumps(data))
    return folder / "train.json"


async def test_pinned_old_scikit_learn_runs_in_its_own_environment_and_after_a_restart(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    code = write_code(tmp_path / "src", SCORE)
    spec = replace(
        deployment_spec(
            "ep-sklearn", "blue", code, model=ModelRef(path=str(_model(tmp_path / "m")))
        ),
        environment=EnvironmentSpec(
            image="mcr.microsoft.com/azureml/openmpi4.1.0", conda_file=CONDA
        ),
    )
    progress = Progress()
    async with running_platform(home) as platform:
        await platform.create_or_update_endpoint(EndpointSpec(name="ep-sklearn"))
        await platform.create_or_update_deployment(spec, progress=progress)
        await platform.set_traffic("ep-sklearn", {"blue": 100})
        status, body, _ = await score(platform, "ep-sklearn", {"data": [[0, 1], [9, 9]]})
        assert status == 200, body
        assert body["predictions"] == [0, 1]
        sklearn_version, numpy_version = body["versions"]
        assert sklearn_version == "1.2.2"
        assert numpy_version.startswith("1."), numpy_version  # not the platform's numpy 2
        assert body["gunicorn_args"] is None  # gunicorn 22 refuses --no-control-socket
        (env_dir,) = (p for p in (home / ENVS_DIR).iterdir() if not p.name.startswith("."))
        assert Path(body["prefix"]) == env_dir
        storage = await platform.get_logs(
            "ep-sklearn", "blue", lines=400, container="storage-initializer"
        )
        assert f"Building environment {env_dir.name}" in storage
        assert "numpy<2 added as a constraint: scikit-learn==1.2.2.* was built" in storage
        assert "uv: " in storage
        assert "Building environment" in progress.text()
    async with running_platform(home) as platform:
        status, body, _ = await score(platform, "ep-sklearn", {"data": [[8, 8]]})
        assert status == 200, body
        assert body["predictions"] == [1]
        assert body["prefix"] == str(env_dir)


async def test_a_conda_only_package_fails_the_create_before_anything_is_copied(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    code = write_code(tmp_path / "src", SCORE)
    conda = {"dependencies": ["scikit-learn", "cudatoolkit=11.8"]}
    spec = replace(
        deployment_spec("ep-conda", "blue", code), environment=EnvironmentSpec(conda_file=conda)
    )
    async with running_platform(home) as platform:
        await platform.create_or_update_endpoint(EndpointSpec(name="ep-conda"))
        with pytest.raises(SpecError, match="cudatoolkit: conda-only"):
            await platform.create_or_update_deployment(spec)
        with pytest.raises(NotFoundError):
            await platform.get_deployment("ep-conda", "blue")
    assert not (home / ENVS_DIR).exists()
    assert not (home / "deployments" / "ep-conda" / "blue").exists()
