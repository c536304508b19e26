"""Environments on the platform: a deployment with a conda file (scikit-learn, joblib) runs its
instances in the cached environment, through create, score, restart; a conda-only package fails
the create before anything is copied. Real Router and azmlinfsrv; pip offline (PIP_NO_INDEX)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import joblib  # type: ignore[import-untyped]  # joblib ships no types
import numpy as np
import pytest
from sklearn.tree import (  # type: ignore[import-untyped]  # scikit-learn ships no types
    DecisionTreeClassifier,
)

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

pytestmark = pytest.mark.slow(budget=30)

CONDA = {
    "name": "sklearn-env",
    "channels": ["conda-forge"],
    "dependencies": ["python=3.11", "scikit-learn", "pip", {"pip": ["joblib"]}],
}

SCORE = """
import json
import os
import sys

import joblib

model = None


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.pkl"))


def run(raw_data):
    rows = json.loads(raw_data)["data"]
    return {"predictions": model.predict(rows).tolist(), "prefix": sys.prefix}
"""


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip (run by the platform) must find everything installed: no index at all."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")


def _model(folder: Path) -> Path:
    """A pickled decision tree; a single-file model sits at the root of AZUREML_MODEL_DIR."""
    features = np.array([[0, 0], [1, 1], [0, 1], [9, 9], [8, 9], [9, 8]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    folder.mkdir(parents=True)
    joblib.dump(DecisionTreeClassifier(random_state=0).fit(features, labels), folder / "model.pkl")
    return folder / "model.pkl"


@pytest.mark.usefixtures("offline")
async def test_conda_deployment_runs_in_its_environment_and_after_a_restart(
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
        (env_dir,) = (p for p in (home / ENVS_DIR).iterdir() if not p.name.startswith("."))
        assert Path(body["prefix"]) == env_dir
        storage = await platform.get_logs(
            "ep-sklearn", "blue", lines=200, container="storage-initializer"
        )
        assert f"Building environment {env_dir.name}" in storage
        assert "pip: Requirement already satisfied: scikit-learn" in storage
        assert "Building environment" in progress.text()
    async with running_platform(home) as platform:
        status, body, _ = await score(platform, "ep-sklearn", {"data": [[8, 8]]})
        assert status == 200, body
        assert body == {"predictions": [1], "prefix": str(env_dir)}


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
