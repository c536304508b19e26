"""The fake Azure Monitor metrics: ``POST /subscriptions/{s}/metrics:getBatch`` and definitions.

Metrics come from what the fake saw: ``record_request`` (the fake scoring server
calls it for every scoring request) and ``record_cpu``. Answers have the real
response shape, split by the dimensions the ``filter`` names with ``'*'``; a
filter on a dimension a metric does not have is refused, as Azure refuses it.
Percentiles are nearest-rank over a minute's samples.

Each metric has only the aggregations and dimensions Microsoft's supported-metrics
reference lists for it ("Supported metrics for
Microsoft.MachineLearningServices/workspaces/onlineEndpoints" and ".../onlineEndpoints/deployments",
https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/microsoft-machinelearningservices-workspaces-onlineendpoints-metrics
and ...-onlineendpoints-deployments-metrics): ``RequestsPerMinute`` is ``Average`` only
(dimensions deployment, statusCode, statusCodeClass, modelStatusCode); the deployment
gauges are Minimum, Maximum, Average; ``DeploymentCapacity`` ("the number of instances
in the deployment") has the dimensions instanceId and State. An aggregation a metric
does not support is left out of the answer (``unsupported="omit"``, a point without a
``total``) or refused with 400 (``unsupported="refuse"``): Azure is documented to do
either. ``GET {resourceUri}/providers/Microsoft.Insights/metricDefinitions`` answers
what the reference lists, in the shape of the REST API specification's example
(specification/monitor/.../2018-01-01/examples/GetMetricDefinitions.json).

``DeploymentCapacity`` is reported per instance: a series per ``instanceId`` whose value
is 1 (``capacity_reading="per-instance"``), so an unsplit Average is 1 whatever the
instance count; ``capacity_reading="count"`` reports the instance count itself, once per
deployment. ``remove(metric, dimension)`` takes a metric (or one of its dimensions) out
of the definitions and the answers, as when Azure stops publishing it.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import isodate  # type: ignore[import-untyped]  # isodate ships no types

from tests.support.fake_arm_http import Call, Reply, arm_error

if TYPE_CHECKING:
    from tests.support.fake_arm import FakeArm

__all__ = ["DEPLOYMENT_METRICS", "ENDPOINT_METRICS", "MetricSpec", "MetricsService"]

ENDPOINT_NS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
DEPLOYMENT_NS = f"{ENDPOINT_NS}/deployments"
_REQ_DIMS = ("deployment", "statusCode", "statusCodeClass", "modelStatusCode")
_GAUGE = ("Minimum", "Maximum", "Average")


@dataclass(frozen=True)
class MetricSpec:
    """What the supported-metrics reference lists for one metric."""

    unit: str
    dimensions: tuple[str, ...]
    aggregations: tuple[str, ...]


#: Metric name -> its unit, dimensions and aggregations, per namespace.
ENDPOINT_METRICS: dict[str, MetricSpec] = {
    "RequestsPerMinute": MetricSpec("Count", _REQ_DIMS, ("Average",)),
    "RequestLatency": MetricSpec("Milliseconds", ("deployment",), ("Average",)),
    **{
        f"RequestLatency_P{p}": MetricSpec("Milliseconds", ("deployment",), ("Average",))
        for p in (50, 90, 95, 99)
    },
}
DEPLOYMENT_METRICS: dict[str, MetricSpec] = {
    "CpuUtilizationPercentage": MetricSpec("Percent", ("instanceId",), _GAUGE),
    "CpuMemoryUtilizationPercentage": MetricSpec("Percent", ("instanceId",), _GAUGE),
    "DeploymentCapacity": MetricSpec("Count", ("instanceId", "State"), _GAUGE),
}


@dataclass(frozen=True)
class _Request:
    endpoint: str
    deployment: str
    status: int
    latency_ms: float
    at: float


class MetricsService:
    """What the fake's endpoints measured, the getBatch handler and the metric definitions."""

    def __init__(self, arm: FakeArm) -> None:
        self.arm = arm
        self.requests: list[_Request] = []
        self.cpu: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
        #: "omit" (answer without the unsupported aggregation) or "refuse" (400).
        self.unsupported = "omit"
        #: "per-instance" (a series of 1 per instance) or "count" (the instance count).
        self.capacity_reading = "per-instance"
        self.removed: set[tuple[str, str | None]] = set()

    def record_request(
        self, endpoint: str, deployment: str, status: int, latency_ms: float, at: float
    ) -> None:
        """One scoring request, as the endpoint's metrics count it."""
        with self.arm.lock:
            self.requests.append(_Request(endpoint, deployment, status, latency_ms, at))

    def record_cpu(self, endpoint: str, deployment: str, percent: float, at: float) -> None:
        """A CPU utilization sample of a deployment."""
        with self.arm.lock:
            self.cpu[(endpoint, deployment)].append((at, percent))

    def remove(self, metric: str, dimension: str | None = None) -> None:
        """Stop publishing ``metric`` (or only its ``dimension``)."""
        self.removed.add((metric.lower(), dimension.lower() if dimension else None))

    def catalogue(self, namespace: str) -> dict[str, MetricSpec] | None:
        """The metrics of ``namespace`` as published now (``None``: unknown namespace)."""
        known = {ENDPOINT_NS.lower(): ENDPOINT_METRICS, DEPLOYMENT_NS.lower(): DEPLOYMENT_METRICS}
        metrics = known.get(namespace.lower())
        if metrics is None:
            return None
        out = {}
        for name, spec in metrics.items():
            if (name.lower(), None) in self.removed:
                continue
            dims = tuple(
                d for d in spec.dimensions if (name.lower(), d.lower()) not in self.removed
            )
            out[name] = MetricSpec(spec.unit, dims, spec.aggregations)
        return out

    def definitions(self, call: Call, resource_uri: str) -> Reply:
        """``GET {resourceUri}/providers/Microsoft.Insights/metricDefinitions``."""
        rid = "/" + resource_uri.strip("/")
        namespace = call.query.get("metricnamespace") or (
            DEPLOYMENT_NS if "/deployments/" in rid.lower() else ENDPOINT_NS
        )
        if self._resource(rid, namespace) is None:
            return arm_error(404, "ResourceNotFound", f"The resource '{rid}' was not found.")
        metrics = self.catalogue(namespace) or {}
        value = [
            {
                "id": f"{rid}/providers/microsoft.insights/metricdefinitions/{name}",
                "resourceId": rid,
                "namespace": namespace,
                "name": {"value": name, "localizedValue": name},
                "isDimensionRequired": False,
                "unit": spec.unit,
                "primaryAggregationType": spec.aggregations[-1],
                "supportedAggregationTypes": list(spec.aggregations),
                "metricAvailabilities": [{"timeGrain": "PT1M", "retention": "P93D"}],
                "dimensions": [{"value": d, "localizedValue": d} for d in spec.dimensions],
            }
            for name, spec in metrics.items()
        ]
        return Reply(200, {"value": value})

    def metrics_batch(self, call: Call) -> Reply:
        if call.method != "POST" or not call.path.endswith("/metrics:getBatch"):
            return arm_error(404, "NotFound", call.path)
        q = call.query
        namespace = q.get("metricnamespace", "")
        names = [n for n in q.get("metricnames", "").split(",") if n]
        start = _parse_time(q["starttime"])
        end = _parse_time(q["endtime"])
        interval = isodate.parse_duration(q.get("interval", "PT1M"))
        asked = [a.strip().lower() for a in q.get("aggregation", "").split(",") if a.strip()]
        split = _parse_filter(q.get("filter", ""))
        top = int(q.get("top", "10"))
        metrics = self.catalogue(namespace)
        if metrics is None:
            return arm_error(400, "BadRequest", f"Unknown metric namespace '{namespace}'.")
        values = []
        for rid in (call.body or {}).get("resourceids", []):
            parsed = self._resource(rid, namespace)
            if parsed is None:
                return arm_error(400, "BadRequest", f"Resource '{rid}' is not a {namespace}.")
            series = []
            for name in names:
                if name not in metrics:
                    return arm_error(
                        400,
                        "BadRequest",
                        f"Failed to find metric configuration for provider: {namespace}, "
                        f"resource Type: {namespace}, metric: {name}.",
                    )
                spec = metrics[name]
                unknown = [
                    d for d in split if d.lower() not in {x.lower() for x in spec.dimensions}
                ]
                if unknown:
                    return arm_error(
                        400,
                        "BadRequest",
                        f"Metric: {name} does not support requested dimension combination: "
                        f"{', '.join(unknown)}.",
                    )
                supported = [a.lower() for a in spec.aggregations]
                aggregations = [a for a in asked if a in supported] if asked else [supported[-1]]
                refused = [a for a in asked if a not in supported]
                if refused and self.unsupported == "refuse":
                    return arm_error(
                        400,
                        "BadRequest",
                        f"Metric: {name} does not support aggregation type(s): "
                        f"{', '.join(refused)}. Supported: {', '.join(spec.aggregations)}.",
                    )
                points = self._points(name, parsed, split, start, end)
                series.append(
                    {
                        "id": f"{rid}/providers/Microsoft.Insights/metrics/{name}",
                        "type": "Microsoft.Insights/metrics",
                        "name": {"value": name, "localizedValue": name},
                        "displayDescription": name,
                        "unit": spec.unit,
                        "errorCode": "Success",
                        "timeseries": _timeseries(points, start, end, interval, aggregations)[:top],
                    }
                )
            values.append(
                {
                    "starttime": _iso(start),
                    "endtime": _iso(end),
                    "interval": isodate.duration_isoformat(interval),
                    "namespace": namespace,
                    "resourceregion": self.arm.location,
                    "resourceid": rid,
                    "value": series,
                }
            )
        return Reply(200, {"values": values})

    def _resource(self, rid: str, namespace: str) -> tuple[str, str | None] | None:
        ml = self.arm.ml
        found = re.match(
            rf"^{re.escape(self.arm.workspace_id)}/onlineEndpoints/([^/]+)(?:/deployments/([^/]+))?$",
            rid,
            re.IGNORECASE,
        )
        if not found or found.group(1) not in ml.endpoints:
            return None
        ep, dep = found.group(1), found.group(2)
        if (dep is None) != (namespace.lower() == ENDPOINT_NS.lower()):
            return None
        if dep is not None and dep not in ml.deployments.get(ep, {}):
            return None
        return ep, dep

    def _points(
        self,
        name: str,
        resource: tuple[str, str | None],
        split: dict[str, str],
        start: datetime,
        end: datetime,
    ) -> dict[tuple[tuple[str, str], ...], dict[datetime, list[float]]]:
        """Samples grouped by split-dimension values, then by minute."""
        ep, dep = resource
        lo, hi = start.timestamp(), end.timestamp()
        out: dict[tuple[tuple[str, str], ...], dict[datetime, list[float]]] = defaultdict(
            lambda: defaultdict(list)
        )
        if dep is not None:
            if name == "DeploymentCapacity":
                capacity = int(self.arm.ml.deployments[ep][dep]["sku"]["capacity"])
                if self.capacity_reading == "count":
                    instances = [("", float(capacity))]
                else:
                    instances = [(f"{dep}-{i}", 1.0) for i in range(capacity)]
                for instance, sample in instances:
                    labels = {"instanceId": instance, "State": "Running"}
                    group = tuple(
                        (d, labels[next(k for k in labels if k.lower() == d.lower())])
                        for d, wanted in split.items()
                        if wanted == "*"
                    )
                    minute = start
                    while minute < end:
                        out[group][minute].append(sample)
                        minute += timedelta(minutes=1)
            elif name == "CpuUtilizationPercentage":
                for at, pct in self.cpu.get((ep, dep), []):
                    if lo <= at < hi:
                        out[()][_minute(at)].append(pct)
            return out
        for r in self.requests:
            if r.endpoint != ep or not lo <= r.at < hi:
                continue
            dims = {
                "deployment": r.deployment,
                "statusCode": str(r.status),
                "statusCodeClass": f"{r.status // 100}xx",
                "modelStatusCode": str(r.status),
            }
            key = []
            skip = False
            for dim, wanted in split.items():
                value = next(v for k, v in dims.items() if k.lower() == dim.lower())
                if wanted != "*" and wanted != value:
                    skip = True
                key.append((dim, value) if wanted == "*" else None)
            if skip:
                continue
            group = tuple(k for k in key if k is not None)
            if name == "RequestsPerMinute":
                out[group][_minute(r.at)].append(1.0)
            elif name == "RequestLatency" or name.startswith("RequestLatency_P"):
                out[group][_minute(r.at)].append(r.latency_ms)
        if name.startswith("RequestLatency_P"):
            percentile = int(name.removeprefix("RequestLatency_P"))
            for minutes in out.values():
                for minute, samples in minutes.items():
                    minutes[minute] = [_percentile(samples, percentile)]
        if name == "RequestsPerMinute":
            for minutes in out.values():
                for minute, samples in minutes.items():
                    minutes[minute] = [float(len(samples))]
        return out


