"""Azure Monitor platform metrics of an endpoint, as Flightdeck's ``MetricsSnapshot``.

``metrics:getBatch`` queries through azure-monitor-querymetrics' ``MetricsClient``
(one-minute grain), each metric read with an aggregation Azure supports for it:

    endpoint     RequestLatency_P50/P90/P95/P99   Average, split by deployment
    endpoint     RequestsPerMinute                Total if supported, else Average (Microsoft
                                                  lists Average only), by deployment,
                                                  statusCodeClass and statusCode
    deployments  CpuUtilizationPercentage,        Average, one series per deployment
                 CpuMemoryUtilizationPercentage
    deployments  DeploymentCapacity               Average, split by instanceId (see below)

What each metric supports comes from the metric definitions API
(``GET {resourceUri}/providers/Microsoft.Insights/metricDefinitions``: each metric's
``supportedAggregationTypes`` and dimensions), read once per resource and cached for
the workspace's lifetime. Asking for an aggregation a metric lacks makes Azure answer
without it (every count reads 0) or refuse the query, so nothing is assumed.

A metric or dimension Azure does not publish is named: without ``RequestsPerMinute``
(or its ``deployment`` dimension) requests cannot be counted and the snapshot is refused
with a ``ValidationError``; a missing latency, CPU or capacity metric stays empty (``None``)
and is logged once per resource; without ``statusCode`` requests are keyed by class ("5xx").

``DeploymentCapacity`` ("the number of instances in the deployment") has the dimensions
instanceId and State, and Minimum/Maximum/Average only. An unsplit Average may be the
per-instance value (1) rather than the count, so it is split by instanceId and each
minute reads: the sum of the instances' values when each is at most 1 (one series per
instance reporting itself), else the largest value (each series, or a single one,
reporting the count).

A minute's ``requests_by_status`` is keyed by status code ("200", "429"), or by
class ("5xx") where Azure has no code. The window's total adds requests, and
averages latencies weighted by each minute's requests (Azure cannot merge
percentiles either) and the gauges over the minutes that have them.
"""

from __future__ import annotations

import logging
import weakref
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.monitor.querymetrics import MetricsQueryResult

from base.clock import as_utc
from deploy.azure import messages
from deploy.azure.lro import run
from deploy.errors import ValidationError
from deploy.types import DeploymentMetrics, MetricsSnapshot, MinuteMetrics

if TYPE_CHECKING:
    from deploy.azure.workspace import Workspace

__all__ = [
    "DEPLOYMENT_NAMESPACE",
    "ENDPOINT_NAMESPACE",
    "MetricDefinition",
    "MetricDefinitions",
    "capacity",
    "read_snapshot",
]

log = logging.getLogger(__name__)

ENDPOINT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
DEPLOYMENT_NAMESPACE = f"{ENDPOINT_NAMESPACE}/deployments"
REQUESTS = "RequestsPerMinute"
CAPACITY = "DeploymentCapacity"
_LATENCY = {
    "RequestLatency_P50": "latency_p50_ms",
    "RequestLatency_P90": "latency_p90_ms",
    "RequestLatency_P95": "latency_p95_ms",
    "RequestLatency_P99": "latency_p99_ms",
}
_GAUGES = {
    "CpuUtilizationPercentage": "cpu_utilization_percentage",
    "CpuMemoryUtilizationPercentage": "cpu_memory_utilization_percentage",
}
_KEYS = {**_LATENCY, **_GAUGES, CAPACITY: "deployment_capacity"}
#: Aggregations in order of preference. A count: Total adds every sample of the minute.
_COUNT_AGGREGATIONS = ("Total", "Average")
_VALUE_AGGREGATIONS = ("Average", "Maximum")
_MINUTE = timedelta(minutes=1)
#: Most time series one query returns (deployments x status codes).
_TOP = 200


@dataclass(frozen=True)
class MetricDefinition:
    """What Azure Monitor publishes for one metric of one resource."""

    name: str
    aggregations: tuple[str, ...]
    dimensions: tuple[str, ...]

    def has(self, dimension: str) -> bool:
        """True when the metric can be split by ``dimension`` (case-insensitive)."""
        return dimension.lower() in {d.lower() for d in self.dimensions}

    def choose(self, preferred: Sequence[str]) -> str | None:
        """The first of ``preferred`` that the metric supports."""
        supported = {a.lower() for a in self.aggregations}
        return next((a for a in preferred if a.lower() in supported), None)


