"""Turn the request's ``data`` into the model's input batch, or say exactly what is wrong.

``data`` is a batch (a list of rows) or a single row (a list of values). The width and the
element type come from the model's own input metadata (:class:`InputSpec`), so a wrong body
is refused with a message (HTTP 400) before ONNX Runtime sees it.

Usage::

    spec = InputSpec.from_node(name="features", onnx_type="tensor(float)", shape=["N", 5])
    batch = to_batch([[1, 2, 3, 4, 5]], spec)   # float32 array of shape (1, 5)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scoring_messages as msg
from numpy.typing import NDArray
from scoring_errors import BadRequest, ModelLoadError

Kind = Literal["float", "integer", "bool"]

_TYPES: dict[str, tuple[type[np.generic], Kind]] = {
    "tensor(float)": (np.float32, "float"),
    "tensor(double)": (np.float64, "float"),
    "tensor(float16)": (np.float16, "float"),
    "tensor(int64)": (np.int64, "integer"),
    "tensor(int32)": (np.int32, "integer"),
    "tensor(int16)": (np.int16, "integer"),
    "tensor(int8)": (np.int8, "integer"),
    "tensor(uint64)": (np.uint64, "integer"),
    "tensor(uint32)": (np.uint32, "integer"),
    "tensor(uint16)": (np.uint16, "integer"),
    "tensor(uint8)": (np.uint8, "integer"),
    "tensor(bool)": (np.bool_, "bool"),
}
_SHOWN_CHARS = 40
_NUMBER_TYPES = {int, float}
_FLOAT64 = np.dtype(np.float64)
_FLOAT_MAX: dict[np.dtype[Any], float] = {}


@dataclass(frozen=True, kw_only=True)
class InputSpec:
    """What the model takes: one input of shape [batch, width] and element type ``dtype``."""

    name: str
    onnx_type: str
    dtype: np.dtype[Any]
    kind: Kind
    width: int | None
    batch: int | None

    @classmethod
    def from_node(cls, *, name: str, onnx_type: str, shape: list[Any]) -> InputSpec:
        """Build from ONNX Runtime's input metadata; :class:`ModelLoadError` if unsupported."""
        if onnx_type not in _TYPES:
            raise ModelLoadError(
                msg.BAD_INPUT_TYPE.format(
                    name=name, onnx_type=onnx_type, supported=", ".join(_TYPES)
                )
            )
        if len(shape) != 2:
            raise ModelLoadError(msg.BAD_INPUT_RANK.format(name=name, shape=shape_text(shape)))
        scalar, kind = _TYPES[onnx_type]
        batch, width = (dim if isinstance(dim, int) and dim > 0 else None for dim in shape)
        return cls(
            name=name,
            onnx_type=onnx_type,
            dtype=np.dtype(scalar),
            kind=kind,
            width=width,
            batch=batch,
        )

    def describe(self) -> str:
        """E.g. ``features: float32 [N, 5]``."""
        batch = "N" if self.batch is None else str(self.batch)
        width = "K" if self.width is None else str(self.width)
        return f"{self.name}: {self.dtype.name} [{batch}, {width}]"

    def expected(self) -> str:
        """The element type in words, for messages."""
        return msg.EXPECTED_NUMBERS.format(name=self.name, onnx_type=self.onnx_type)


def to_batch(data: object, spec: InputSpec) -> NDArray[Any]:
    """Validate ``data`` against ``spec`` and return a 2-D array; :class:`BadRequest` if wrong.

    Well-formed float input takes a vectorized path; anything else is checked value by value,
    so that the message can name the first wrong one.
    """
    rows, single = _rows(data)
    if spec.batch is not None and len(rows) != spec.batch:
        raise BadRequest(msg.BATCH_FIXED.format(expected=spec.batch, got=len(rows)))
    _check_widths(rows, single, spec.width)
    if spec.kind == "float":
        fast = _plain_numbers(rows, spec.dtype)
        if fast is not None:
            return fast
    low, high = _bounds(spec.dtype)
    for index, row in enumerate(rows):
        for column, value in enumerate(row):
            problem = _problem(value, spec.kind, low, high)
            if problem is not None:
                raise BadRequest(
                    problem.format(
                        where=_where(index, column, single),
                        value=_show(value),
                        dtype=spec.dtype.name,
                        expected=spec.expected(),
                    )
                )
    return np.asarray(rows, dtype=spec.dtype)


