"""The request body check of scoring/input_rows.py, in process (pure functions)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from input_rows import InputSpec, to_batch
from scoring_errors import BadRequest, ModelLoadError

FLOATS = InputSpec.from_node(name="features", onnx_type="tensor(float)", shape=["N", 5])
INTS = InputSpec.from_node(name="counts", onnx_type="tensor(int64)", shape=["N", 3])
FLOAT_EXPECTED = "(the model's input 'features' takes tensor(float))"


def refused(data: Any, spec: InputSpec = FLOATS) -> str:
    with pytest.raises(BadRequest) as caught:
        to_batch(data, spec)
    return str(caught.value)


def test_batch_becomes_float32_rows() -> None:
    batch = to_batch([[1, 2, 3, 4, 5], [0.5, 0, 0, 0, -1e3]], FLOATS)
    assert batch.dtype == np.float32
    assert batch.shape == (2, 5)
    assert batch[1].tolist() == [0.5, 0, 0, 0, -1000]


def test_single_row_becomes_a_batch_of_one() -> None:
    batch = to_batch([1, 2, 3, 4, 5], FLOATS)
    assert batch.shape == (1, 5)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, 'the request body has no "data" key: send {"data": [[x1, ..., xK], ...]}'),
        ("1,2,3", '"data" must be a list of rows or one row, and got a string: send {"data"'),
        ({"a": 1}, '"data" must be a list of rows or one row, and got an object'),
        (7, '"data" must be a list of rows or one row, and got a number'),
        ([], '"data" is empty: send at least one row'),
        ([1, 2], "expected 5 features and got 2"),
        ([[1, 2, 3, 4, 5], [1, 2]], "expected 5 features and got 2 in data[1]"),
        ([[1, 2, 3, 4, 5, 6]], "expected 5 features and got 6 in data[0]"),
        ([[1, 2, 3, 4, 5], 3], '"data" mixes rows and single values at data[1]'),
        ([1, [2], 3, 4, 5], '"data" mixes rows and single values at data[1]'),
        ([[]], "data[0] is empty: a row needs at least one feature"),
        ([1, 2, "x", 4, 5], f'data[2] is "x", not a number {FLOAT_EXPECTED}'),
        (
            [[1, 2, 3, 4, 5], [1, None, 3, 4, 5]],
            f"data[1][1] is null, not a number {FLOAT_EXPECTED}",
        ),
        ([[1, 2, 3, 4, True]], f"data[0][4] is true, not a number {FLOAT_EXPECTED}"),
        ([[1, 2, 3, 4, [5]]], f"data[0][4] is [5], not a number {FLOAT_EXPECTED}"),
        ([[1, 2, 3, 4, 1e39]], f"data[0][4] is 1e+39, out of range for float32 {FLOAT_EXPECTED}"),
    ],
)
def test_bad_data_is_refused_with_what_is_wrong(data: Any, message: str) -> None:
    assert refused(data).startswith(message)


def test_long_values_are_shortened_in_messages() -> None:
    message = refused([1, 2, 3, 4, "y" * 500])
    assert message.startswith('data[4] is "yyyy')
    assert "..." in message
    assert len(message) < 200


def test_integer_input_takes_whole_numbers_only() -> None:
    assert to_batch([[1, 2.0, 3]], INTS).tolist() == [[1, 2, 3]]
    assert to_batch([[1, 2.0, 3]], INTS).dtype == np.int64
    expected = "(the model's input 'counts' takes tensor(int64))"
    assert refused([[1, 2.5, 3]], INTS) == f"data[0][1] is 2.5, not a whole number {expected}"
    assert refused([1, 2, 2**64], INTS).startswith("data[2] is 18446744073709551616, out of range")


def test_nan_and_infinity_pass_to_the_model() -> None:
    batch = to_batch([[float("nan"), float("inf"), 0, 0, 0]], FLOATS)
    assert np.isnan(batch[0, 0])
    assert np.isinf(batch[0, 1])


def test_fixed_batch_size_is_enforced() -> None:
    spec = InputSpec.from_node(name="x", onnx_type="tensor(float)", shape=[1, 2])
    assert to_batch([[1, 2]], spec).shape == (1, 2)
    assert refused([[1, 2], [3, 4]], spec) == (
        "this model takes exactly 1 row(s) per request, and got 2"
    )


def test_unknown_width_takes_any_width_but_the_same_in_every_row() -> None:
    spec = InputSpec.from_node(name="x", onnx_type="tensor(double)", shape=["N", None])
    assert to_batch([[1, 2, 3]], spec).dtype == np.float64
    assert refused([[1, 2, 3], [1, 2]], spec) == (
        "rows differ in length: data[0] has 3 features and data[1] has 2"
    )


def test_boolean_input_takes_true_and_false() -> None:
    spec = InputSpec.from_node(name="flags", onnx_type="tensor(bool)", shape=["N", 2])
    assert to_batch([[True, False]], spec).tolist() == [[True, False]]
    assert refused([[True, 1]], spec).startswith("data[0][1] is 1, not true or false")


@pytest.mark.parametrize(
    ("onnx_type", "shape", "message"),
    [
        ("tensor(string)", ["N", 5], "the model's input 'x' is tensor(string): supported types"),
        ("tensor(float)", ["N", 3, 224], "the model's input 'x' has shape [N, 3, 224]"),
        ("tensor(float)", [None], "the model's input 'x' has shape [?]"),
    ],
)
def test_unsupported_model_inputs_are_named(onnx_type: str, shape: list[Any], message: str) -> None:
    with pytest.raises(ModelLoadError) as caught:
        InputSpec.from_node(name="x", onnx_type=onnx_type, shape=shape)
    assert str(caught.value).startswith(message)


def test_describe_shows_the_signature() -> None:
    assert FLOATS.describe() == "features: float32 [N, 5]"


def test_a_value_beyond_float32_is_named_even_beside_nan() -> None:
    spec = InputSpec.from_node(name="features", onnx_type="tensor(float)", shape=["N", 3])
    with pytest.raises(BadRequest, match=r"data\[1\]"):
        to_batch([float("nan"), 1e39, 2.0], spec)
    batch = to_batch([float("nan"), float("inf"), 2.0], spec)
    assert np.isnan(batch[0, 0]) and np.isinf(batch[0, 1]) and batch.dtype == np.float32
