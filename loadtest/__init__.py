"""Load-test engine: closed and open loop over keep-alive HTTP/1.1, HDR histograms.

Imports nothing else of Flightdeck: the CLI and the Slack command build a
``LoadTestPlan``, check it against ``Limits`` from the configuration, and call
``run_load_test``; then render the result with ``render_text`` / ``to_dict`` /
``render_chart_png``. Errors a user can act on are ``LoadTestError``.

Usage::

    plan = LoadTestPlan.open(url=uri, rate=100, duration=30, deployment="blue",
                             headers={"Authorization": f"Bearer {key}"},
                             body=sample_input_from_swagger(swagger))
    result = await run_load_test(plan, limits=limits, progress=update, cancel=cancel)
    print(render_text(result))
"""

from loadtest.chart import render_chart_png
from loadtest.engine import ProgressCallback, run_load_test
from loadtest.errors import (
    InvalidPlanError,
    LimitExceededError,
    LoadTestError,
    PayloadError,
    TargetNotAllowedError,
)
from loadtest.limits import Limits
from loadtest.payload import MAX_BODY_BYTES, read_request_file, sample_input_from_swagger
from loadtest.plan import DEFAULT_REQUESTS, DEPLOYMENT_HEADER, LoadTestPlan, Mode, Target
from loadtest.report import render_progress, render_text, to_dict
from loadtest.result import LatencyStats, LoadTestResult, Progress, TimelineBucket

__all__ = [
    "DEFAULT_REQUESTS",
    "DEPLOYMENT_HEADER",
    "MAX_BODY_BYTES",
    "InvalidPlanError",
    "LatencyStats",
    "LimitExceededError",
    "Limits",
    "LoadTestError",
    "LoadTestPlan",
    "LoadTestResult",
    "Mode",
    "PayloadError",
    "Progress",
    "ProgressCallback",
    "Target",
    "TargetNotAllowedError",
    "TimelineBucket",
    "read_request_file",
    "render_chart_png",
    "render_progress",
    "render_text",
    "run_load_test",
    "sample_input_from_swagger",
    "to_dict",
]
