"""scoring/score.py under a real azmlinfsrv, served from a copy of scoring/ alone.

Azure uploads only the code folder, so the fixture copies scoring/ to a tmp folder and serves
it from there, with the working directory (AML_APP_ROOT) elsewhere: the sibling imports must
work with nothing of the repo around. The model folder is laid out as Azure lays it out:
``$AZUREML_MODEL_DIR/model-v1/model.onnx``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from samples import product_recommender
from tests.scoring.helpers import (
    azure_model_dir,
    copy_scoring_alone,
    get,
    post,
    post_json,
)
from tests.support.azmlinfsrv import AzmlinfsrvProcess, start_azmlinfsrv

pytestmark = pytest.mark.slow(budget=30)

ROWS = [[1, 2, 3, 4, 5], [0.5, 0, 1.25, 2, 0], [-1, 3, 0, 0, 7]]
FLOAT_EXPECTED = "(the model's input 'features' takes tensor(float))"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, sample_models: Path
) -> Iterator[AzmlinfsrvProcess]:
    tmp = tmp_path_factory.mktemp("served")
    script = copy_scoring_alone(tmp / "code" / "scoring")
    model_dir = azure_model_dir(
        tmp / "azureml-models", {"model-v1/model.onnx": sample_models / "model-v1/model.onnx"}
    )
    workdir = tmp / "workdir"
    workdir.mkdir()
    srv = start_azmlinfsrv(
        entry_script=script, model_dir=model_dir, log_path=tmp / "azmlinfsrv.log", cwd=workdir
    )
    yield srv
    srv.stop()


def score_url(server: AzmlinfsrvProcess) -> str:
    return server.url("/score")


def test_liveness(server: AzmlinfsrvProcess) -> None:
    answer = get(server.url("/"))
    assert (answer.status, answer.body) == (200, b"Healthy")


def test_served_from_the_copy_with_its_signature_logged(server: AzmlinfsrvProcess) -> None:
    log = server.log_text()
    assert f"Found user script at {server.log_path.parent / 'code' / 'scoring' / 'score.py'}" in log
    loaded = next(line for line in log.splitlines() if "Loaded ONNX model" in line)
    assert "azureml-models/model-v1/model.onnx (457 bytes, producer flightdeck-samples" in loaded
    assert "intra_op_threads=1 inter_op_threads=1 execution_mode=sequential spinning=off" in loaded
    assert loaded.endswith(
        "input features: float32 [N, 5] (tensor(float)); "
        "outputs probabilities: tensor(float) [N, 2]"
    )


def test_batch_is_scored(server: AzmlinfsrvProcess) -> None:
    answer = post_json(score_url(server), {"data": ROWS})
    assert answer.status == 200
    assert answer.content_type == "application/json"
    body = answer.json()
    assert set(body) == {"predictions", "latency_ms", "batch_size"}
    assert body["batch_size"] == 3
    expected = product_recommender.reference_predict("v1", np.array(ROWS, dtype=np.float32))
    assert np.allclose(body["predictions"], expected, atol=1e-6)
    assert 0 < body["latency_ms"] < 1000


def test_single_row_is_scored_as_a_batch_of_one(server: AzmlinfsrvProcess) -> None:
    body = post_json(score_url(server), {"data": ROWS[0]}).json()
    assert body["batch_size"] == 1
    expected = product_recommender.reference_predict("v1", np.array([ROWS[0]], dtype=np.float32))
    assert np.allclose(body["predictions"], expected, atol=1e-6)
    assert body["predictions"][0][1] > 0.5  # v1 recommends class 1 for this row


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"data": [1, 2]}, "expected 5 features and got 2"),
        ({"data": [ROWS[0], [1, 2, 3]]}, "expected 5 features and got 3 in data[1]"),
        ({"data": [[1, 2, "3", 4, 5]]}, f'data[0][2] is "3", not a number {FLOAT_EXPECTED}'),
        ({"data": [1, 2, 3, None, 5]}, f"data[3] is null, not a number {FLOAT_EXPECTED}"),
        ({"data": "1,2,3,4,5"}, '"data" must be a list of rows or one row, and got a string: send'),
        ({"data": []}, '"data" is empty: send at least one row'),
        ({"rows": [ROWS[0]]}, 'the request body has no "data" key: send {"data": [[x1, ..., xK]'),
    ],
)
def test_bad_data_gets_400_naming_what_is_wrong(
    server: AzmlinfsrvProcess, payload: object, message: str
) -> None:
    answer = post_json(score_url(server), payload)
    assert answer.status == 400
    assert answer.content_type == "application/json"
    assert answer.json()["message"].startswith(message)


# These never reach run(): the inference server's own parser answers them (input_schema).
@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (
            b"not json",
            "application/json",
            400,
            "POST body could not be decoded as JSON: Expecting value: line 1 column 1 (char 0)",
        ),
        (b"", "application/json", 400, "POST body is empty. Expecting a JSON dictionary."),
        (b"[[1, 2, 3, 4, 5]]", "application/json", 400, "POST body should be a JSON dictionary."),
        (b'{"data": [1, 2, 3, 4, 5]}', None, 415, "Expects Content-Type to be application/json"),
        (b"1,2,3,4,5", "text/csv", 415, "Expects Content-Type to be application/json"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_refused_by_the_server(
    server: AzmlinfsrvProcess, body: bytes, content_type: str | None, status: int, message: str
) -> None:
    answer = post(score_url(server), body, content_type)
    assert (answer.status, answer.json()) == (status, {"message": message})


def test_bad_requests_leave_the_server_serving(server: AzmlinfsrvProcess) -> None:
    assert post_json(score_url(server), {"data": [1]}).status == 400
    assert post(score_url(server), b"{", "application/json").status == 400
    assert post_json(score_url(server), {"data": ROWS}).status == 200
    assert "Traceback" not in server.log_text().split("Users's init has completed")[-1]


def test_swagger_describes_input_and_output(server: AzmlinfsrvProcess) -> None:
    answer = get(server.url("/swagger.json"))
    assert answer.status == 200
    definitions = answer.json()["definitions"]
    service_input = definitions["ServiceInput"]
    assert service_input["properties"]["data"]["type"] == "array"
    assert service_input["properties"]["data"]["items"]["items"] == {
        "type": "number",
        "format": "float",
    }
    assert service_input["example"] == {"data": [[1.0, 2.0, 3.0, 4.0, 5.0]]}
    service_output = definitions["ServiceOutput"]
    assert set(service_output["properties"]) == {"predictions", "latency_ms", "batch_size"}
    assert service_output["properties"]["batch_size"]["type"] == "integer"
    version3 = get(server.url("/swagger.json?version=3")).json()
    assert set(version3["components"]["schemas"]) >= {"ServiceInput", "ServiceOutput"}
