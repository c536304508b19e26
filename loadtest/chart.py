"""A PNG chart of a result: latency by percentile (log x, as HdrHistogram plots it)
and latency over time. Headless: an Agg canvas, no pyplot, no display.

Usage::

    png = render_chart_png(result)          # bytes, e.g. for files_upload_v2(content=png)
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from loadtest import messages
from loadtest.result import LoadTestResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["render_chart_png"]

_TICKS: tuple[tuple[float, str], ...] = (
    (0.0, "0%"),
    (90.0, "90%"),
    (99.0, "99%"),
    (99.9, "99.9%"),
    (99.99, "99.99%"),
    (99.999, "99.999%"),
    (99.9999, "99.9999%"),
)


def _x(percentile: float, last: float) -> float:
    """The log-axis position of a percentile: 1 / (1 - p), the last point at ``last``."""
    if percentile >= 100.0:
        return last
    return 1.0 / (1.0 - percentile / 100.0)


def _distribution(ax: Axes, result: LoadTestResult) -> None:
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ax.set_title(messages.CHART_DISTRIBUTION_TITLE)
    ax.set_xlabel(messages.CHART_DISTRIBUTION_X)
    ax.set_ylabel(messages.CHART_LATENCY_Y)
    curve = result.percentile_curve
    if not curve:
        ax.text(0.5, 0.5, messages.CHART_NO_DATA, ha="center", va="center")
        return
    finite = [_x(p, 1.0) for p, _ in curve if p < 100.0]
    last = max(finite[-1] * 2 if finite else 2.0, 2.0)
    xs = [_x(p, last) for p, _ in curve]
    ys = [ms for _, ms in curve]
    ax.plot(xs, ys, drawstyle="steps-post", color="tab:blue")
    ax.set_xscale("log")
    ticks = [(_x(p, last), label) for p, label in _TICKS if _x(p, last) <= last]
    ax.xaxis.set_major_locator(FixedLocator([x for x, _ in ticks]))
    ax.set_xticklabels([label for _, label in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(1.0, last)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)


def _timeline(ax: Axes, result: LoadTestResult) -> None:
    ax.set_title(messages.CHART_TIMELINE_TITLE)
    ax.set_xlabel(messages.CHART_TIMELINE_X)
    ax.set_ylabel(messages.CHART_LATENCY_Y)
    buckets = [b for b in result.timeline if b.p50_ms is not None]
    if not buckets:
        ax.text(0.5, 0.5, messages.CHART_NO_DATA, ha="center", va="center")
        return
    mids = [b.start + b.width / 2 for b in buckets]
    series = (
        [b.max_ms or 0.0 for b in buckets],
        [b.p99_ms or 0.0 for b in buckets],
        [b.p50_ms or 0.0 for b in buckets],
    )
    colors = ("tab:red", "tab:orange", "tab:blue")
    for label, values, color in zip(messages.CHART_SERIES, series, colors, strict=True):
        ax.plot(mids, values, marker=".", label=label, color=color)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    rate = ax.twinx()
    rate.bar(
        [b.start + b.width / 2 for b in result.timeline],
        [b.responses / b.width for b in result.timeline],
        width=[b.width * 0.9 for b in result.timeline],
        color="tab:gray",
        alpha=0.2,
        label=messages.CHART_RATE,
    )
    rate.set_ylabel(messages.CHART_RATE)
    rate.set_ylim(bottom=0)
    lines, labels = ax.get_legend_handles_labels()
    more_lines, more_labels = rate.get_legend_handles_labels()
    ax.legend(lines + more_lines, labels + more_labels, loc="upper left", fontsize="small")


def render_chart_png(result: LoadTestResult, *, dpi: int = 100) -> bytes:
    """The chart as PNG bytes (two panels, 12 x 4.5 inches)."""
    # Imported here: matplotlib takes a while to import, and only charts need it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 4.5), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    _distribution(left, result)
    _timeline(right, result)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
