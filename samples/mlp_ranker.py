"""A bigger sample model, for measuring what batching and the server cost where the model dominates.

An MLP made by code: ``features`` (float32 ``[N, 128]``) -> three hidden layers of 1024 units
(MatMul + Add + Relu) -> ``probabilities`` (float32 ``[N, 2]``, a Softmax). About 2.2 M
multiply-adds a row and 8.9 MB of weights, so one row is a matrix-vector product that reads
every weight, and a batch of rows shares those reads: on one core of the development machine
a row alone takes ~135 µs, a row in a batch of 8 or more ~50 µs (the product recommender's
run takes ~10 µs). A model whose run dominates the request: where batching should pay.

The weights are fixed (a seeded generator), so the file is the same bytes on every machine.
It is served by the same ``scoring/score.py`` as the product recommender (any ONNX model with
one input): ``{"data": [[x1, ..., x128]]}``.

    python -m samples.mlp_ranker OUTDIR      # writes OUTDIR/model.onnx
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

INPUT_NAME = "features"
OUTPUT_NAME = "probabilities"
FEATURES = 128
HIDDEN = (1024, 1024, 1024)
CLASSES = 2
MODEL_FILE = "model.onnx"
OPSET = 13
IR_VERSION = 8
_SEED = 20261206


def layers() -> list[tuple[NDArray[np.float32], NDArray[np.float32]]]:
    """The fixed (W, b) of every layer, input to output (He-scaled, seeded)."""
    rng = np.random.default_rng(_SEED)
    sizes = (FEATURES, *HIDDEN, CLASSES)
    found = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        w = (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        b = (rng.standard_normal(fan_out) * 0.01).astype(np.float32)
        found.append((w, b))
    return found


def reference_predict(rows: NDArray[np.float32]) -> NDArray[np.float32]:
    """What the model answers, computed with numpy (for checking a served model)."""
    x = rows.astype(np.float32)
    weights = layers()
    for w, b in weights[:-1]:
        x = np.maximum(x @ w + b, 0.0)
    w, b = weights[-1]
    logits = x @ w + b
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities: NDArray[np.float32] = (shifted / shifted.sum(axis=1, keepdims=True)).astype(
        np.float32
    )
    return probabilities


def example_rows(count: int) -> NDArray[np.float32]:
    """``count`` rows of input (fixed values), for requests and checks."""
    rng = np.random.default_rng(_SEED + 1)
    rows: NDArray[np.float32] = rng.standard_normal((count, FEATURES)).astype(np.float32)
    return rows


def build_model() -> onnx.ModelProto:
    """Build the MLP; checked with onnx.checker."""
    nodes = []
    initializers = []
    current = INPUT_NAME
    weights = layers()
    for index, (w, b) in enumerate(weights):
        last = index == len(weights) - 1
        w_name, b_name = f"W{index}", f"b{index}"
        initializers += [numpy_helper.from_array(w, w_name), numpy_helper.from_array(b, b_name)]
        product, biased = f"h{index}_mm", f"h{index}_add"
        nodes.append(helper.make_node("MatMul", [current, w_name], [product]))
        nodes.append(helper.make_node("Add", [product, b_name], [biased]))
        if last:
            nodes.append(helper.make_node("Softmax", [biased], [OUTPUT_NAME], axis=-1))
        else:
            current = f"h{index}"
            nodes.append(helper.make_node("Relu", [biased], [current]))
    graph = helper.make_graph(
        nodes=nodes,
        name="mlp_ranker",
        inputs=[helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", FEATURES])],
        outputs=[helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", CLASSES])],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="flightdeck-samples",
        producer_version="1",
        model_version=1,
        doc_string="MLP ranker: 128 features -> 3 x 1024 (ReLU) -> 2 class probabilities.",
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"flightdeck.sample": "mlp-ranker", "version": "1"})
    onnx.checker.check_model(model, full_check=True)
    return model


def write_model(outdir: Path) -> Path:
    """Write ``outdir/model.onnx`` (made if missing) and return its path."""
    path = outdir / MODEL_FILE
    outdir.mkdir(parents=True, exist_ok=True)
    path.write_bytes(build_model().SerializeToString(deterministic=True))
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: write the MLP to OUTDIR/model.onnx."""
    parser = argparse.ArgumentParser(
        prog="python -m samples.mlp_ranker", description="Write the sample MLP ranker ONNX model."
    )
    parser.add_argument("outdir", type=Path, help="folder to write model.onnx into")
    args = parser.parse_args(argv)
    print(write_model(args.outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
