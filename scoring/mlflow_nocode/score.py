"""The scoring script of a no-code MLflow deployment, as Azure generates one for a
``type: mlflow_model`` model deployed without ``code_configuration``.

It runs in the deployment's own environment (the model's conda.yaml or requirements.txt,
or the deployment's environment), so it imports only what that has: mlflow (mlflow-skinny
is enough), pandas, numpy and Azure's inference server. It imports nothing of ours.

The model folder is the one under ``AZUREML_MODEL_DIR`` holding ``MLmodel``
(``MLFLOW_MODEL_FOLDER`` names it, as on Azure). A request is a JSON object with one of:

- ``input_data``: pandas split orient (``columns``, ``data``, optional ``index``), a list
  of rows, or a mapping of named tensors (Azure's format), with optional ``params``;
- ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs`` (MLflow's own).

A column-based signature is checked first: missing columns are a 400 naming them. The
answer is the predictions as JSON (a list; a DataFrame as records), as Azure answers.
The swagger's input and output come from the model's signature.

    curl -d '{"input_data": {"columns": ["a", "b"], "data": [[1, 2]]}}' .../score   # [0]
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # pandas ships no types
from azureml_inference_server_http.api.aml_response import AMLResponse
from inference_schema.parameter_types.abstract_parameter_type import AbstractParameterType
from inference_schema.schema_decorators import input_schema, output_schema
from mlflow.exceptions import MlflowException
from mlflow.models import Model

logger = logging.getLogger("mlflow_nocode")

FORMATS = ("input_data", "dataframe_split", "dataframe_records", "instances", "inputs")
_SAMPLES = {"boolean": True, "string": "text", "binary": "", "datetime": "2024-01-01"}
_SWAGGER_TYPES = {
    "boolean": "boolean",
    "integer": "integer",
    "long": "integer",
    "float": "number",
    "double": "number",
    "string": "string",
    "binary": "string",
    "datetime": "string",
}


class BadRequest(Exception):
    """A request the model cannot take: answered 400 with this message."""


def model_folder() -> Path:
    """The MLflow model's folder: ``AZUREML_MODEL_DIR/MLFLOW_MODEL_FOLDER``, or the folder
    under ``AZUREML_MODEL_DIR`` that holds ``MLmodel``."""
    root = Path(os.environ.get("AZUREML_MODEL_DIR", "."))
    named = os.environ.get("MLFLOW_MODEL_FOLDER")
    if named and (root / named / "MLmodel").is_file():
        return root / named
    if (root / "MLmodel").is_file():
        return root
    for found in sorted(root.glob("*/MLmodel")):
        return found.parent
    raise FileNotFoundError(f"no MLmodel file in {root} or its folders")


# ---------------------------------------------------------------- the signature


def _columns(schema: Any) -> list[tuple[str, str, bool]]:
    """``(name, type, required)`` of a column-based schema's named columns, else []."""
    if schema is None or schema.is_tensor_spec() or not schema.has_input_names():
        return []
    columns = []
    for spec in schema.inputs:
        kind = getattr(getattr(spec, "type", None), "name", "string")
        columns.append((str(spec.name), str(kind), bool(getattr(spec, "required", True))))
    return columns


def _sample(kind: str) -> Any:
    if kind in ("integer", "long"):
        return 0
    if kind in ("float", "double"):
        return 0.0
    return _SAMPLES.get(kind, "")


def _input_swagger(columns: list[tuple[str, str, bool]]) -> dict[str, Any]:
    if not columns:
        return {"type": "object", "example": {}}
    names = [name for name, _, _ in columns]
    items = [{"type": _SWAGGER_TYPES.get(kind, "string")} for _, kind, _ in columns]
    row = [_sample(kind) for _, kind, _ in columns]
    return {
        "type": "object",
        "properties": {
            "columns": {"type": "array", "items": {"type": "string"}},
            "index": {"type": "array", "items": {"type": "integer"}},
            "data": {"type": "array", "items": {"type": "array", "items": {"anyOf": items}}},
        },
        "example": {"columns": names, "index": [0], "data": [row]},
    }


def _output_swagger(schema: Any) -> dict[str, Any]:
    columns = _columns(schema)
    if schema is None:
        return {"type": "object", "example": {}}
    kind = columns[0][1] if len(columns) == 1 else None
    if kind is None and not schema.is_tensor_spec() and len(schema.inputs) == 1:
        kind = getattr(getattr(schema.inputs[0], "type", None), "name", None)
    item_type = _SWAGGER_TYPES.get(str(kind), "number")
    return {"type": "array", "items": {"type": item_type}, "example": [_sample(str(kind))]}


class _Described(AbstractParameterType):  # type: ignore[misc]  # inference-schema is untyped
    """A parameter passed through as given, described in the swagger by ``schema``."""

    def __init__(self, schema: dict[str, Any]) -> None:
        super().__init__(schema.get("example"))
        self.schema = schema

    def deserialize_input(self, input_data: Any) -> Any:
        return input_data

    def input_to_swagger(self) -> dict[str, Any]:
        return self.schema


