"""Microsoft's online-endpoint samples (azureml-examples cli/endpoints/online/) on the local
platform, from their own YAML, conda files and sample requests (tests/deploy/local/
azure_samples/, as published; its README names each file's source):

- managed/sample: blue (model-1) and green (model-2), a scikit-learn regression pickled with
  joblib, scored with model-2/sample-request.json;
- ncd/sklearn-deployment.yaml: a no-code MLflow scikit-learn model, scored with
  mlflow/sample-request-sklearn.json;
- triton/single-model and custom-container/tfserving/half-plus-two: refused, naming why.

The samples' model files are binary: each is made here in the same format and under the same
name (sklearn_regression_model.pkl by joblib; an MLflow sklearn folder with the sample's
conda.yaml), by the deployment's own environment, so the pins the sample makes (scikit-learn
1.2.2 with numpy 1.23.5, 1.7.0 with numpy 2.3.1) read what they wrote. The scoring script
(onlinescoring/score.py) is ours, to the samples' contract: it loads
``$AZUREML_MODEL_DIR/model/sklearn_regression_model.pkl`` with joblib and answers
``model.predict(data).tolist()`` for ``{"data": [[...], ...]}``.
Real Router, uv and azmlinfsrv; the probes are Azure's defaults, as the samples leave them.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy.errors import ValidationError
from deploy.local.environments.mlflow_model import model_environment
from deploy.local.environments.prepare import prepare_environment
from deploy.local.platform import Platform
from deploy.specs import load_deployment_spec, load_endpoint_spec
from deploy.types import EndpointSpec, EnvironmentSpec
from tests.deploy.local.platform_kit import running_platform, score

pytestmark = pytest.mark.slow(budget=300)  # about 30 s each with a warm uv cache

SAMPLES = Path(__file__).parent / "azure_samples"

#: onlinescoring/score.py of model-1 and model-2, to the samples' contract (see above).
SCORE = """
import json
import os

import joblib
import numpy

model = None


def init():
    global model
    folder = os.environ["AZUREML_MODEL_DIR"]
    model = joblib.load(os.path.join(folder, "model", "sklearn_regression_model.pkl"))


def run(raw_data):
    rows = numpy.array(json.loads(raw_data)["data"])
    return model.predict(rows).tolist()
"""

#: Run by the deployment's environment: a regression on ten features, pickled with joblib;
#: prints its predictions for the sample request.
TRAIN_JOBLIB = """
import json
import sys

import joblib
import numpy
from sklearn.linear_model import Ridge

rng = numpy.random.default_rng(7)
x = rng.uniform(0, 10, size=(200, 10))
y = x @ numpy.arange(1.0, 11.0) + float(sys.argv[3])
model = Ridge(alpha=1e-6).fit(x, y)
joblib.dump(model, sys.argv[1])
rows = numpy.array(json.load(open(sys.argv[2]))["data"])
print(json.dumps(model.predict(rows).tolist()))
"""

#: Run by the model's environment (mlflow-skinny, scikit-learn 1.7.0): the diabetes columns'
#: regression saved by MLflow with its signature; prints its predictions for the request.
TRAIN_MLFLOW = """
import json
import sys

import mlflow.sklearn
import numpy
import pandas
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression

columns = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
rng = numpy.random.default_rng(3)
x = pandas.DataFrame(rng.uniform(0, 10, size=(100, 10)), columns=columns)
model = LinearRegression().fit(x, x.to_numpy() @ numpy.arange(10.0, 0.0, -1.0))
mlflow.sklearn.save_model(
    model,
    sys.argv[1],
    serialization_format="cloudpickle",
    signature=infer_signature(x, model.predict(x)),
    pip_requirements=["mlflow", "scikit-learn"],
)
request = json.load(open(sys.argv[2]))["input_data"]
rows = pandas.DataFrame(request["data"], columns=request["columns"])
print(json.dumps(model.predict(rows).tolist()))
"""


async def _ignore(line: str) -> None:
    del line


async def _environment_python(env: EnvironmentSpec | None, home: Path) -> str:
    """The deployment's environment, built as the platform builds it (the create then finds
    it in its hash folder)."""
    prepared = await prepare_environment(env, home=home, base_python=sys.executable, log=_ignore)
    return prepared.python


async def _run(python: str, source: str, *args: str) -> Any:
    """Run ``source`` with ``python``; its last stdout line as JSON."""
    process = await asyncio.create_subprocess_exec(
        python,
        "-c",
        source,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode(errors="replace")[-3000:]
    return json.loads(out.decode().strip().splitlines()[-1])


def _samples(tmp_path: Path) -> Path:
    """The samples' files under cli/endpoints/online/ of a fresh copy."""
    online = tmp_path / "cli" / "endpoints" / "online"
    shutil.copytree(SAMPLES, online, ignore=shutil.ignore_patterns("README.md"))
    return online


def _close(answer: Any, expected: list[float]) -> bool:
    return (
        isinstance(answer, list)
        and len(answer) == len(expected)
        and all(abs(a - e) < 1e-6 * max(1.0, abs(e)) for a, e in zip(answer, expected, strict=True))
    )


