"""A small PNG chart of an alert's last minutes: the rule's value per minute and its threshold.

Headless (an Agg canvas, no pyplot, no display); about 600 x 240 pixels.

    png = render_alert_chart(points, rule=rule, endpoint="product-recommender", deployment="green")
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from alerts import messages
from alerts.notifier import ChartPoint
from alerts.rules import Rule

__all__ = ["render_alert_chart"]


def render_alert_chart(
    points: Sequence[ChartPoint],
    *,
    rule: Rule,
    endpoint: str,
    deployment: str,
    dpi: int = 100,
) -> bytes:
    """The chart as PNG bytes; minutes without data are gaps."""
    # Imported here: matplotlib takes a while to import, and only charts need it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 2.4), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    ax.set_title(
        messages.CHART_TITLE.format(label=rule.label(), deployment=deployment, endpoint=endpoint),
        fontsize="medium",
    )
    ax.set_xlabel(messages.CHART_TIME, fontsize="small")
    ax.set_ylabel(rule.unit(), fontsize="small")
    # Minutes as x, labelled HH:MM (UTC); the whole span is shown, minutes without data as gaps.
    times = [when.timestamp() / 60.0 for when, _ in points]
    values = [float("nan") if value is None else value for _, value in points]
    if not any(value is not None for _, value in points):
        ax.text(0.5, 0.5, messages.CHART_NO_DATA, ha="center", va="center", transform=ax.transAxes)
    else:
        ax.plot(times, values, marker="o", markersize=3, color="tab:red")
    if times:
        ax.set_xlim(times[0], times[-1] if len(times) > 1 else times[0] + 1)
        step = max(1, len(points) // 6)
        ticks = list(range(0, len(points), step))
        ax.set_xticks(
            [times[i] for i in ticks], labels=[points[i][0].strftime("%H:%M") for i in ticks]
        )
    if rule.kind != "no_traffic":
        label = messages.CHART_THRESHOLD.format(threshold=rule.format_threshold())
        ax.axhline(rule.threshold, color="tab:gray", linestyle="--", linewidth=1, label=label)
        ax.legend(loc="upper left", fontsize="x-small")
    ax.set_ylim(bottom=0)
    ax.tick_params(labelsize="x-small")
    ax.grid(True, alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