class MetricDefinitions:
    """Metric definitions per resource, read once from Azure Monitor and cached.

    definitions = MetricDefinitions(ws)
    found = await definitions.of(endpoint_id, ENDPOINT_NAMESPACE)
    found["requestsperminute"].choose(["Total", "Average"])  # "Average"
    """

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._cache: dict[str, dict[str, MetricDefinition]] = {}
        self._said: set[str] = set()

    async def of(self, resource_id: str, namespace: str) -> dict[str, MetricDefinition]:
        """The resource's metrics by lower-case name (an empty answer is not cached)."""
        key = resource_id.lower()
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        monitor = self._ws.monitor()

        def listing() -> list[Any]:
            uri = resource_id.lstrip("/")
            return list(monitor.metric_definitions.list(uri, metricnamespace=namespace))

        found = {}
        for item in await run(listing, not_found=None):
            definition = _definition(item)
            found[definition.name.lower()] = definition
        if found:
            self._cache[key] = found
        return found

    def once(self, text: str) -> None:
        """Log ``text`` as a warning the first time only."""
        if text not in self._said:
            self._said.add(text)
            log.warning("%s", text)


def _definition(item: Any) -> MetricDefinition:
    name = str(getattr(item.name, "value", "") or "")
    aggregations = tuple(str(a) for a in item.supported_aggregation_types or ())
    if not aggregations and item.primary_aggregation_type:
        aggregations = (str(item.primary_aggregation_type),)
    dimensions = tuple(str(getattr(d, "value", d)) for d in item.dimensions or ())
    return MetricDefinition(name=name, aggregations=aggregations, dimensions=dimensions)


_DEFINITIONS: weakref.WeakKeyDictionary[Workspace, MetricDefinitions] = weakref.WeakKeyDictionary()


def _definitions_of(ws: Workspace) -> MetricDefinitions:
    found = _DEFINITIONS.get(ws)
    if found is None:
        found = _DEFINITIONS[ws] = MetricDefinitions(ws)
    return found


@dataclass
class _Minute:
    requests: float = 0
    by_status: dict[str, float] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)
    capacity: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class _Query:
    resource_ids: list[str]
    namespace: str
    names: list[str]
    aggregation: str
    filter: str | None = None


async def read_snapshot(
    ws: Workspace,
    *,
    endpoint: str,
    endpoint_id: str,
    deployment_ids: Mapping[str, str],
    start: datetime,
    end: datetime,
) -> MetricsSnapshot:
    """The endpoint's metrics for ``[start, end)``, per deployment and minute."""
    definitions = _definitions_of(ws)
    queries = await _endpoint_queries(definitions, endpoint, endpoint_id)
    if deployment_ids:
        queries += await _deployment_queries(definitions, deployment_ids)
    client = await ws.metrics()
    not_found = f"The metrics of endpoint '{endpoint}' were not found."
    table: dict[str, dict[datetime, _Minute]] = defaultdict(dict)
    for name in deployment_ids:
        table[name] = {}
    by_id = {rid.lower(): name for name, rid in deployment_ids.items()}
    for query in queries:
        results: list[MetricsQueryResult] = await run(
            client.query_resources,
            resource_ids=query.resource_ids,
            metric_namespace=query.namespace,
            metric_names=query.names,
            aggregations=[query.aggregation],
            filter=query.filter,
            timespan=(start, end),
            granularity=_MINUTE,
            max_results=_TOP,
            not_found=not_found,
        )
        if query.namespace == ENDPOINT_NAMESPACE:
            _add_endpoint_series(table, results, query.aggregation)
        else:
            for result in results:
                _add_deployment_series(table, by_id, result, query.aggregation)
    return MetricsSnapshot(
        endpoint=endpoint,
        start=start,
        end=end,
        deployments={
            name: _deployment(name, minutes, start, end) for name, minutes in table.items()
        },
    )


async def _endpoint_queries(
    definitions: MetricDefinitions, endpoint: str, endpoint_id: str
) -> list[_Query]:
    resource = f"endpoint '{endpoint}'"
    found = await definitions.of(endpoint_id, ENDPOINT_NAMESPACE)
    known = ", ".join(sorted(d.name for d in found.values())) or "none"
    requests = found.get(REQUESTS.lower())
    if requests is None:
        raise ValidationError(
            messages.METRIC_MISSING.format(metric=REQUESTS, resource=resource, known=known)
        )
    if not requests.has("deployment"):
        raise ValidationError(
            messages.METRIC_DIMENSION_MISSING.format(
                metric=REQUESTS,
                dimension="deployment",
                resource=resource,
                known=", ".join(requests.dimensions) or "none",
                consequence="Flightdeck cannot tell its deployments' requests apart.",
            )
        )
    aggregation = requests.choose(_COUNT_AGGREGATIONS)
    if aggregation is None:
        raise ValidationError(
            messages.METRIC_AGGREGATION_MISSING.format(
                metric=REQUESTS,
                resource=resource,
                wanted=", ".join(_COUNT_AGGREGATIONS),
                known=", ".join(requests.aggregations) or "none",
            )
        )
    split = ["deployment"]
    for dimension in ("statusCodeClass", "statusCode"):
        if requests.has(dimension):
            split.append(dimension)
        else:
            definitions.once(
                messages.METRIC_DIMENSION_MISSING.format(
                    metric=REQUESTS,
                    dimension=dimension,
                    resource=resource,
                    known=", ".join(requests.dimensions),
                    consequence="requests are counted without it.",
                )
            )
    queries = [_Query([endpoint_id], ENDPOINT_NAMESPACE, [REQUESTS], aggregation, _split(split))]
    groups: dict[str, list[str]] = defaultdict(list)
    for name in _LATENCY:
        latency = found.get(name.lower())
        chosen = latency.choose(_VALUE_AGGREGATIONS) if latency is not None else None
        if latency is None or chosen is None or not latency.has("deployment"):
            definitions.once(messages.METRIC_NOT_PUBLISHED.format(metric=name, resource=resource))
            continue
        groups[chosen].append(name)
    for chosen, names in groups.items():
        queries.append(
            _Query([endpoint_id], ENDPOINT_NAMESPACE, names, chosen, _split(["deployment"]))
        )
    return queries


