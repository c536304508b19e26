"""A scoring script with inference-schema's pandas decorator (needs pandas installed)."""

import pandas as pd
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.schema_decorators import input_schema


def init():
    pass


@input_schema("data", PandasParameterType(pd.DataFrame({"a": [1.0], "b": [2.0]})))
def run(data):
    return {"columns": list(data.columns), "sums": data.sum(axis=1).tolist()}
