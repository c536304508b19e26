"""Capacity at an objective: find the highest rate a deployment serves within its P99 and
error budget, on the load-test engine, and recommend instances, autoscale and cost.

    objective = Objective(max_p99_ms=200, max_error_rate=0.001)
    plan = SearchPlan(objective=objective, start_rate=10, max_rate=2000, step_seconds=10)
    stepper = LoadStepper(url=uri, headers=headers, body=body, deployment="green",
                          objective=objective, step_seconds=10, limits=limits)
    outcome = await search(plan, measure=stepper.measure)
    rec = recommend(outcome, facts, target_rps=500, headroom=0.3, prices=PriceTable.default())
    report = CapacityReport(endpoint="ep", facts=facts, objective=objective, outcome=outcome,
                            recommendation=rec, prices=PriceTable.default())
    print(render_text(report))

Imports the load-test engine and base/, nothing above them, and no Slack.
"""

from capacity.chart import render_capacity_chart
from capacity.errors import CapacityError, InvalidSearchError, NotServingError
from capacity.measure import LoadStepper, StepProgress
from capacity.pricing import DEFAULT_PRICES, HOURS_PER_MONTH, PriceTable, format_money
from capacity.recommend import (
    AutoscaleAdvice,
    DeploymentFacts,
    Recommendation,
    Scaling,
    ScalingModel,
    knee_utilization,
    recommend,
)
from capacity.report import (
    CapacityReport,
    answer,
    render_all_steps,
    render_plan,
    render_step_progress,
    render_steps,
    render_text,
    to_dict,
)
from capacity.search import LimitedBy, Objective, SearchOutcome, SearchPlan, Step, search

__all__ = [
    "DEFAULT_PRICES",
    "HOURS_PER_MONTH",
    "AutoscaleAdvice",
    "CapacityError",
    "CapacityReport",
    "DeploymentFacts",
    "InvalidSearchError",
    "LimitedBy",
    "LoadStepper",
    "NotServingError",
    "Objective",
    "PriceTable",
    "Recommendation",
    "Scaling",
    "ScalingModel",
    "SearchOutcome",
    "SearchPlan",
    "Step",
    "StepProgress",
    "answer",
    "format_money",
    "knee_utilization",
    "recommend",
    "render_all_steps",
    "render_capacity_chart",
    "render_plan",
    "render_step_progress",
    "render_steps",
    "render_text",
    "search",
    "to_dict",
]
