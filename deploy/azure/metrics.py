"""Azure Monitor platform metrics of an endpoint, as Flightdeck's ``MetricsSnapshot``.

Three ``metrics:getBatch`` queries through azure-monitor-querymetrics' ``MetricsClient``
(one-minute grain):

    endpoint     RequestLatency_P50/P90/P95/P99   Average, split by deployment
    endpoint     RequestsPerMinute                Total, by deployment, statusCodeClass
                                                  and statusCode
    deployments  CpuUtilizationPercentage,        Average, one series per deployment
                 CpuMemoryUtilizationPercentage,
                 DeploymentCapacity

A minute's ``requests_by_status`` is keyed by status code ("200", "429"), or by
class ("5xx") where Azure has no code. The window's total adds requests, and
averages latencies weighted by each minute's requests (Azure cannot merge
percentiles either) and the gauges over the minutes that have them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from azure.monitor.querymetrics import MetricsClient, MetricsQueryResult

from base.clock import as_utc
from deploy.azure.lro import run
from deploy.types import DeploymentMetrics, MetricsSnapshot, MinuteMetrics

__all__ = ["DEPLOYMENT_NAMESPACE", "ENDPOINT_NAMESPACE", "read_snapshot"]

ENDPOINT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
DEPLOYMENT_NAMESPACE = f"{ENDPOINT_NAMESPACE}/deployments"
_LATENCY = {
    "RequestLatency_P50": "latency_p50_ms",
    "RequestLatency_P90": "latency_p90_ms",
    "RequestLatency_P95": "latency_p95_ms",
    "RequestLatency_P99": "latency_p99_ms",
}
_GAUGES = {
    "CpuUtilizationPercentage": "cpu_utilization_percentage",
    "CpuMemoryUtilizationPercentage": "cpu_memory_utilization_percentage",
    "DeploymentCapacity": "deployment_capacity",
}
_MINUTE = timedelta(minutes=1)
#: Most time series one query returns (deployments x status codes).
_TOP = 200


@dataclass
class _Minute:
    requests: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)


async def read_snapshot(
    client: MetricsClient,
    *,
    endpoint: str,
    endpoint_id: str,
    deployment_ids: Mapping[str, str],
    start: datetime,
    end: datetime,
) -> MetricsSnapshot:
    """The endpoint's metrics for ``[start, end)``, per deployment and minute."""
    not_found = f"The metrics of endpoint '{endpoint}' were not found."
    common: dict[str, Any] = {"timespan": (start, end), "granularity": _MINUTE, "max_results": _TOP}
    latency = await run(
        client.query_resources,
        resource_ids=[endpoint_id],
        metric_namespace=ENDPOINT_NAMESPACE,
        metric_names=list(_LATENCY),
        aggregations=["Average"],
        filter="deployment eq '*'",
        not_found=not_found,
        **common,
    )
    requests = await run(
        client.query_resources,
        resource_ids=[endpoint_id],
        metric_namespace=ENDPOINT_NAMESPACE,
        metric_names=["RequestsPerMinute"],
        aggregations=["Total"],
        filter="deployment eq '*' and statusCodeClass eq '*' and statusCode eq '*'",
        not_found=not_found,
        **common,
    )
    gauges: list[MetricsQueryResult] = []
    if deployment_ids:
        gauges = await run(
            client.query_resources,
            resource_ids=list(deployment_ids.values()),
            metric_namespace=DEPLOYMENT_NAMESPACE,
            metric_names=list(_GAUGES),
            aggregations=["Average"],
            not_found=not_found,
            **common,
        )
    table: dict[str, dict[datetime, _Minute]] = defaultdict(dict)
    for name in deployment_ids:
        table[name] = {}
    _add_endpoint_series(table, [*latency, *requests])
    by_id = {rid.lower(): name for name, rid in deployment_ids.items()}
    for result in gauges:
        _add_gauges(table, by_id, result)
    return MetricsSnapshot(
        endpoint=endpoint,
        start=start,
        end=end,
        deployments={
            name: _deployment(name, minutes, start, end) for name, minutes in table.items()
        },
    )


def _add_endpoint_series(
    table: dict[str, dict[datetime, _Minute]], results: Iterable[MetricsQueryResult]
) -> None:
    for result in results:
        for metric in result.metrics:
            for series in metric.timeseries:
                dims = {str(k).lower(): str(v) for k, v in series.metadata_values.items()}
                deployment = dims.get("deployment")
                if not deployment:
                    continue
                status = dims.get("statuscode") or dims.get("statuscodeclass") or "unknown"
                for point in series.data:
                    if metric.name == "RequestsPerMinute":
                        if point.total is None:
                            continue
                        row = table[deployment].setdefault(as_utc(point.timestamp), _Minute())
                        count = int(point.total)
                        row.requests += count
                        row.by_status[status] = row.by_status.get(status, 0) + count
                    elif metric.name in _LATENCY and point.average is not None:
                        row = table[deployment].setdefault(as_utc(point.timestamp), _Minute())
                        row.values[_LATENCY[metric.name]] = float(point.average)


def _add_gauges(
    table: dict[str, dict[datetime, _Minute]], by_id: Mapping[str, str], result: MetricsQueryResult
) -> None:
    for metric in result.metrics:
        key = _GAUGES.get(metric.name)
        # A metric's id is "<resource id>/providers/Microsoft.Insights/metrics/<name>".
        resource = str(metric.id).lower().split("/providers/microsoft.insights/metrics")[0]
        deployment = by_id.get(resource)
        if key is None or deployment is None:
            continue
        for series in metric.timeseries:
            for point in series.data:
                if point.average is not None:
                    row = table[deployment].setdefault(as_utc(point.timestamp), _Minute())
                    row.values[key] = float(point.average)


def _deployment(
    name: str, minutes: dict[datetime, _Minute], start: datetime, end: datetime
) -> DeploymentMetrics:
    """One row a minute in ``[start, end)``: zero requests and no values where Azure has none."""
    rows = []
    stamp = start
    while stamp < end:
        row = minutes.get(stamp, _Minute())
        rows.append(
            MinuteMetrics(
                timestamp=stamp,
                requests=row.requests,
                requests_by_status=dict(row.by_status),
                **row.values,
            )
        )
        stamp += _MINUTE
    return DeploymentMetrics(deployment=name, minutes=tuple(rows), window=_window(rows, start))


def _window(rows: list[MinuteMetrics], start: datetime) -> MinuteMetrics:
    by_status: dict[str, int] = defaultdict(int)
    for row in rows:
        for code, count in row.requests_by_status.items():
            by_status[code] += count
    values: dict[str, float] = {}
    for key in [*_LATENCY.values(), *_GAUGES.values()]:
        weighted = [
            (getattr(row, key), row.requests if key in _LATENCY.values() else 1)
            for row in rows
            if getattr(row, key) is not None
        ]
        total_weight = sum(w for _, w in weighted)
        if weighted and total_weight > 0:
            values[key] = sum(v * w for v, w in weighted) / total_weight
        elif weighted:
            values[key] = sum(v for v, _ in weighted) / len(weighted)
    return MinuteMetrics(
        timestamp=start,
        requests=sum(row.requests for row in rows),
        requests_by_status=dict(by_status),
        **values,
    )
