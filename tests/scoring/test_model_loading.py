"""Settings from the environment, finding the .onnx file and opening it (in process).

The environment is passed as a dict, never patched into os.environ.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import scoring_messages
from onnx_session import find_model_file, load_model
from scoring_errors import ModelLoadError
from session_settings import SessionSettings

from samples import basket_classifier, product_recommender
from tests.scoring.helpers import azure_model_dir


def load_error(environ: dict[str, str]) -> str:
    with pytest.raises(ModelLoadError) as caught:
        load_model(environ)
    return str(caught.value)


def test_defaults_are_one_thread_sequential_no_spinning() -> None:
    settings = SessionSettings.from_environ({})
    assert settings.describe() == (
        "optimization=all intra_op_threads=1 inter_op_threads=1 execution_mode=sequential "
        "spinning=off"
    )
    options = settings.session_options()
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert options.intra_op_num_threads == 1
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"


def test_settings_come_from_the_environment() -> None:
    settings = SessionSettings.from_environ(
        {
            "ORT_GRAPH_OPTIMIZATION_LEVEL": "ORT_ENABLE_BASIC",
            "ORT_INTRA_OP_NUM_THREADS": "2",
            "ORT_INTER_OP_NUM_THREADS": "0",
            "ORT_EXECUTION_MODE": "Parallel",
            "ORT_ALLOW_SPINNING": "yes",
        }
    )
    options = settings.session_options()
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (2, 0)
    assert options.execution_mode == ort.ExecutionMode.ORT_PARALLEL
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert SessionSettings.from_environ(
        {"ORT_GRAPH_OPTIMIZATION_LEVEL": "disable"}
    ).optimization == ("disable")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"ORT_GRAPH_OPTIMIZATION_LEVEL": "max"},
            "ORT_GRAPH_OPTIMIZATION_LEVEL='max' is not one of: "
            "disable, basic, extended, layout, all",
        ),
        ({"ORT_INTRA_OP_NUM_THREADS": "-1"}, "ORT_INTRA_OP_NUM_THREADS='-1' is not a whole number"),
        (
            {"ORT_INTER_OP_NUM_THREADS": "two"},
            "ORT_INTER_OP_NUM_THREADS='two' is not a whole number",
        ),
        ({"ORT_EXECUTION_MODE": "fast"}, "ORT_EXECUTION_MODE='fast' is not one of: sequential, "),
        ({"ORT_ALLOW_SPINNING": "maybe"}, "ORT_ALLOW_SPINNING='maybe' is not one of: 1, 0, true"),
    ],
)
def test_bad_settings_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ModelLoadError) as caught:
        SessionSettings.from_environ(environ)
    assert str(caught.value).startswith(message)


def test_the_single_onnx_file_anywhere_below_is_found(sample_models: Path, tmp_path: Path) -> None:
    root = azure_model_dir(
        tmp_path, {"model-v1/nested/m.onnx": sample_models / "model-v1/model.onnx"}
    )
    (root / "model-v1" / "README.txt").write_text("not a model")
    assert find_model_file(str(root), None) == root / "model-v1" / "nested" / "m.onnx"


def test_several_onnx_files_need_the_variable(sample_models: Path, tmp_path: Path) -> None:
    root = azure_model_dir(
        tmp_path,
        {
            "model-v1/model.onnx": sample_models / "model-v1/model.onnx",
            "model-v2/model.onnx": sample_models / "model-v2/model.onnx",
        },
    )
    message = load_error({"AZUREML_MODEL_DIR": str(root)})
    assert message == (
        f"2 .onnx files under AZUREML_MODEL_DIR={root} (model-v1/model.onnx, model-v2/model.onnx): "
        "set FLIGHTDECK_ONNX_MODEL to the one to serve, "
        "e.g. FLIGHTDECK_ONNX_MODEL=model-v1/model.onnx"
    )
    chosen = find_model_file(str(root), "model-v2/model.onnx")
    assert chosen == root / "model-v2" / "model.onnx"
    assert find_model_file(str(root), str(chosen)) == chosen  # absolute path
    ambiguous = f"FLIGHTDECK_ONNX_MODEL=model.onnx matches 2 files under AZUREML_MODEL_DIR={root}"
    with pytest.raises(ModelLoadError, match=ambiguous):
        find_model_file(str(root), "model.onnx")


def test_a_bare_file_name_is_found_below(sample_models: Path, tmp_path: Path) -> None:
    root = azure_model_dir(
        tmp_path, {"model-v2/recommender.onnx": sample_models / "model-v2/model.onnx"}
    )
    assert find_model_file(str(root), "recommender.onnx") == root / "model-v2" / "recommender.onnx"


def test_missing_things_are_named(tmp_path: Path) -> None:
    assert load_error({}) == (
        "AZUREML_MODEL_DIR is not set: the inference server sets it to the folder holding the "
        "deployment's model"
    )
    assert load_error({"AZUREML_MODEL_DIR": str(tmp_path / "nope")}) == (
        f"AZUREML_MODEL_DIR={tmp_path / 'nope'} is not a folder"
    )
    assert load_error({"AZUREML_MODEL_DIR": str(tmp_path)}) == (
        f"no .onnx file under AZUREML_MODEL_DIR={tmp_path}: the deployment's model must contain "
        "one (or set FLIGHTDECK_ONNX_MODEL to its path)"
    )
    assert load_error({"AZUREML_MODEL_DIR": str(tmp_path), "FLIGHTDECK_ONNX_MODEL": "x.onnx"}) == (
        f"FLIGHTDECK_ONNX_MODEL=x.onnx: no such file under AZUREML_MODEL_DIR={tmp_path}"
    )


def test_a_file_that_is_not_a_model_is_reported(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"not a protobuf")
    message = load_error({"AZUREML_MODEL_DIR": str(tmp_path)})
    assert message.startswith(f"cannot load the ONNX model {tmp_path / 'model.onnx'}: ")
    assert "INVALID_PROTOBUF" in message


def test_loaded_model_describes_its_signature(sample_models: Path) -> None:
    model = load_model({"AZUREML_MODEL_DIR": str(sample_models / "model-v1")})
    line = model.describe()
    assert line.startswith(f"Loaded ONNX model {sample_models / 'model-v1' / 'model.onnx'} (")
    assert "producer flightdeck-samples, version 1" in line
    assert "input features: float32 [N, 5] (tensor(float)); outputs probabilities: " in line
    assert line.endswith("probabilities: tensor(float) [N, 2]")
    rows = np.array([[1, 2, 3, 4, 5]], dtype=np.float32)
    expected = product_recommender.reference_predict("v1", rows)
    assert np.allclose(model.predict(rows), expected, atol=1e-6)


def test_several_outputs_are_returned_by_name(tmp_path: Path) -> None:
    basket_classifier.write_model(tmp_path / "basket" / "model.onnx")
    model = load_model({"AZUREML_MODEL_DIR": str(tmp_path)})
    rows = np.array([[1, 2, 3], [5, 0, 1]], dtype=np.int64)
    answer = model.predict(rows)
    labels, probabilities = basket_classifier.reference_predict(rows)
    assert set(answer) == {"label", "probabilities"}
    assert answer["label"] == labels.tolist()
    assert np.allclose(answer["probabilities"], probabilities, atol=1e-6)


def test_every_message_template_formats() -> None:
    formatter = string.Formatter()
    templates = {
        name: value
        for name, value in vars(scoring_messages).items()
        if name.isupper() and isinstance(value, str)
    }
    assert len(templates) > 20
    for name, template in templates.items():
        fields = {field for _, field, _, _ in formatter.parse(template) if field}
        text = template.format(**{field: "X" for field in fields})
        assert "{" not in text.replace('{"data"', ""), name
