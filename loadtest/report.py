"""A result as a plain-text summary table, as a JSON-ready dict, and a progress line.

Headers and body are never rendered: they may hold the endpoint's key.

Usage::

    print(render_text(result))
    print(json.dumps(to_dict(result), indent=2))
    print(render_progress(progress))
"""

from __future__ import annotations

from typing import Any

from base.numbers import format_number
from loadtest import messages
from loadtest.plan import Mode
from loadtest.result import LatencyStats, LoadTestResult, Progress

__all__ = ["render_progress", "render_text", "to_dict"]


def _latency_values(stats: LatencyStats) -> tuple[float, ...]:
    return (stats.p50, stats.p90, stats.p95, stats.p99, stats.p999, stats.max, stats.mean)


def _latency_dict(stats: LatencyStats | None) -> dict[str, float] | None:
    if stats is None:
        return None
    keys = ("p50", "p90", "p95", "p99", "p99_9", "max", "mean")
    latency = dict(zip(keys, _latency_values(stats), strict=True))
    latency["min"] = stats.min
    return latency


def _ms(value: float) -> str:
    """Milliseconds with three significant-ish digits: 0.123, 12.3, 1234."""
    if value < 1:
        return f"{value:.3f}"
    if value < 100:
        return f"{value:.2f}"
    return f"{value:.0f}"


def render_text(result: LoadTestResult) -> str:
    """The summary as a plain-text table (for the terminal and a Slack code block)."""
    plan = result.plan
    if plan.mode is Mode.CLOSED:
        title = messages.TITLE_CLOSED.format(
            url=plan.url, requests=plan.requests, concurrency=plan.concurrency
        )
    else:
        title = messages.TITLE_OPEN.format(
            url=plan.url,
            rate=format_number(plan.rate or 0),
            duration=format_number(plan.duration or 0),
            concurrency=plan.concurrency,
        )
    lines = [title]
    if plan.deployment:
        lines.append(messages.TITLE_DEPLOYMENT.format(deployment=plan.deployment))
    if result.cancelled:
        lines.append(messages.CANCELLED_NOTE.format(elapsed=result.elapsed))
    lines.append("")
    lines.append(
        messages.LINE_REQUESTS.format(
            sent=result.sent, completed=result.completed, ok=result.ok, errors=result.errors
        )
    )
    lines.append(
        messages.LINE_THROUGHPUT.format(throughput=result.throughput, elapsed=result.elapsed)
    )
    if plan.mode is Mode.OPEN:
        lines.append(
            messages.LINE_OPEN_SENDS.format(
                late_ms=format_number(plan.late_threshold * 1000),
                late=result.late_sends,
                dropped=result.dropped_sends,
            )
        )
    lines.append("")
    if result.latency is None:
        lines.append(messages.LINE_NO_LATENCY)
    else:
        cells = [_ms(v) for v in _latency_values(result.latency)]
        width = max(8, *(len(c) + 2 for c in cells))
        lines.append(messages.LINE_LATENCY_HEAD)
        lines.append("".join(label.rjust(width) for label in messages.LATENCY_LABELS))
        lines.append("".join(cell.rjust(width) for cell in cells))
        sent = result.latency_from_send
        if sent is not None:
            lines.append(messages.LINE_FROM_SEND.format(p50=_ms(sent.p50), p99=_ms(sent.p99)))
    if result.status_counts:
        lines.append("")
        lines.append(messages.LINE_STATUS_HEAD)
        lines.extend(f"  {status:<18}{count:>9}" for status, count in result.status_counts.items())
    if result.error_counts:
        lines.append("")
        lines.append(messages.LINE_ERRORS_HEAD)
        lines.extend(f"  {name:<18}{count:>9}" for name, count in result.error_counts.items())
    return "\n".join(lines)


def render_progress(progress: Progress) -> str:
    """One line: elapsed, sent, ok, errors, P99 so far."""
    p99 = messages.PROGRESS_NO_P99 if progress.p99_ms is None else f"{_ms(progress.p99_ms)} ms"
    return messages.PROGRESS_LINE.format(
        elapsed=progress.elapsed,
        sent=progress.sent,
        ok=progress.ok,
        errors=progress.errors,
        p99=p99,
    )


def to_dict(result: LoadTestResult) -> dict[str, Any]:
    """The result as plain JSON-ready data (``--json``); latencies in milliseconds."""
    plan = result.plan
    latency = _latency_dict(result.latency)
    return {
        "plan": {
            "url": plan.url,
            "mode": plan.mode.value,
            "method": plan.method,
            "deployment": plan.deployment,
            "requests": plan.requests,
            "concurrency": plan.concurrency,
            "rate": plan.rate,
            "duration_s": plan.duration,
            "timeout_s": plan.timeout,
            "late_threshold_ms": plan.late_threshold * 1000,
            "body_bytes": len(plan.body),
        },
        "started_at": result.started_at.isoformat(),
        "elapsed_s": result.elapsed,
        "cancelled": result.cancelled,
        "sent": result.sent,
        "completed": result.completed,
        "ok": result.ok,
        "errors": result.errors,
        "throughput_rps": result.throughput,
        "latency_ms": latency,
        "latency_from_send_ms": _latency_dict(result.latency_from_send),
        "status_counts": {str(k): v for k, v in result.status_counts.items()},
        "error_counts": dict(result.error_counts),
        "late_sends": result.late_sends,
        "dropped_sends": result.dropped_sends,
        "timeline": [
            {
                "start_s": b.start,
                "width_s": b.width,
                "responses": b.responses,
                "errors": b.errors,
                "p50_ms": b.p50_ms,
                "p99_ms": b.p99_ms,
                "max_ms": b.max_ms,
            }
            for b in result.timeline
        ],
        "percentile_curve": [[p, ms] for p, ms in result.percentile_curve],
        "histogram": result.histogram,
    }
