"""A search's answer: ``CapacityReport``, as a sentence, a text table and a JSON-ready dict.

report = CapacityReport(endpoint="ep", facts=facts, objective=objective, outcome=outcome,
                        recommendation=rec, prices=table)
print(answer(report)); print(render_text(report)); json.dumps(to_dict(report))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from base.durations import format_duration
from capacity import messages
from capacity.measure import StepProgress
from capacity.pricing import PriceTable, format_money
from capacity.recommend import DeploymentFacts, Recommendation, Scaling, knee_utilization
from capacity.search import Objective, SearchOutcome, SearchPlan, Step

__all__ = [
    "CapacityReport",
    "Scaling",
    "answer",
    "render_all_steps",
    "render_plan",
    "render_step_progress",
    "render_steps",
    "render_text",
    "to_dict",
]


@dataclass(frozen=True, kw_only=True)
class CapacityReport:
    """Everything the answer shows."""

    endpoint: str
    facts: DeploymentFacts
    objective: Objective
    outcome: SearchOutcome
    prices: PriceTable
    recommendation: Recommendation | None = None
    target_from_peak: bool = False
    #: The window the peak was read over (when ``target_from_peak``).
    peak_window: timedelta | None = None
    scaling: Scaling | None = None
    #: Why scaling was asked for but not measured (e.g. one instance already served --max-rate).
    scaling_skipped: str | None = None
    seconds: float | None = None

    @property
    def per_instance_rps(self) -> float:
        """Capacity per instance: the 1-instance figure when scaling was measured."""
        if self.scaling is not None:
            return self.scaling.one_rps
        return self.outcome.capacity_rps / max(self.facts.instances, 1)


def _ms(value: float | None) -> str:
    if value is None:
        return messages.NO_VALUE
    return f"{value:.1f}" if value < 1000 else f"{value:.0f}"


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%" if value < 0.1 else f"{value * 100:.0f}%"


def _result(step: Step) -> str:
    if step.passed:
        return messages.PASS
    return messages.STOPPED_EARLY if step.stopped_early else messages.FAIL


def render_steps(steps: tuple[Step, ...] | list[Step]) -> str:
    """The table of steps (plain text, for a terminal or a Slack code block)."""
    lines = list(messages.STEP_HEAD)
    for n, step in enumerate(steps, start=1):
        lines.append(
            messages.STEP_LINE.format(
                n=n,
                offered=step.offered_rps,
                achieved=step.achieved_rps,
                p50=_ms(step.p50_ms),
                p99=_ms(step.p99_ms),
                errors=_pct(step.error_rate),
                result=_result(step),
            )
        )
    return "\n".join(lines)


def render_step_progress(progress: StepProgress) -> str:
    """One line for a running step."""
    p = progress.progress
    return messages.PROGRESS_LINE.format(
        n=progress.number,
        offered=progress.offered_rps,
        elapsed=p.elapsed,
        sent=p.sent,
        p99=_ms(p.p99_ms) + (" ms" if p.p99_ms is not None else ""),
        errors=p.errors + p.dropped,
    )


def render_plan(plan: SearchPlan, *, max_requests_per_step: int | None = None) -> str:
    """The dry run: the ramp, the bisection, the most steps, load and time."""
    ramp = plan.ramp()
    requests = max_requests_per_step or int(plan.max_rate * plan.step_seconds)
    return messages.PLAN_LINE.format(
        ramp=", ".join(f"{r:g}" for r in ramp),
        growth=plan.growth,
        precision=plan.precision * 100,
        step=plan.step_seconds,
        steps=plan.max_steps,
        total=format_duration(timedelta(seconds=round(plan.max_seconds))),
        max_rate=plan.max_rate,
        requests=requests,
    )


def answer(report: CapacityReport) -> str:
    """The answer in a sentence."""
    outcome, facts, objective = report.outcome, report.facts, report.objective
    if outcome.capacity_rps <= 0:
        lowest = min((s.offered_rps for s in outcome.steps), default=0.0)
        return (
            messages.ANSWER_NONE.format(
                deployment=facts.name,
                p99=objective.max_p99_ms,
                errors=objective.max_error_rate * 100,
                lowest=lowest,
            )
            + "."
        )
    text = messages.ANSWER.format(
        deployment=facts.name,
        per_instance=report.per_instance_rps,
        p99=objective.max_p99_ms,
        total=outcome.capacity_rps,
        instances=facts.instances,
        s="" if facts.instances == 1 else "s",
        limited_by=messages.LIMITED_BY[outcome.limited_by],
    )
    rec = report.recommendation
    if rec is not None:
        text += messages.ANSWER_TARGET.format(
            target=round(rec.target_rps, 1),
            headroom=rec.headroom * 100,
            count=rec.instance_count,
            sku=facts.instance_type,
        )
        if rec.monthly_cost is not None:
            text += messages.ANSWER_COST.format(cost=format_money(rec.monthly_cost, rec.currency))
    return text + "."


def details(report: CapacityReport) -> list[str]:
    """The lines under the answer: knee, autoscale, cost, advice, scaling."""
    lines: list[str] = []
    utilization = knee_utilization(report.outcome, report.facts)
    cpu = report.facts.cpu_percent
    lines.append(
        messages.KNEE_LINE.format(
            utilization=messages.NOT_AVAILABLE if utilization is None else f"{utilization:.0f}%",
            cpu=messages.NOT_AVAILABLE if cpu is None else f"{cpu:.0f}%",
        )
    )
    knee = report.outcome.knee_step
    if knee is not None and knee.late_fraction > 0.05:
        lines.append(messages.GENERATOR_LATE.format(late=knee.late_fraction, rate=knee.offered_rps))
    if report.scaling is not None:
        s = report.scaling
        text = messages.SCALING.format(one=s.one_rps, two=s.two_rps, factor=s.factor)
        lines.append(
            text
            + messages.SCALING_MODEL[s.model].format(
                one=s.one_rps, gain=s.gain_rps, efficiency=s.efficiency
            )
        )
    elif report.scaling_skipped:
        lines.append(report.scaling_skipped)
    rec = report.recommendation
    if rec is not None:
        if report.target_from_peak:
            window = window_words(report.peak_window or timedelta(days=7))
            lines.append(messages.TARGET_FROM_PEAK.format(rate=rec.target_rps, window=window))
        a = rec.autoscale
        lines.append(
            messages.AUTOSCALE_LINE.format(
                min=a.min_instances,
                max=a.max_instances,
                target=a.target_utilization,
                knee=utilization if utilization is not None else 0.0,
            )
        )
        if rec.hourly_cost is not None and rec.monthly_cost is not None:
            lines.append(
                messages.COST_LINE.format(
                    count=rec.instance_count,
                    sku=report.facts.instance_type,
                    price=f"{rec.price_per_hour:g}",
                    currency=rec.currency,
                    hourly=format_money(rec.hourly_cost, rec.currency),
                    monthly=format_money(rec.monthly_cost, rec.currency),
                )
                + _prices_note(report.prices)
            )
        else:
            lines.append(
                messages.COST_UNPRICED.format(
                    sku=report.facts.instance_type, currency=report.prices.currency
                )
            )
        lines.extend(rec.notes)
    return lines


def window_words(window: timedelta) -> str:
    """``7 days``, ``day``, ``hour``, ``30 minutes``: what follows "the last"."""
    seconds = round(window.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return unit if n == 1 else f"{n} {unit}s"
    return format_duration(window)


def _prices_note(prices: PriceTable) -> str:
    return f" ({messages.PRICES_FROM.format(source=prices.source, as_of=prices.as_of)})"


def render_all_steps(report: CapacityReport) -> str:
    """The table of steps; with a scaling measurement, the 2-instance table under it."""
    text = render_steps(report.outcome.steps)
    if report.scaling is not None and report.scaling.two_steps:
        two = render_steps(report.scaling.two_steps)
        text += f"\n\n{messages.TWO_INSTANCES_TABLE}\n{two}"
    return text


def render_text(report: CapacityReport) -> str:
    """The answer, its details and the table(s) of steps."""
    return "\n".join([answer(report), *details(report), "", render_all_steps(report)])


def _step_dict(step: Step) -> dict[str, Any]:
    return {
        "offered_rps": step.offered_rps,
        "achieved_rps": round(step.achieved_rps, 2),
        "p50_ms": step.p50_ms,
        "p99_ms": step.p99_ms,
        "error_rate": round(step.error_rate, 6),
        "sent": step.sent,
        "status_counts": {str(k): v for k, v in sorted(step.status_counts.items())},
        "stopped_early": step.stopped_early,
        "passed": step.passed,
    }


def to_dict(report: CapacityReport) -> dict[str, Any]:
    """The report as JSON values (the CLI's ``--json``)."""
    outcome, facts = report.outcome, report.facts
    utilization = knee_utilization(outcome, facts)
    data: dict[str, Any] = {
        "endpoint": report.endpoint,
        "deployment": facts.name,
        "instance_type": facts.instance_type,
        "max_p99_ms": report.objective.max_p99_ms,
        "max_error_rate": report.objective.max_error_rate,
        "capacity_rps": round(outcome.capacity_rps, 2),
        "capacity_rps_per_instance": round(report.per_instance_rps, 2),
        "instances_measured": facts.instances,
        "limited_by": outcome.limited_by,
        "first_failing_rps": outcome.knee_fail_rps,
        "utilization_at_knee": None if utilization is None else round(utilization, 1),
        "cpu_percent_at_knee": facts.cpu_percent,
        "worker_count": facts.worker_count,
        "max_concurrent_requests_per_instance": facts.max_concurrent,
        "cancelled": outcome.cancelled,
        "answer": answer(report),
        "steps": [_step_dict(s) for s in outcome.steps],
    }
    if report.seconds is not None:
        data["search_seconds"] = round(report.seconds, 1)
    if report.scaling is not None:
        data["scaling"] = {
            "one_instance_rps": report.scaling.one_rps,
            "two_instances_rps": report.scaling.two_rps,
            "factor": round(report.scaling.factor, 3),
            "efficiency": round(report.scaling.efficiency, 3),
            "model": report.scaling.model,
            "steps_two_instances": [_step_dict(s) for s in report.scaling.two_steps],
        }
    rec = report.recommendation
    if rec is not None:
        data.update(
            target_rps=rec.target_rps,
            target_from_peak=report.target_from_peak,
            peak_window_seconds=(
                report.peak_window.total_seconds() if report.peak_window is not None else None
            ),
            headroom=rec.headroom,
            recommended_instance_count=rec.instance_count,
            recommended_autoscale={
                "min": rec.autoscale.min_instances,
                "max": rec.autoscale.max_instances,
                "target_utilization": rec.autoscale.target_utilization,
            },
            advice=list(rec.notes),
        )
        if rec.monthly_cost is not None and rec.hourly_cost is not None:
            data.update(
                monthly_cost=round(rec.monthly_cost, 2),
                hourly_cost=round(rec.hourly_cost, 4),
                currency=rec.currency,
                prices_source=f"{report.prices.source}, as of {report.prices.as_of}",
            )
    return data
