"""A PNG chart of a search: P99 and error rate against offered rate, with the objective and
the knee marked. Headless (an Agg canvas, no pyplot).

    png = render_capacity_chart(report)
"""

from __future__ import annotations

import io

from capacity import messages
from capacity.report import CapacityReport

__all__ = ["render_capacity_chart"]


def render_capacity_chart(report: CapacityReport, *, dpi: int = 100) -> bytes:
    """The chart as PNG bytes (10 × 5 inches)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 5), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    steps = sorted(report.outcome.steps, key=lambda s: s.offered_rps)
    ax.set_title(messages.CHART_TITLE.format(deployment=report.facts.name))
    ax.set_xlabel(messages.CHART_X)
    ax.set_ylabel(messages.CHART_P99)
    xs = [s.offered_rps for s in steps]
    p99 = [s.p99_ms if s.p99_ms is not None else float("nan") for s in steps]
    ax.plot(xs, p99, color="tab:orange", label="P99", zorder=2)
    good = [s for s in steps if s.passed]
    bad = [s for s in steps if not s.passed]
    ax.scatter(
        [s.offered_rps for s in good],
        [s.p99_ms or 0.0 for s in good],
        color="tab:green",
        marker="o",
        label=messages.CHART_PASS,
        zorder=3,
    )
    ax.scatter(
        [s.offered_rps for s in bad],
        [s.p99_ms or 0.0 for s in bad],
        color="tab:red",
        marker="x",
        label=messages.CHART_FAIL,
        zorder=3,
    )
    objective = report.objective.max_p99_ms
    ax.axhline(
        objective,
        color="tab:orange",
        linestyle="--",
        alpha=0.7,
        label=messages.CHART_OBJECTIVE.format(p99=objective),
    )
    if report.outcome.capacity_rps > 0:
        ax.axvline(
            report.outcome.capacity_rps,
            color="tab:green",
            linestyle=":",
            label=messages.CHART_KNEE.format(rate=report.outcome.capacity_rps),
        )
    top = max([objective * 2, *[v for v in p99 if v == v and v <= objective * 4]])
    ax.set_ylim(0, top)
    ax.set_xlim(left=0)
    ax.grid(True, alpha=0.3)
    errors = ax.twinx()
    errors.bar(
        xs,
        [s.error_rate * 100 for s in steps],
        width=max(xs, default=1.0) / 60,
        color="tab:red",
        alpha=0.3,
        label=messages.CHART_ERRORS,
    )
    errors.set_ylabel(messages.CHART_ERRORS)
    errors.set_ylim(0, 100)
    lines, labels = ax.get_legend_handles_labels()
    more, more_labels = errors.get_legend_handles_labels()
    ax.legend(lines + more, labels + more_labels, loc="upper left", fontsize="small")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
