"""A scoring script with inference-schema's pandas decorator (needs pandas installed)."""

from __future__ import annotations

import pandas as pd  # type: ignore[import-untyped]  # pandas ships no types (pandas-stubs is not a dependency)
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.schema_decorators import input_schema


def init() -> None:
    pass


@input_schema("data", PandasParameterType(pd.DataFrame({"a": [1.0], "b": [2.0]})))  # type: ignore[untyped-decorator]  # inference-schema is untyped
def run(data: pd.DataFrame) -> dict[str, list[object]]:
    return {"columns": list(data.columns), "sums": data.sum(axis=1).tolist()}
