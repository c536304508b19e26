"""``flightdeck online-endpoint metrics``: an endpoint's metrics under Azure Monitor's names.

    flightdeck online-endpoint metrics --name product-recommender [--window 5m]

Prints, per deployment, the window's totals and one row a minute: RequestsPerMinute
(and by status code, and by status code class: Azure's ``statusCodeClass`` dimension,
2xx/4xx/5xx), RequestLatency_P50/P90/P95/P99 (ms), CpuUtilizationPercentage,
CpuMemoryUtilizationPercentage and DeploymentCapacity; on the local platform also the
autoscaler's last decisions.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from base.durations import DurationError, format_duration, parse_duration
from cli import messages
from cli.backends import run_with_backend
from cli.output import print_json
from deploy.backend import Backend
from deploy.errors import ValidationError
from deploy.types import MetricsSnapshot, MinuteMetrics, to_json

__all__ = ["add_metrics_verb", "azure_names", "by_status_code_class", "parse_window"]

_MINUTE = timedelta(minutes=1)
_LONGEST = timedelta(minutes=60)


def add_metrics_verb(verbs: Any, common: list[argparse.ArgumentParser]) -> None:
    """Add ``metrics`` to ``online-endpoint``."""
    metrics = verbs.add_parser(
        "metrics", parents=common, help="requests, latency, CPU, memory, capacity per deployment"
    )
    metrics.add_argument("--name", "-n", required=True)
    metrics.add_argument("--window", "-w", default="5m", help=messages.METRICS_WINDOW_HELP)
    metrics.set_defaults(handler=_metrics)


def parse_window(text: str) -> timedelta:
    """``5m``, ``1h``, ``60s``: whole minutes from 1 to 60 (``base.durations``: a bare number
    is seconds, so ``5`` is refused); ``ValidationError`` naming ``--window`` otherwise."""
    try:
        window = parse_duration(text)
    except DurationError as exc:
        raise ValidationError(messages.METRICS_WINDOW_BAD.format(text=text, problem=exc)) from None
    low, high = format_duration(_MINUTE), format_duration(_LONGEST)
    if window < _MINUTE or window % _MINUTE:
        raise ValidationError(
            messages.METRICS_WINDOW_MINUTES.format(
                text=text, duration=format_duration(window), low=low, high=high
            )
        )
    if window > _LONGEST:
        raise ValidationError(messages.METRICS_WINDOW_RANGE.format(text=text, low=low, high=high))
    return window


def by_status_code_class(by_status: Mapping[str, int]) -> dict[str, int]:
    """Requests by Azure's ``statusCodeClass`` (``2xx``, ``4xx``, ``5xx``) from counts by
    status code (``"200"``) or already by class (``"5xx"``, where Azure had no code)."""
    classes: dict[str, int] = {}
    for code, count in by_status.items():
        name = f"{code[0]}xx" if code[:1].isdigit() else code
        classes[name] = classes.get(name, 0) + count
    return dict(sorted(classes.items()))


def _row(row: MinuteMetrics) -> dict[str, Any]:
    return {
        "RequestsPerMinute": row.requests,
        "RequestsByStatusCode": dict(row.requests_by_status),
        "RequestsByStatusCodeClass": by_status_code_class(row.requests_by_status),
        "RequestLatency_P50": row.latency_p50_ms,
        "RequestLatency_P90": row.latency_p90_ms,
        "RequestLatency_P95": row.latency_p95_ms,
        "RequestLatency_P99": row.latency_p99_ms,
        "CpuUtilizationPercentage": row.cpu_utilization_percentage,
        "CpuMemoryUtilizationPercentage": row.cpu_memory_utilization_percentage,
        "DeploymentCapacity": row.deployment_capacity,
    }


def azure_names(snapshot: MetricsSnapshot) -> dict[str, Any]:
    """The snapshot as JSON under Azure Monitor's metric names."""
    minutes = max((snapshot.end - snapshot.start).total_seconds() / 60, 1.0)
    deployments = {}
    for name, metrics in sorted(snapshot.deployments.items()):
        window = _row(metrics.window)
        window["RequestsPerMinute"] = round(metrics.window.requests / minutes, 2)
        window["Requests"] = metrics.window.requests
        deployments[name] = {
            "window": window,
            "minutes": [
                {"timestamp": row.timestamp.isoformat(), **_row(row)} for row in metrics.minutes
            ],
        }
    return {
        "endpoint": snapshot.endpoint,
        "start": snapshot.start.isoformat(),
        "end": snapshot.end.isoformat(),
        "deployments": deployments,
    }


def _metrics(args: argparse.Namespace) -> int:
    window = parse_window(args.window)

    async def work(backend: Backend) -> dict[str, Any]:
        result = azure_names(await backend.metrics(args.name, window))
        decisions = getattr(backend, "autoscale_decisions", None)
        if decisions is not None:
            for name, entry in result["deployments"].items():
                made = await decisions(args.name, name)
                entry["autoscale_decisions"] = [to_json(d) for d in made[-10:]]
        return result

    print_json(run_with_backend(args, work))
    return 0
