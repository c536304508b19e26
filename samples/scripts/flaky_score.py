"""A scoring script that fails at a set rate: for trying the error-rate alert.

Environment (set in the deployment's ``environment_variables``):

- ``SAMPLE_ERROR_RATE``: the share of requests that fail, 0 to 1 (default 0.5);
- ``SAMPLE_ERROR_STATUS``: the status they fail with (default 500; the scoring URI
  answers the caller 424, "the model failed", as Azure does).

Failures are spread evenly and deterministically: of every n requests, round(n x rate)
fail (no randomness, so a test knows what to expect). Its input schema (``{"data":
[numbers]}``) gives the swagger a sample input for ``/loadtest`` and ``--with-load``.
"""

from __future__ import annotations

import math
import os

from azureml_inference_server_http.api.aml_response import AMLResponse
from inference_schema.parameter_types.standard_py_parameter_type import (
    StandardPythonParameterType,
)
from inference_schema.schema_decorators import input_schema

RATE_ENV = "SAMPLE_ERROR_RATE"
STATUS_ENV = "SAMPLE_ERROR_STATUS"

_rate = 0.5
_status = 500
_count = 0


def init() -> None:
    """Read the rate and the status once."""
    global _rate, _status
    _rate = min(max(float(os.environ.get(RATE_ENV, "0.5")), 0.0), 1.0)
    _status = int(os.environ.get(STATUS_ENV, "500"))
    print(f"flaky_score: {_rate:.0%} of the requests fail with {_status}")


@input_schema("data", StandardPythonParameterType([1.0, 2.0, 3.0]))  # type: ignore[untyped-decorator]
def run(data: list[float]) -> object:
    """Fail when the running count of failures falls behind the rate, else answer."""
    global _count
    _count += 1
    if math.floor(_count * _rate) > math.floor((_count - 1) * _rate):
        return AMLResponse({"error": "flaky_score failed on purpose"}, _status, json_str=True)
    return {"ok": True, "rows": len(data or [])}