def _request(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


async def _check_score(
    platform: Platform, endpoint: str, request: Path, expected: list[float], deployment: str
) -> None:
    payload = _request(request)
    status, body, answered = await score(platform, endpoint, payload, deployment=deployment)
    if status != 200 or not _close(body, expected):
        logs = await platform.get_logs(endpoint, deployment, lines=80)
        pytest.fail(f"{deployment}: {status} {body} (expected {expected})\n{logs}")
    assert answered == deployment


async def test_managed_sample_blue_and_green_deploy_and_score(tmp_path: Path) -> None:
    online = _samples(tmp_path)
    home = tmp_path / "home"
    request = online / "model-2" / "sample-request.json"
    folder = online / "managed" / "sample"
    endpoint = load_endpoint_spec(folder / "endpoint.yml")
    expected: dict[str, list[float]] = {}
    for name, model, offset in (("blue", "model-1", "0"), ("green", "model-2", "100")):
        (online / model / "model").mkdir()
        (online / model / "onlinescoring").mkdir()
        (online / model / "onlinescoring" / "score.py").write_text(SCORE)
        spec = load_deployment_spec(folder / f"{name}-deployment.yml")
        python = await _environment_python(spec.environment, home)
        pickle = online / model / "model" / "sklearn_regression_model.pkl"
        expected[name] = await _run(python, TRAIN_JOBLIB, str(pickle), str(request), offset)
    async with running_platform(home) as platform:
        await platform.create_or_update_endpoint(endpoint)
        for name in ("blue", "green"):
            spec = load_deployment_spec(folder / f"{name}-deployment.yml")
            await platform.create_or_update_deployment(spec)
        await platform.set_traffic(endpoint.name, {"blue": 100})
        for name in ("blue", "green"):
            await _check_score(platform, endpoint.name, request, expected[name], name)
        storage = await platform.get_logs(
            endpoint.name, "blue", lines=400, container="storage-initializer"
        )
        assert "minimal-ubuntu22.04-py39-cpu-inference" in storage


async def test_ncd_sklearn_mlflow_model_deploys_without_code_and_scores(tmp_path: Path) -> None:
    online = _samples(tmp_path)
    home = tmp_path / "home"
    model = online / "ncd" / "sklearn-diabetes" / "model"
    request = online / "mlflow" / "sample-request-sklearn.json"
    python = await _environment_python(model_environment(model), home)
    saved = tmp_path / "saved"
    expected = await _run(python, TRAIN_MLFLOW, str(saved), str(request))
    for file in saved.iterdir():  # the sample's own conda.yaml stays
        if not (model / file.name).exists():
            shutil.move(file, model / file.name)
    endpoint = load_endpoint_spec(online / "mlflow" / "create-endpoint.yaml")
    spec = load_deployment_spec(online / "ncd" / "sklearn-deployment.yaml")
    async with running_platform(home) as platform:
        await platform.create_or_update_endpoint(endpoint)
        await platform.create_or_update_deployment(spec)
        await platform.set_traffic(endpoint.name, {spec.name: 100})
        await _check_score(platform, endpoint.name, request, expected, spec.name)


async def test_triton_and_custom_container_samples_are_refused_naming_why(
    tmp_path: Path,
) -> None:
    online = _samples(tmp_path)
    triton = online / "triton" / "single-model"
    (triton / "models" / "densenet_onnx" / "1").mkdir(parents=True)
    (triton / "models" / "densenet_onnx" / "1" / "model.onnx").write_bytes(b"onnx")
    tfserving = online / "custom-container" / "tfserving" / "half-plus-two"
    (tfserving / "half_plus_two" / "00000123").mkdir(parents=True)
    (tfserving / "half_plus_two" / "00000123" / "saved_model.pb").write_bytes(b"pb")
    # The sample's script fills in {{MODEL_VERSION}} (sed) before `az ml online-deployment create`.
    template = tfserving / "tfserving-deployment.yml"
    template.write_text(template.read_text().replace("{{MODEL_VERSION}}", "1"))
    async with running_platform(tmp_path / "home") as platform:
        endpoint = load_endpoint_spec(triton / "create-managed-endpoint.yaml")
        await platform.create_or_update_endpoint(endpoint)
        with pytest.raises(ValidationError) as refused:
            await platform.create_or_update_deployment(
                load_deployment_spec(triton / "create-managed-deployment.yaml")
            )
        for reason in ("triton_model", "no Docker", "no Triton", "no GPU", "Azure ML"):
            assert reason in refused.value.message, (reason, refused.value.message)
        # Its script creates the endpoint by name (`az ml online-endpoint create -n ...`).
        await platform.create_or_update_endpoint(EndpointSpec(name="tfserving-endpoint"))
        with pytest.raises(ValidationError) as refused:
            await platform.create_or_update_deployment(load_deployment_spec(template))
        text = refused.value.message
        for reason in ("custom container", "docker.io/tensorflow/serving:latest", "no Docker"):
            assert reason in text, (reason, text)
        assert await platform.list_deployments("tfserving-endpoint") == []
        assert await platform.list_deployments(endpoint.name) == []
