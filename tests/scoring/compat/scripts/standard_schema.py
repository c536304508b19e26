"""A scoring script with standard-type decorators, request headers, and every kind of answer."""

from __future__ import annotations

from collections.abc import Mapping

from azureml_inference_server_http.api.aml_response import AMLResponse
from inference_schema.parameter_types.standard_py_parameter_type import (
    StandardPythonParameterType,
)
from inference_schema.schema_decorators import input_schema, output_schema


def init() -> None:
    pass


@input_schema("name", StandardPythonParameterType("world"))  # type: ignore[untyped-decorator]  # inference-schema is untyped
@input_schema("count", StandardPythonParameterType(1))  # type: ignore[untyped-decorator]  # inference-schema is untyped
@output_schema(StandardPythonParameterType({"greeting": "hello world"}))  # type: ignore[untyped-decorator]  # inference-schema is untyped
def run(
    name: str, count: int = 1, request_headers: Mapping[str, str] | None = None
) -> AMLResponse | dict[str, object] | str:
    headers = request_headers or {}
    if name == "fail":
        raise RuntimeError("run() was asked to fail")
    if name == "teapot":
        return AMLResponse({"message": "short and stout"}, 418, {"x-custom": "a, b"}, json_str=True)
    if name == "down":
        return AMLResponse("the model is down", 503)
    if name == "unserialisable":
        return {"value": object()}
    if name == "text":
        return "plain text"
    return {
        "greeting": " ".join(["hello"] * count) + f" {name}",
        "custom": headers.get("X-Custom-Id"),
        "content_type": headers.get("Content-Type"),
    }
