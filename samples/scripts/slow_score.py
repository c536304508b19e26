"""A scoring script that answers after a delay: for trying the P99 latency alert.

Environment (set in the deployment's ``environment_variables``):

- ``SAMPLE_DELAY_MS``: how long ``run()`` takes, in milliseconds (default 800).

``run`` echoes the request's size, so that callers see an answer. Its input schema
(``{"data": [numbers]}``) gives the swagger a sample input, which ``/loadtest`` and a
rollout's ``--with-load`` send.
"""

from __future__ import annotations

import os
import time

from inference_schema.parameter_types.standard_py_parameter_type import (
    StandardPythonParameterType,
)
from inference_schema.schema_decorators import input_schema

DELAY_ENV = "SAMPLE_DELAY_MS"
DEFAULT_DELAY_MS = 800.0

_delay_s = DEFAULT_DELAY_MS / 1000.0


def init() -> None:
    """Read the delay once."""
    global _delay_s
    _delay_s = float(os.environ.get(DELAY_ENV, DEFAULT_DELAY_MS)) / 1000.0
    print(f"slow_score: every answer takes {_delay_s * 1000:.0f} ms")


@input_schema("data", StandardPythonParameterType([1.0, 2.0, 3.0]))  # type: ignore[untyped-decorator]
def run(data: list[float]) -> dict[str, object]:
    """Wait, then answer."""
    time.sleep(_delay_s)
    return {"delayed_ms": round(_delay_s * 1000), "rows": len(data or [])}
