"""A scoring script with inference-schema's numpy decorators (the server parses "data")."""

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    pass


@input_schema("data", NumpyParameterType(np.array([[1.0, 2.0, 3.0]])))
@output_schema(NumpyParameterType(np.array([6.0])))
def run(data):
    if not isinstance(data, np.ndarray):
        raise TypeError(f"inference-schema did not convert the input: {type(data).__name__}")
    return {"sums": data.sum(axis=1).tolist(), "shape": list(data.shape)}
