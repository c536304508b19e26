"""examples/product-recommender: the committed models are the builder's, and the YAML is Azure's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from azure.ai.ml import load_online_deployment, load_online_endpoint
from azure.ai.ml.entities import Model

from samples import product_recommender
from tests.scoring.helpers import EXAMPLES_DIR, SCORING_DIR

COLORS = {"blue": "v1", "green": "v2"}


@pytest.mark.parametrize("version", product_recommender.VERSIONS)
def test_committed_model_is_what_the_builder_makes(version: str) -> None:
    committed = EXAMPLES_DIR / f"model-{version}" / "model.onnx"
    assert committed.read_bytes() == product_recommender.model_bytes(version), (
        f"{committed} is stale: run python -m samples.product_recommender {EXAMPLES_DIR}"
    )


def test_writer_lays_out_one_folder_per_version(tmp_path: Path) -> None:
    written = product_recommender.write_models(tmp_path)
    assert written == {v: tmp_path / f"model-{v}" / "model.onnx" for v in ("v1", "v2")}
    assert product_recommender.main([str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "model-v2" / "model.onnx").read_bytes() == written["v2"].read_bytes()


def test_versions_answer_differently() -> None:
    rows = np.array([[1, 2, 3, 4, 5], [0, 1, 0, 1, 0]], dtype=np.float32)
    answers = {}
    for version in product_recommender.VERSIONS:
        path = EXAMPLES_DIR / f"model-{version}" / "model.onnx"
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (answers[version],) = session.run(None, {"features": rows})
        expected = product_recommender.reference_predict(version, rows)
        assert np.allclose(answers[version], expected, atol=1e-6)
        assert np.allclose(answers[version].sum(axis=1), 1.0, atol=1e-6)
    assert answers["v1"][0].argmax() == 1
    assert answers["v2"][0].argmax() == 0
    assert not np.allclose(answers["v1"], answers["v2"], atol=0.05)


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown version 'v3': choose one of v1, v2"):
        product_recommender.build_model("v3")


def test_endpoint_yaml_loads_with_azure_ai_ml() -> None:
    endpoint = load_online_endpoint(source=EXAMPLES_DIR / "endpoint.yml")
    assert endpoint.name == "product-recommender"
    assert endpoint.auth_mode == "key"
    assert endpoint.tags == {"team": "recommendations", "environment": "production"}


@pytest.mark.parametrize(("color", "version"), COLORS.items())
def test_deployment_yaml_loads_with_azure_ai_ml(color: str, version: str) -> None:
    deployment = load_online_deployment(source=EXAMPLES_DIR / f"{color}-deployment.yml")
    assert (deployment.name, deployment.endpoint_name) == (color, "product-recommender")
    model = deployment.model
    assert isinstance(model, Model) and model.path is not None
    model_folder = Path(model.path)
    assert model_folder == EXAMPLES_DIR / f"model-{version}"
    assert sorted(path.name for path in model_folder.iterdir()) == ["model.onnx"]
    configuration = deployment.code_configuration
    assert configuration is not None
    assert configuration.code is not None and configuration.scoring_script is not None
    code = (EXAMPLES_DIR / configuration.code).resolve()
    assert code == SCORING_DIR
    assert (code / configuration.scoring_script).is_file()
    assert deployment.environment is None
    assert (deployment.instance_type, deployment.instance_count) == ("Standard_DS3_v2", 1)
    settings = deployment.request_settings
    assert settings is not None
    assert settings.request_timeout_ms == 3000
    assert settings.max_concurrent_requests_per_instance == 50
    liveness, readiness = deployment.liveness_probe, deployment.readiness_probe
    assert liveness is not None and readiness is not None
    assert liveness.initial_delay is not None and liveness.initial_delay <= 5
    assert readiness.initial_delay is not None and readiness.initial_delay <= 5
    assert readiness.failure_threshold == 3
