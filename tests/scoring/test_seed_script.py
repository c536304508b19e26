"""The seed's own score.py, cut from the blog text at test time, serves the sample model as is.

Users bring scripts like it, so the sample model must work with it unmodified. The seed's
script loads ``$AZUREML_MODEL_DIR/model.onnx`` (at the root of the model folder). Where
../shared/seed is absent, these tests are skipped and say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from samples import product_recommender
from tests.scoring.helpers import azure_model_dir, post_json
from tests.support.azmlinfsrv import AzmlinfsrvProcess, start_azmlinfsrv
from tests.support.seed import seed_score_py

pytestmark = pytest.mark.slow(budget=30)


@pytest.fixture(scope="module")
def seed_server(
    tmp_path_factory: pytest.TempPathFactory, sample_models: Path
) -> Iterator[AzmlinfsrvProcess]:
    script_text = seed_score_py()  # skips, saying why, if the seed is absent
    tmp = tmp_path_factory.mktemp("seed")
    script = tmp / "src" / "score.py"
    script.parent.mkdir()
    script.write_text(script_text, encoding="utf-8")
    model_dir = azure_model_dir(
        tmp / "azureml-models", {"model.onnx": sample_models / "model-v1/model.onnx"}
    )
    srv = start_azmlinfsrv(
        entry_script=script, model_dir=model_dir, log_path=tmp / "azmlinfsrv.log"
    )
    yield srv
    srv.stop()


def test_cut_script_is_the_seeds_whole_score_py() -> None:
    script = seed_score_py()
    compile(script, "score.py", "exec")
    assert script.startswith("# score.py\nimport os\n")
    assert "def init():" in script
    assert "def run(data: np.ndarray)" in script
    assert script.rstrip().endswith("raise")


def test_seed_script_serves_the_sample_model(seed_server: AzmlinfsrvProcess) -> None:
    rows = [[1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 1.0, 0.0, 1.0, 0.0]]
    answer = post_json(seed_server.url("/score"), {"data": rows})
    assert answer.status == 200
    body = answer.json()
    assert body["batch_size"] == 2
    expected = product_recommender.reference_predict("v1", np.array(rows, dtype=np.float32))
    assert np.allclose(body["predictions"], expected, atol=1e-6)


def test_seed_script_fails_a_single_row_where_ours_does_not(seed_server: AzmlinfsrvProcess) -> None:
    # The seed's NumpyParameterType enforces two dimensions before run() can reshape: a 500.
    answer = post_json(seed_server.url("/score"), {"data": [1.0, 2.0, 3.0, 4.0, 5.0]})
    assert answer.status == 500
    assert "an array with 2 dimensions is expected" in seed_server.log_text()
