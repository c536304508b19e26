"""End to end: a deployment whose conda file lists scikit-learn (the platform's release, so the
pickle the test makes loads) and joblib, and whose score.py loads that pickled model, served by
azmlinfsrv in the prepared environment, an isolated one that uv built."""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import joblib  # type: ignore[import-untyped]  # joblib ships no types
import numpy as np
import pytest
import sklearn  # type: ignore[import-untyped]  # scikit-learn ships no types
from sklearn.linear_model import (  # type: ignore[import-untyped]  # scikit-learn ships no types
    LogisticRegression,
)

from deploy.local.environments.prepare import PreparedEnvironment, prepare_environment
from deploy.types import EnvironmentSpec
from tests.support.azmlinfsrv import AzmlinfsrvProcess, start_azmlinfsrv

pytestmark = pytest.mark.slow(budget=120)

CONDA = {
    "name": "sklearn-env",
    "channels": ["conda-forge"],
    "dependencies": [
        f"python={sys.version_info.major}.{sys.version_info.minor}",
        f"scikit-learn=={sklearn.__version__}",
        "pip",
        {"pip": ["joblib", "azureml-inference-server-http"]},
    ],
}

SCORE = """
import json
import os
import sys

import joblib
import sklearn

model = None


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.pkl"))


def run(raw_data):
    rows = json.loads(raw_data)["data"]
    return {
        "predictions": model.predict(rows).tolist(),
        "probabilities": model.predict_proba(rows)[:, 1].tolist(),
        "prefix": sys.prefix,
        "sklearn": sklearn.__version__,
    }
"""

QUERY = [[0.5, 1.0], [9.0, 8.5], [2.0, 1.5], [7.5, 9.0]]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LogisticRegression]:
    """A logistic regression on two well-separated synthetic clusters, pickled with joblib."""
    rng = np.random.default_rng(7)
    low = rng.normal(loc=1.0, scale=0.8, size=(40, 2))
    high = rng.normal(loc=8.0, scale=0.8, size=(40, 2))
    features = np.vstack([low, high])
    labels = np.array([0] * 40 + [1] * 40)
    classifier = LogisticRegression().fit(features, labels)
    folder = tmp_path_factory.mktemp("model")
    joblib.dump(classifier, folder / "model.pkl")
    return folder, classifier


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> PreparedEnvironment:
    lines: list[str] = []

    async def log(line: str) -> None:
        lines.append(line)

    home = tmp_path_factory.mktemp("home")
    coroutine = prepare_environment(
        EnvironmentSpec(
            image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04", conda_file=CONDA
        ),
        home=home,
        base_python=sys.executable,
        log=log,
    )
    result = asyncio.run(coroutine)
    text = "\n".join(lines)
    assert "Resolving and installing" in text
    assert "azureml-inference-server-http added" not in text  # the conda file lists it
    assert result.warnings == ()  # the pin is the platform's own Python
    return result


@pytest.fixture(scope="module")
def server(
    prepared: PreparedEnvironment,
    model: tuple[Path, LogisticRegression],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AzmlinfsrvProcess]:
    code = tmp_path_factory.mktemp("code")
    (code / "score.py").write_text(SCORE)
    srv = start_azmlinfsrv(
        entry_script=code / "score.py",
        model_dir=model[0],
        log_path=tmp_path_factory.mktemp("logs") / "azmlinfsrv.log",
        cwd=code,
        python=prepared.python,
    )
    yield srv
    srv.stop()


def test_the_instance_serves_the_pickled_model_from_the_prepared_environment(
    server: AzmlinfsrvProcess,
    prepared: PreparedEnvironment,
    model: tuple[Path, LogisticRegression],
) -> None:
    body = json.dumps({"data": QUERY}).encode()
    request = urllib.request.Request(
        server.url("/score"), data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        answer = json.loads(response.read())
    classifier = model[1]
    assert answer["predictions"] == [0, 1, 0, 1]
    assert answer["predictions"] == classifier.predict(QUERY).tolist()
    assert answer["probabilities"] == pytest.approx(classifier.predict_proba(QUERY)[:, 1].tolist())
    # It ran inside the environment's venv, with the scikit-learn the conda file pinned.
    assert prepared.path is not None
    assert Path(answer["prefix"]) == prepared.path
    assert answer["sklearn"] == sklearn.__version__
