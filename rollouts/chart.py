"""Charts of a rollout: a line of text for its progress message, a PNG for its last word.

    sparkline([120.0, None, 180.0])                    # '▂ ▇'
    png = render_rollout_chart(rollout)                # canary weight and P99 per interval

Headless (an Agg canvas, no pyplot, no display); about 640 x 360 pixels.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from base.numbers import format_number
from rollouts import messages
from rollouts.machine import Rollout

__all__ = ["render_rollout_chart", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None], *, top: float | None = None) -> str:
    """One character per value, scaled to ``top`` (default: the largest); gaps for ``None``."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    highest = max(top or 0.0, *known) or 1.0
    chars = []
    for value in values:
        if value is None:
            chars.append(" ")
            continue
        index = round((len(_BARS) - 1) * max(value, 0.0) / highest)
        chars.append(_BARS[min(index, len(_BARS) - 1)])
    return "".join(chars)


def render_rollout_chart(rollout: Rollout, *, dpi: int = 100) -> bytes:
    """The canary's weight and P99 (with its limit, and the baseline's) per interval, as PNG."""
    # Imported here: matplotlib takes a while to import, and only this chart needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.6), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    weight_ax, latency_ax = figure.subplots(2, 1, sharex=True)
    results = rollout.results
    xs = list(range(1, len(results) + 1))
    figure.suptitle(
        messages.CHART_TITLE.format(canary=rollout.canary, endpoint=rollout.endpoint),
        fontsize="medium",
    )
    weight_ax.step(xs, [r.weight for r in results], where="mid", color="tab:blue")
    weight_ax.set_ylabel(messages.CHART_WEIGHT, fontsize="small")
    weight_ax.set_ylim(0, 105)
    canary = [float("nan") if r.p99_ms is None else r.p99_ms for r in results]
    base = [float("nan") if r.baseline_p99_ms is None else r.baseline_p99_ms for r in results]
    latency_ax.plot(xs, canary, marker="o", markersize=3, color="tab:red", label=rollout.canary)
    if rollout.primary:
        latency_ax.plot(xs, base, marker=".", color="tab:gray", label=rollout.primary)
    latency_ax.axhline(
        rollout.spec.max_p99_ms,
        color="tab:gray",
        linestyle="--",
        linewidth=1,
        label=messages.CHART_LIMIT.format(limit=format_number(rollout.spec.max_p99_ms)),
    )
    for x, result in zip(xs, results, strict=True):
        if result.verdict == "fail":
            latency_ax.axvspan(x - 0.5, x + 0.5, color="tab:red", alpha=0.12)
    latency_ax.set_ylabel(messages.CHART_P99, fontsize="small")
    latency_ax.set_xlabel(messages.CHART_INTERVALS, fontsize="small")
    latency_ax.set_ylim(bottom=0)
    if xs:
        latency_ax.set_xticks(xs)
        latency_ax.set_xlim(0.5, len(xs) + 0.5)
    latency_ax.legend(loc="upper left", fontsize="x-small")
    if not results:
        latency_ax.text(
            0.5,
            0.5,
            messages.CHART_NO_DATA,
            ha="center",
            va="center",
            transform=latency_ax.transAxes,
        )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
