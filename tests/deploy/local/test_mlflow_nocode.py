"""No-code MLflow deployments on the platform, as Azure serves them: a scikit-learn model and
a pyfunc model (models from code) that the tests save with MLflow, deployed without
code_configuration and scored in each request format Azure's MLflow scoring accepts; a wrong
column is the model's 400 naming it (424 from the endpoint, as on Azure); the swagger comes
from the signature. Real Router, uv and azmlinfsrv; the environment is the model's own
(conda.yaml, or requirements.txt), mlflow as mlflow-skinny."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # pandas ships no types
import pytest
from mlflow.models import infer_signature
from sklearn.linear_model import (  # type: ignore[import-untyped]  # scikit-learn ships no types
    LogisticRegression,
)

from deploy.errors import ValidationError
from deploy.local.environments.prepare import ENVS_DIR
from deploy.local.platform import Platform
from deploy.types import EndpointSpec, ModelRef
from tests.deploy.local.platform_kit import deployment_spec, running_platform, score

pytestmark = pytest.mark.slow(budget=300)

COLUMNS = ["sepal", "petal"]
ROWS = [[0.5, 1.0], [9.0, 8.5]]

PYFUNC_CODE = """
import mlflow
from mlflow.pyfunc import PythonModel


class Scaler(PythonModel):
    def predict(self, context, model_input, params=None):
        factor = (params or {}).get("factor", 2.0)
        return (model_input["x"] * factor).tolist()


