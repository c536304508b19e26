"""End to end against the real inference server: swagger sample input, then a short load test."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from loadtest import LoadTestPlan, run_load_test, sample_input_from_swagger
from tests.support.azmlinfsrv import start_azmlinfsrv

pytestmark = pytest.mark.slow(budget=30)

SCORE_PY = """
import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    pass


@input_schema("data", NumpyParameterType(np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])))
@output_schema(NumpyParameterType(np.array([[0.1, 0.9]])))
def run(data):
    return {"predictions": [[0.1, 0.9]] * len(data)}
"""


@pytest.fixture(scope="module")
def scoring_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("azureml_inference_server_http") is None:
        pytest.fail(
            "azmlinfsrv is not installed: azureml-inference-server-http is a dependency "
            "(pip install -e '.[dev]', as make install does)"
        )
    code = tmp_path_factory.mktemp("code")
    (code / "score.py").write_text(SCORE_PY)
    # Ready once GET / answers; on a new port if another process took the first one.
    server = start_azmlinfsrv(
        entry_script=code / "score.py", model_dir=code, log_path=code / "azmlinfsrv.log", cwd=code
    )
    try:
        yield server.base_url
    finally:
        server.stop()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


async def test_swagger_sample_drives_a_load_test(scoring_uri: str) -> None:
    swagger = await asyncio.to_thread(get_json, f"{scoring_uri}/swagger.json")
    body = sample_input_from_swagger(swagger)
    assert json.loads(body) == {"data": [[1.0, 2.0, 3.0, 4.0, 5.0]]}
    plan = LoadTestPlan.closed(url=f"{scoring_uri}/score", requests=50, concurrency=2, body=body)
    result = await run_load_test(plan)
    assert result.ok == 50, (result.status_counts, result.error_counts)
    assert result.latency is not None and result.latency.p50 > 0
