"""A scoring script that computes: each answer burns a fixed CPU time, for trying capacity
searches on a CPU-bound model (its capacity depends on the cores, not on WORKER_COUNT).

Environment (set in the deployment's ``environment_variables``):

- ``SAMPLE_CPU_MS``: CPU time ``run()`` burns in a busy loop, in milliseconds (default 10).

The time is the thread's CPU time, so an answer takes longer when the cores are shared
(which is what CPU-bound means). Same input schema as ``slow_score``.
"""

from __future__ import annotations

import os
import time

from inference_schema.parameter_types.standard_py_parameter_type import (
    StandardPythonParameterType,
)
from inference_schema.schema_decorators import input_schema

CPU_ENV = "SAMPLE_CPU_MS"
DEFAULT_CPU_MS = 10.0

_cpu_s = DEFAULT_CPU_MS / 1000.0


def init() -> None:
    """Read the CPU time once."""
    global _cpu_s
    _cpu_s = float(os.environ.get(CPU_ENV, DEFAULT_CPU_MS)) / 1000.0
    print(f"busy_score: every answer burns {_cpu_s * 1000:.0f} ms of CPU")


@input_schema("data", StandardPythonParameterType([1.0, 2.0, 3.0]))  # type: ignore[untyped-decorator]
def run(data: list[float]) -> dict[str, object]:
    """Burn the CPU time, then answer."""
    end = time.thread_time() + _cpu_s
    spins = 0
    while time.thread_time() < end:
        spins += 1
    return {"cpu_ms": round(_cpu_s * 1000), "spins": spins, "rows": len(data or [])}