def _rows(data: object) -> tuple[list[list[Any]], bool]:
    if data is None:
        raise BadRequest(msg.NO_DATA.format())
    if not isinstance(data, list):
        raise BadRequest(msg.DATA_NOT_LIST.format(kind=_kind(data)))
    if not data:
        raise BadRequest(msg.DATA_EMPTY.format())
    single = not isinstance(data[0], list)
    for index, item in enumerate(data):
        if isinstance(item, list) == single:
            raise BadRequest(msg.MIXED_ROWS.format(index=index))
    return ([data] if single else data), single


def _check_widths(rows: list[list[Any]], single: bool, width: int | None) -> None:
    expected = width if width is not None else len(rows[0])
    for index, row in enumerate(rows):
        if not row:
            raise BadRequest(msg.ROW_EMPTY.format(index=index))
        if len(row) == expected:
            continue
        if single:
            raise BadRequest(msg.WIDTH_SINGLE.format(expected=expected, got=len(row)))
        if width is None:
            raise BadRequest(msg.RAGGED_ROWS.format(first=expected, index=index, got=len(row)))
        raise BadRequest(msg.WIDTH_IN_ROW.format(expected=expected, got=len(row), index=index))


def _plain_numbers(rows: list[list[Any]], dtype: np.dtype[Any]) -> NDArray[Any] | None:
    """The common case in a few vectorized steps: only numbers, all in range; else None.

    One float64 array and, for a narrower type, one reduction that skips NaN (``fmax``;
    NaN passes as it is), and ±Infinity or a finite value beyond the type's range sends the
    rows to the value-by-value path, which keeps infinities and names the value out of range.
    """
    for row in rows:
        if not {type(value) for value in row} <= _NUMBER_TYPES:
            return None
    try:
        wide = np.asarray(rows, dtype=np.float64)
    except OverflowError:  # an integer beyond float64
        return None
    if dtype == _FLOAT64:
        return wide
    if wide.size and np.fmax.reduce(np.abs(wide), axis=None) > _float_max(dtype):
        return None
    return wide.astype(dtype)


def _float_max(dtype: np.dtype[Any]) -> float:
    largest = _FLOAT_MAX.get(dtype)
    if largest is None:
        largest = _FLOAT_MAX[dtype] = float(np.finfo(dtype).max)
    return largest


def _bounds(dtype: np.dtype[Any]) -> tuple[float, float]:
    if dtype.kind == "f":
        largest = float(np.finfo(dtype).max)
        return -largest, largest
    if dtype.kind == "b":
        return 0, 1
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _problem(value: Any, kind: Kind, low: float, high: float) -> str | None:
    """The message template for what is wrong with ``value``, or None if it is fine."""
    of = type(value)
    if kind == "bool":
        return None if of is bool else msg.NOT_A_BOOLEAN
    if kind == "float":
        if of is not float and of is not int:
            return msg.NOT_A_NUMBER
        if of is float and not math.isfinite(value):
            return None  # NaN and ±Infinity pass as they are
    elif of is not int and not (of is float and math.isfinite(value) and value.is_integer()):
        return msg.NOT_AN_INTEGER
    return None if low <= value <= high else msg.OUT_OF_RANGE


def _where(index: int, column: int, single: bool) -> str:
    return f"data[{column}]" if single else f"data[{index}][{column}]"


def _show(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def shape_text(shape: list[Any]) -> str:
    """ONNX Runtime's shape list as text: ``[N, 5]``, ``?`` for an unknown dimension."""
    return "[" + ", ".join("?" if dim is None else str(dim) for dim in shape) + "]"