async def _deployment_queries(
    definitions: MetricDefinitions, deployment_ids: Mapping[str, str]
) -> list[_Query]:
    """Gauges read with an aggregation every deployment supports (one batch per choice)."""
    per_resource = {
        name: await definitions.of(rid, DEPLOYMENT_NAMESPACE)
        for name, rid in deployment_ids.items()
    }
    ids = list(deployment_ids.values())
    groups: dict[str, list[str]] = defaultdict(list)
    queries = []
    for metric in [*_GAUGES, CAPACITY]:
        found = [d.get(metric.lower()) for d in per_resource.values()]
        present = [d for d in found if d is not None]
        chosen = None
        if len(present) == len(found):
            choices = [d.choose(_VALUE_AGGREGATIONS) for d in present]
            chosen = choices[0] if choices and len(set(choices)) == 1 else None
        if chosen is None:
            missing = [n for n, d in per_resource.items() if metric.lower() not in d]
            resource = ", ".join(f"deployment '{n}'" for n in missing) or "some deployments"
            definitions.once(messages.METRIC_NOT_PUBLISHED.format(metric=metric, resource=resource))
            continue
        if metric == CAPACITY:
            by_instance = all(d.has("instanceId") for d in present)
            split = _split(["instanceId"]) if by_instance else None
            queries.append(_Query(ids, DEPLOYMENT_NAMESPACE, [metric], chosen, split))
        else:
            groups[chosen].append(metric)
    for chosen, names in groups.items():
        queries.insert(0, _Query(ids, DEPLOYMENT_NAMESPACE, names, chosen))
    return queries


def _split(dimensions: Iterable[str]) -> str:
    return " and ".join(f"{d} eq '*'" for d in dimensions)


def _value(point: Any, aggregation: str) -> float | None:
    value = getattr(point, aggregation.lower(), None)
    return float(value) if value is not None else None


def _add_endpoint_series(
    table: dict[str, dict[datetime, _Minute]],
    results: Iterable[MetricsQueryResult],
    aggregation: str,
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
                    value = _value(point, aggregation)
                    if value is None:
                        continue
                    row = table[deployment].setdefault(as_utc(point.timestamp), _Minute())
                    if metric.name == REQUESTS:
                        row.requests += value
                        row.by_status[status] = row.by_status.get(status, 0) + value
                    elif metric.name in _LATENCY:
                        row.values[_LATENCY[metric.name]] = value


def _add_deployment_series(
    table: dict[str, dict[datetime, _Minute]],
    by_id: Mapping[str, str],
    result: MetricsQueryResult,
    aggregation: str,
) -> None:
    for metric in result.metrics:
        key = _KEYS.get(metric.name)
        # A metric's id is "<resource id>/providers/Microsoft.Insights/metrics/<name>".
        resource = str(metric.id).lower().split("/providers/microsoft.insights/metrics")[0]
        deployment = by_id.get(resource)
        if key is None or deployment is None:
            continue
        for series in metric.timeseries:
            for point in series.data:
                value = _value(point, aggregation)
                if value is None:
                    continue
                row = table[deployment].setdefault(as_utc(point.timestamp), _Minute())
                if metric.name == CAPACITY:
                    row.capacity.append(value)
                else:
                    row.values[key] = value


def capacity(values: Sequence[float]) -> float | None:
    """A minute's instance count from its DeploymentCapacity series (one per instanceId).

    Each series at most 1: one per instance, reporting itself, so they add up. Otherwise
    a series reports the deployment's count, and the largest one is it.
    """
    if not values:
        return None
    return float(sum(values)) if max(values) <= 1 else float(max(values))


def _deployment(
    name: str, minutes: dict[datetime, _Minute], start: datetime, end: datetime
) -> DeploymentMetrics:
    """One row a minute in ``[start, end)``: zero requests and no values where Azure has none."""
    rows = []
    stamp = start
    while stamp < end:
        row = minutes.get(stamp, _Minute())
        values = dict(row.values)
        count = capacity(row.capacity)
        if count is not None:
            values["deployment_capacity"] = count
        rows.append(
            MinuteMetrics(
                timestamp=stamp,
                requests=round(row.requests),
                requests_by_status={k: round(v) for k, v in row.by_status.items() if round(v)},
                **values,
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
    for key in _KEYS.values():
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
