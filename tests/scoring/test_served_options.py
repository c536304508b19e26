"""score.py under azmlinfsrv with settings from the environment: a model with two outputs and an
integer input, chosen among several .onnx files by FLIGHTDECK_ONNX_MODEL; and init failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from samples import basket_classifier
from tests.scoring.helpers import SCORING_DIR, azure_model_dir, post_json
from tests.support.azmlinfsrv import (
    AzmlinfsrvProcess,
    free_port,
    launch_azmlinfsrv,
    start_azmlinfsrv,
    wait_until_exited,
)

pytestmark = pytest.mark.slow(budget=30)

SETTINGS = {
    "FLIGHTDECK_ONNX_MODEL": "basket/classifier.onnx",
    "ORT_GRAPH_OPTIMIZATION_LEVEL": "basic",
    "ORT_INTRA_OP_NUM_THREADS": "2",
    "ORT_INTER_OP_NUM_THREADS": "2",
    "ORT_EXECUTION_MODE": "parallel",
    "ORT_ALLOW_SPINNING": "1",
}


@pytest.fixture(scope="module")
def basket_server(
    tmp_path_factory: pytest.TempPathFactory, sample_models: Path
) -> Iterator[AzmlinfsrvProcess]:
    tmp = tmp_path_factory.mktemp("basket")
    basket = basket_classifier.write_model(tmp / "built" / "classifier.onnx")
    model_dir = azure_model_dir(
        tmp / "azureml-models",
        {
            "basket/classifier.onnx": basket,
            "model-v1/model.onnx": sample_models / "model-v1/model.onnx",
        },
    )
    srv = start_azmlinfsrv(
        entry_script=SCORING_DIR / "score.py",
        model_dir=model_dir,
        log_path=tmp / "azmlinfsrv.log",
        env=SETTINGS,
    )
    yield srv
    srv.stop()


def test_settings_are_applied_and_logged(basket_server: AzmlinfsrvProcess) -> None:
    loaded = next(line for line in basket_server.log_text().splitlines() if "Loaded ONNX" in line)
    assert "azureml-models/basket/classifier.onnx" in loaded
    assert (
        "with optimization=basic intra_op_threads=2 inter_op_threads=2 execution_mode=parallel "
        "spinning=on;" in loaded
    )
    assert loaded.endswith(
        "input counts: int64 [N, 3] (tensor(int64)); "
        "outputs label: tensor(int64) [N], probabilities: tensor(float) [N, 2]"
    )


def test_several_outputs_come_back_by_name(basket_server: AzmlinfsrvProcess) -> None:
    rows = [[1, 2, 3], [5, 0, 1]]
    answer = post_json(basket_server.url("/score"), {"data": rows})
    assert answer.status == 200
    body = answer.json()
    assert body["batch_size"] == 2
    labels, probabilities = basket_classifier.reference_predict(np.array(rows, dtype=np.int64))
    assert body["predictions"]["label"] == labels.tolist() == [1, 0]
    assert np.allclose(body["predictions"]["probabilities"], probabilities, atol=1e-6)
    single = post_json(basket_server.url("/score"), {"data": rows[1]}).json()
    assert single["predictions"]["label"] == [0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2, 3, 4, 5], "expected 3 features and got 5"),
        (
            [[1, 2.5, 3]],
            "data[0][1] is 2.5, not a whole number "
            "(the model's input 'counts' takes tensor(int64))",
        ),
    ],
)
def test_width_and_type_come_from_the_model(
    basket_server: AzmlinfsrvProcess, data: object, message: str
) -> None:
    answer = post_json(basket_server.url("/score"), {"data": data})
    assert (answer.status, answer.json()) == (400, {"message": message})


def test_init_failure_stops_the_server_with_a_clear_message(
    tmp_path: Path, sample_models: Path
) -> None:
    model_dir = azure_model_dir(
        tmp_path / "azureml-models",
        {
            "model-v1/model.onnx": sample_models / "model-v1/model.onnx",
            "model-v2/model.onnx": sample_models / "model-v2/model.onnx",
        },
    )
    srv = launch_azmlinfsrv(
        entry_script=SCORING_DIR / "score.py",
        model_dir=model_dir,
        log_path=tmp_path / "azmlinfsrv.log",
        port=free_port(),
    )
    assert wait_until_exited(srv, timeout=60) != 0
    log = srv.log_text()
    assert "User's init function failed" in log
    assert (
        f"scoring_errors.ModelLoadError: 2 .onnx files under AZUREML_MODEL_DIR={model_dir} "
        "(model-v1/model.onnx, model-v2/model.onnx): set FLIGHTDECK_ONNX_MODEL to the one to serve"
    ) in log
