"""The sample product-recommender model, built by code with onnx.helper.

Five features in (``features``: float32 ``[N, 5]``), two class probabilities out
(``probabilities``: float32 ``[N, 2]``): ``softmax(features @ W + b)`` with fixed weights.
Version v1 and v2 have different weights, so they answer differently for the same row:
that is what makes a blue/green traffic shift visible.

Usage::

    python -m samples.product_recommender OUTDIR   # writes OUTDIR/model-v1/model.onnx, model-v2/...

The bytes are deterministic: the committed ``examples/product-recommender/model-v*/model.onnx``
files are exactly what :func:`write_models` writes.

The example's specs ship inside this package (``samples/product-recommender/``, package data:
the YAML only, no model files); :func:`write_example` lays out a deployable copy anywhere,
with the models made by code, which is how ``flightdeck demo`` runs from an installed wheel::

    folder = write_example(home / "demo" / "product-recommender")
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
import yaml
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

INPUT_NAME = "features"
OUTPUT_NAME = "probabilities"
FEATURES = 5
CLASSES = 2
VERSIONS = ("v1", "v2")
OPSET = 13
IR_VERSION = 8
MODEL_FILE = "model.onnx"
#: The example's packaged specs: endpoint.yml, blue-deployment.yml (v1), green-deployment.yml (v2).
EXAMPLE_SPECS = Path(__file__).resolve().parent / "product-recommender"
EXAMPLE_FILES = ("endpoint.yml", "blue-deployment.yml", "green-deployment.yml")
_GENERATED = (
    "# Written by flightdeck (samples.product_recommender.write_example) from\n"
    "#   {source}\n"
    "# The models beside it are made by code. Edits here are overwritten.\n"
)

# Fixed weights: W is [FEATURES, CLASSES], b is [CLASSES].
_WEIGHTS: dict[str, tuple[tuple[tuple[float, ...], ...], tuple[float, ...]]] = {
    "v1": (
        ((0.20, -0.10), (-0.30, 0.25), (0.15, 0.05), (-0.05, 0.45), (0.10, -0.20)),
        (0.10, -0.10),
    ),
    "v2": (
        ((-0.25, 0.20), (0.35, -0.15), (-0.10, 0.12), (0.30, -0.28), (-0.18, 0.22)),
        (0.30, -0.20),
    ),
}


def weights(version: str) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Return the fixed (W, b) of a version, as float32 arrays."""
    if version not in _WEIGHTS:
        raise ValueError(f"unknown version {version!r}: choose one of {', '.join(VERSIONS)}")
    w, b = _WEIGHTS[version]
    return np.array(w, dtype=np.float32), np.array(b, dtype=np.float32)


def reference_predict(version: str, rows: NDArray[np.float32]) -> NDArray[np.float32]:
    """What the model answers, computed with numpy (for checking a served model)."""
    w, b = weights(version)
    logits = rows.astype(np.float32) @ w + b
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities: NDArray[np.float32] = (shifted / shifted.sum(axis=1, keepdims=True)).astype(
        np.float32
    )
    return probabilities


def build_model(version: str) -> onnx.ModelProto:
    """Build the ONNX model of ``version`` ("v1" or "v2"); checked with onnx.checker."""
    w, b = weights(version)
    graph = helper.make_graph(
        nodes=[
            helper.make_node("MatMul", [INPUT_NAME, "W"], ["logits_raw"], name="score"),
            helper.make_node("Add", ["logits_raw", "b"], ["logits"], name="bias"),
            helper.make_node("Softmax", ["logits"], [OUTPUT_NAME], name="softmax", axis=-1),
        ],
        name=f"product_recommender_{version}",
        inputs=[helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", FEATURES])],
        outputs=[helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", CLASSES])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="flightdeck-samples",
        producer_version="1",
        model_version=VERSIONS.index(version) + 1,
        doc_string=f"Product recommender {version}: 5 features -> 2 class probabilities.",
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"flightdeck.sample": "product-recommender", "version": version})
    onnx.checker.check_model(model, full_check=True)
    return model


def model_bytes(version: str) -> bytes:
    """The serialized model of ``version`` (deterministic)."""
    serialized: bytes = build_model(version).SerializeToString(deterministic=True)
    return serialized


def write_models(outdir: Path) -> dict[str, Path]:
    """Write every version as ``outdir/model-<version>/model.onnx``; return version -> file."""
    written: dict[str, Path] = {}
    for version in VERSIONS:
        path = outdir / f"model-{version}" / MODEL_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(model_bytes(version))
        written[version] = path
    return written


def write_example(target: Path) -> Path:
    """Lay out the example in ``target`` (made if missing) and return it: the packaged YAML
    with its code folder made absolute (it points into the installed packages), and
    ``model-v1/``, ``model-v2/`` written by :func:`write_models`. Running it again writes
    the same bytes, so a deployment's fingerprint does not change."""
    target.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLE_FILES:
        source = EXAMPLE_SPECS / name
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
        code = (document.get("code_configuration") or {}).get("code")
        if isinstance(code, str) and not code.startswith("azureml:"):
            document["code_configuration"]["code"] = str((EXAMPLE_SPECS / code).resolve())
        text = _GENERATED.format(source=source) + yaml.safe_dump(document, sort_keys=False)
        _write_if_changed(target / name, text.encode())
    for version in VERSIONS:
        _write_if_changed(target / f"model-{version}" / MODEL_FILE, model_bytes(version))
    return target


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    """Command line: write the sample models to OUTDIR."""
    parser = argparse.ArgumentParser(
        prog="python -m samples.product_recommender",
        description="Write the sample product-recommender ONNX models (v1 and v2).",
    )
    parser.add_argument("outdir", type=Path, help="folder to write model-v1/ and model-v2/ into")
    args = parser.parse_args(argv)
    for version, path in write_models(args.outdir).items():
        print(f"{version}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
