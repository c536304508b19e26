"""The MLP sample model: built by code, deterministic, and ONNX Runtime agrees with numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from samples import mlp_ranker


def test_the_file_is_the_same_bytes_every_time(tmp_path: Path) -> None:
    first = mlp_ranker.write_model(tmp_path / "a").read_bytes()
    second = mlp_ranker.write_model(tmp_path / "b").read_bytes()
    assert first == second
    assert len(first) > 8_000_000  # 3 x 1024 hidden units: the weights are most of it


def test_onnx_runtime_answers_what_numpy_computes(tmp_path: Path) -> None:
    path = mlp_ranker.write_model(tmp_path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rows = mlp_ranker.example_rows(8)
    (answer,) = session.run([mlp_ranker.OUTPUT_NAME], {mlp_ranker.INPUT_NAME: rows})
    assert answer.shape == (8, mlp_ranker.CLASSES)
    np.testing.assert_allclose(answer, mlp_ranker.reference_predict(rows), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(answer.sum(axis=1), 1.0, rtol=1e-5)
    # Not a constant: different rows get different answers.
    assert float(np.ptp(answer[:, 0])) > 1e-3
