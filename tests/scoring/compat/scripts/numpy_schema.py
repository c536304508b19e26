"""A scoring script with inference-schema's numpy decorators (the server parses "data")."""

from __future__ import annotations

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init() -> None:
    pass


@input_schema("data", NumpyParameterType(np.array([[1.0, 2.0, 3.0]])))  # type: ignore[untyped-decorator]  # inference-schema is untyped
@output_schema(NumpyParameterType(np.array([6.0])))  # type: ignore[untyped-decorator]  # inference-schema is untyped
def run(data: object) -> dict[str, list[float] | list[int]]:
    if not isinstance(data, np.ndarray):
        raise TypeError(f"inference-schema did not convert the input: {type(data).__name__}")
    return {"sums": data.sum(axis=1).tolist(), "shape": list(data.shape)}
