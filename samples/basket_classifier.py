"""A second sample model with several named outputs and an integer input.

``counts`` (int64 ``[N, 3]``: items of three kinds in a basket) ->
``label`` (int64 ``[N]``: the likelier class) and ``probabilities`` (float32 ``[N, 2]``).
It exercises what the product recommender does not: a model whose input is not float32
and whose answer has more than one output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

INPUT_NAME = "counts"
OUTPUT_NAMES = ("label", "probabilities")
FEATURES = 3
OPSET = 13
IR_VERSION = 8

_W = np.array([[0.4, -0.2], [-0.3, 0.5], [0.1, 0.1]], dtype=np.float32)
_B = np.array([0.0, -0.25], dtype=np.float32)


def reference_predict(rows: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """What the model answers, computed with numpy: (label, probabilities)."""
    logits = rows.astype(np.float32) @ _W + _B
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
    return probabilities.argmax(axis=1).astype(np.int64), probabilities


def build_model() -> onnx.ModelProto:
    """Build the basket classifier; checked with onnx.checker."""
    label, probabilities = OUTPUT_NAMES
    graph = helper.make_graph(
        nodes=[
            helper.make_node("Cast", [INPUT_NAME], ["x"], to=TensorProto.FLOAT),
            helper.make_node("MatMul", ["x", "W"], ["logits_raw"]),
            helper.make_node("Add", ["logits_raw", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], [probabilities], axis=-1),
            helper.make_node("ArgMax", [probabilities], [label], axis=1, keepdims=0),
        ],
        name="basket_classifier",
        inputs=[helper.make_tensor_value_info(INPUT_NAME, TensorProto.INT64, ["N", FEATURES])],
        outputs=[
            helper.make_tensor_value_info(label, TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info(probabilities, TensorProto.FLOAT, ["N", 2]),
        ],
        initializer=[numpy_helper.from_array(_W, "W"), numpy_helper.from_array(_B, "b")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="flightdeck-samples"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def write_model(path: Path) -> Path:
    """Write the model to ``path`` (parents created); return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(build_model().SerializeToString(deterministic=True))
    return path