def _timeseries(
    points: dict[tuple[tuple[str, str], ...], dict[datetime, list[float]]],
    start: datetime,
    end: datetime,
    interval: timedelta,
    aggregations: list[str],
) -> list[dict[str, Any]]:
    series = []
    for group, minutes in sorted(points.items()):
        data = []
        stamp = start
        while stamp < end:
            point: dict[str, Any] = {"timeStamp": _iso(stamp)}
            samples = [
                s for m, vals in minutes.items() if stamp <= m < stamp + interval for s in vals
            ]
            if samples:
                computed = {
                    "average": sum(samples) / len(samples),
                    "total": sum(samples),
                    "count": float(len(samples)),
                    "minimum": min(samples),
                    "maximum": max(samples),
                }
                point.update({a: computed[a] for a in aggregations if a in computed})
            data.append(point)
            stamp += interval
        series.append(
            {
                "metadatavalues": [
                    {"name": {"value": dim.lower(), "localizedValue": dim}, "value": value}
                    for dim, value in group
                ],
                "data": data,
            }
        )
    return series


def _parse_filter(text: str) -> dict[str, str]:
    """``"deployment eq '*' and statusCode eq '*'"`` -> ``{"deployment": "*", ...}``."""
    split: dict[str, str] = {}
    for clause in re.split(r"\s+and\s+", text.strip()) if text.strip() else []:
        match = re.match(r"^\s*(\S+)\s+eq\s+'([^']*)'\s*$", clause)
        if match:
            split[match.group(1)] = match.group(2)
    return split


def _percentile(samples: list[float], p: int) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _minute(at: float) -> datetime:
    return datetime.fromtimestamp(at - at % 60, tz=UTC)


def _parse_time(text: str) -> datetime:
    parsed: datetime = isodate.parse_datetime(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