_MODEL_FOLDER = model_folder()
_SIGNATURE = Model.load(str(_MODEL_FOLDER)).signature
_COLUMNS = _columns(_SIGNATURE.inputs if _SIGNATURE is not None else None)
model: Any = None


# ---------------------------------------------------------------- requests


def init() -> None:
    """Load the model with ``mlflow.pyfunc``."""
    global model
    logger.info("Loading the MLflow model in %s", _MODEL_FOLDER)
    model = mlflow.pyfunc.load_model(str(_MODEL_FOLDER))


_INPUT = _Described(_input_swagger(_COLUMNS))
_OUTPUT = _Described(_output_swagger(_SIGNATURE.outputs if _SIGNATURE is not None else None))


@input_schema("input_data", _INPUT, False, True)  # type: ignore[untyped-decorator]
@output_schema(_OUTPUT)  # type: ignore[untyped-decorator]
def run(
    input_data: Any = None,
    params: Any = None,
    dataframe_split: Any = None,
    dataframe_records: Any = None,
    instances: Any = None,
    inputs: Any = None,
) -> Any:
    """Predict for one request in any of ``FORMATS``; a 400 naming what is wrong otherwise."""
    given = {
        "input_data": input_data,
        "dataframe_split": dataframe_split,
        "dataframe_records": dataframe_records,
        "instances": instances,
        "inputs": inputs,
    }
    present = [key for key, value in given.items() if value is not None]
    try:
        if len(present) != 1:
            found = ", ".join(present) or "none of them"
            raise BadRequest(f"expected exactly one of {', '.join(FORMATS)} (found: {found})")
        key = present[0]
        data = to_model_input(key, given[key])
        check_columns(key, data)
        if params is not None and not isinstance(params, dict):
            raise BadRequest("params: expected an object of parameter values")
        result = _predict(data, params)
    except BadRequest as exc:
        return AMLResponse({"message": str(exc)}, 400, json_str=True)
    except MlflowException as exc:  # the signature's own checks (types, shapes)
        return AMLResponse({"message": exc.message}, 400, json_str=True)
    return jsonable(result)


def _predict(data: Any, params: dict[str, Any] | None) -> Any:
    if params:
        return model.predict(data, params=params)
    return model.predict(data)


def to_model_input(key: str, value: Any) -> Any:
    """The model's input for one request format."""
    if key == "dataframe_records":
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise BadRequest("dataframe_records: expected a list of objects (one per row)")
        return pd.DataFrame.from_records(value)
    if key == "dataframe_split" or (key == "input_data" and _is_split(value)):
        return _split_frame(key, value)
    if isinstance(value, list):
        if value and all(isinstance(row, dict) for row in value):
            return pd.DataFrame.from_records(value)
        rows = np.asarray(value)
        if _COLUMNS and rows.ndim == 2 and rows.shape[1] == len(_COLUMNS):
            return pd.DataFrame(value, columns=[name for name, _, _ in _COLUMNS])
        return rows
    if isinstance(value, dict):
        if _COLUMNS:
            return pd.DataFrame({k: v if isinstance(v, list) else [v] for k, v in value.items()})
        return {name: np.asarray(tensor) for name, tensor in value.items()}
    raise BadRequest(f"{key}: expected a list or an object, not {type(value).__name__}")


def _is_split(value: Any) -> bool:
    return isinstance(value, dict) and "columns" in value and "data" in value


def _split_frame(key: str, value: Any) -> pd.DataFrame:
    if not _is_split(value) or not isinstance(value["data"], list):
        raise BadRequest(f"{key}: expected pandas split orient: columns, data (and index)")
    try:
        return pd.DataFrame(value["data"], columns=value["columns"], index=value.get("index"))
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"{key}: {exc}") from None


def check_columns(key: str, data: Any) -> None:
    """A 400 when a DataFrame lacks a column the signature requires."""
    if not _COLUMNS or not isinstance(data, pd.DataFrame):
        return
    have = {str(c) for c in data.columns}
    missing = [name for name, _, required in _COLUMNS if required and name not in have]
    if not missing:
        return
    known = {name for name, _, _ in _COLUMNS}
    unknown = [str(c) for c in data.columns if str(c) not in known]
    text = f"{key}: missing column(s) {', '.join(repr(m) for m in missing)}"
    if unknown:
        text += f"; not in the model's signature: {', '.join(repr(u) for u in unknown)}"
    expected = ", ".join(name for name, _, _ in _COLUMNS)
    raise BadRequest(f"{text}. The model expects the columns: {expected}")


def jsonable(result: Any) -> Any:
    """Predictions as JSON values: arrays and series as lists, a DataFrame as records."""
    if isinstance(result, pd.DataFrame):
        return json.loads(result.to_json(orient="records"))
    if isinstance(result, pd.Series | np.ndarray):
        return np.asarray(result).tolist()
    if isinstance(result, dict):
        return {str(k): jsonable(v) for k, v in result.items()}
    if isinstance(result, list | tuple):
        return [jsonable(v) for v in result]
    if isinstance(result, np.generic):
        return result.item()
    return result