mlflow.models.set_model(Scaler())
"""


def _sklearn_model(folder: Path) -> Path:
    """A logistic regression on two columns, saved by MLflow with its signature."""
    features = pd.DataFrame(
        {"sepal": [0.5, 1.0, 1.5, 9.0, 8.5, 9.5], "petal": [1, 0.5, 1, 8, 9, 9.5]}
    )
    labels = np.array([0, 0, 0, 1, 1, 1])
    model = LogisticRegression().fit(features, labels)
    path = folder / "sklearn-model"
    signature = infer_signature(features, model.predict(features))
    mlflow.sklearn.save_model(
        model, str(path), signature=signature, serialization_format="cloudpickle"
    )
    return path


def _pyfunc_model(folder: Path) -> Path:
    """A pyfunc model from code, with params; only requirements.txt describes its environment."""
    code = folder / "scaler.py"
    code.write_text(PYFUNC_CODE)
    path = folder / "pyfunc-model"
    signature = infer_signature(pd.DataFrame({"x": [1.0]}), [2.0], params={"factor": 2.0})
    mlflow.pyfunc.save_model(
        str(path),
        python_model=str(code),
        signature=signature,
        pip_requirements=[f"mlflow=={mlflow.__version__}", f"pandas=={pd.__version__}"],
    )
    (path / "conda.yaml").unlink()
    return path


def _no_code(endpoint: str, model: Path, tmp_path: Path) -> Any:
    spec = deployment_spec(
        endpoint, "blue", tmp_path, model=ModelRef(path=str(model), type="mlflow_model")
    )
    return replace(spec, code_path=None, scoring_script=None)


async def _invoke(platform: Platform, endpoint: str, payload: Any) -> tuple[int, Any, Any]:
    """Status, headers (lower-case names) and JSON body of a scoring call."""
    result = await platform.invoke(endpoint, json.dumps(payload).encode())
    headers = {key.lower(): value for key, value in result.headers.items()}
    return result.status, headers, json.loads(result.body)


async def _swagger(platform: Platform, endpoint: str) -> Any:
    described = await platform.get_endpoint(endpoint)
    credentials = await platform.get_credentials(endpoint)
    assert described.swagger_uri is not None
    request = urllib.request.Request(
        described.swagger_uri, headers={"Authorization": f"Bearer {credentials.primary_key}"}
    )

    def fetch() -> Any:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    return await asyncio.to_thread(fetch)


async def test_a_sklearn_mlflow_model_is_served_without_code_in_every_format(
    tmp_path: Path,
) -> None:
    model = _sklearn_model(tmp_path)
    home = tmp_path / "home"
    async with running_platform(home) as platform:
        await platform.create_or_update_endpoint(EndpointSpec(name="ep-mlflow"))
        await platform.create_or_update_deployment(_no_code("ep-mlflow", model, tmp_path))
        await platform.set_traffic("ep-mlflow", {"blue": 100})
        requests: list[Any] = [
            {"input_data": {"columns": COLUMNS, "index": [0, 1], "data": ROWS}},
            {"input_data": {"columns": COLUMNS, "data": ROWS}},
            {"input_data": ROWS},
            {"dataframe_split": {"columns": COLUMNS, "data": ROWS}},
            {"dataframe_records": [dict(zip(COLUMNS, row, strict=True)) for row in ROWS]},
            {"instances": [dict(zip(COLUMNS, row, strict=True)) for row in ROWS]},
            {"inputs": {"sepal": [0.5, 9.0], "petal": [1.0, 8.5]}},
        ]
        for request in requests:
            status, body, _ = await score(platform, "ep-mlflow", request)
            if status != 200:
                logs = await platform.get_logs("ep-mlflow", "blue", lines=60)
                pytest.fail(f"{request}: {status} {body}\n{logs}")
            assert body == [0, 1], request
        # The model answers 400; the endpoint, as Azure's does, answers 424 and says so.
        wrong = {"input_data": {"columns": ["sepal", "petals"], "index": [0], "data": [[1, 2]]}}
        status, headers, body = await _invoke(platform, "ep-mlflow", wrong)
        assert (status, headers.get("ms-azureml-model-error-statuscode")) == (424, "400")
        assert "missing column(s) 'petal'" in body["message"]
        assert "not in the model's signature: 'petals'" in body["message"]
        status, headers, body = await _invoke(platform, "ep-mlflow", {"rows": ROWS})
        assert (status, headers.get("ms-azureml-model-error-statuscode")) == (424, "400")
        assert "expected exactly one of input_data, dataframe_split" in body["message"]
        swagger = await _swagger(platform, "ep-mlflow")
        described = swagger["definitions"]["ServiceInput"]
        assert described["example"]["input_data"]["columns"] == COLUMNS, described
        storage = await platform.get_logs(
            "ep-mlflow", "blue", lines=400, container="storage-initializer"
        )
        assert "No-code MLflow deployment" in storage
        assert "mlflow as mlflow-skinny" in storage
        (env_dir,) = (p for p in (home / ENVS_DIR).iterdir() if not p.name.startswith("."))
        manifest = json.loads((env_dir / "flightdeck-environment.json").read_text())
        assert f"mlflow-skinny=={mlflow.__version__}" in manifest["requirements"]


async def test_a_pyfunc_model_with_requirements_txt_takes_params(tmp_path: Path) -> None:
    model = _pyfunc_model(tmp_path)
    async with running_platform(tmp_path / "home") as platform:
        await platform.create_or_update_endpoint(EndpointSpec(name="ep-pyfunc"))
        await platform.create_or_update_deployment(_no_code("ep-pyfunc", model, tmp_path))
        await platform.set_traffic("ep-pyfunc", {"blue": 100})
        status, body, _ = await score(
            platform, "ep-pyfunc", {"input_data": {"columns": ["x"], "data": [[1.5], [2.0]]}}
        )
        assert (status, body) == (200, [3.0, 4.0])
        split = {"columns": ["x"], "data": [[1.5]]}
        status, body, _ = await score(
            platform, "ep-pyfunc", {"dataframe_split": split, "params": {"factor": 10.0}}
        )
        assert (status, body) == (200, [15.0])


async def test_an_mlflow_model_without_mlmodel_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "not-mlflow"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(b"")
    async with running_platform(tmp_path / "home") as platform:
        await platform.create_or_update_endpoint(EndpointSpec(name="ep-bad"))
        with pytest.raises(ValidationError, match="type mlflow_model, but there is no MLmodel"):
            await platform.create_or_update_deployment(_no_code("ep-bad", folder, tmp_path))
