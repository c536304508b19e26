"""The fake Azure Monitor metrics: ``POST /subscriptions/{s}/metrics:getBatch``.

Metrics come from what the fake saw: ``record_request`` (the fake scoring server
calls it for every scoring request) and ``record_cpu``. Answers have the real
response shape, split by the dimensions the ``filter`` names with ``'*'``; a
filter on a dimension a metric does not have is refused, as Azure refuses it.
Percentiles are nearest-rank over a minute's samples.
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

__all__ = ["DEPLOYMENT_METRICS", "ENDPOINT_METRICS", "MetricsService"]

ENDPOINT_NS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
DEPLOYMENT_NS = f"{ENDPOINT_NS}/deployments"
_REQ_DIMS = ("deployment", "statusCode", "statusCodeClass", "modelStatusCode")
#: Metric name -> (unit, dimensions), per namespace.
ENDPOINT_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "RequestsPerMinute": ("Count", _REQ_DIMS),
    "RequestLatency": ("Milliseconds", ("deployment",)),
    **{f"RequestLatency_P{p}": ("Milliseconds", ("deployment",)) for p in (50, 90, 95, 99)},
}
DEPLOYMENT_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "CpuUtilizationPercentage": ("Percent", ("instanceId",)),
    "CpuMemoryUtilizationPercentage": ("Percent", ("instanceId",)),
    "DeploymentCapacity": ("Count", ("instanceId", "State")),
}


@dataclass(frozen=True)
class _Request:
    endpoint: str
    deployment: str
    status: int
    latency_ms: float
    at: float


class MetricsService:
    """What the fake's endpoints measured, and the getBatch handler."""

    def __init__(self, arm: FakeArm) -> None:
        self.arm = arm
        self.requests: list[_Request] = []
        self.cpu: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)

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

    def metrics_batch(self, call: Call) -> Reply:
        if call.method != "POST" or not call.path.endswith("/metrics:getBatch"):
            return arm_error(404, "NotFound", call.path)
        q = call.query
        namespace = q.get("metricnamespace", "")
        names = [n for n in q.get("metricnames", "").split(",") if n]
        start = _parse_time(q["starttime"])
        end = _parse_time(q["endtime"])
        interval = isodate.parse_duration(q.get("interval", "PT1M"))
        aggregations = [a.strip().lower() for a in q.get("aggregation", "average").split(",")]
        split = _parse_filter(q.get("filter", ""))
        top = int(q.get("top", "10"))
        catalogue = {ENDPOINT_NS: ENDPOINT_METRICS, DEPLOYMENT_NS: DEPLOYMENT_METRICS}
        metrics = next((m for ns, m in catalogue.items() if ns.lower() == namespace.lower()), None)
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
                unit, dims = metrics[name]
                unknown = [d for d in split if d.lower() not in {x.lower() for x in dims}]
                if unknown:
                    return arm_error(
                        400,
                        "BadRequest",
                        f"Metric: {name} does not support requested dimension combination: "
                        f"{', '.join(unknown)}.",
                    )
                points = self._points(name, parsed, split, start, end)
                series.append(
                    {
                        "id": f"{rid}/providers/Microsoft.Insights/metrics/{name}",
                        "type": "Microsoft.Insights/metrics",
                        "name": {"value": name, "localizedValue": name},
                        "displayDescription": name,
                        "unit": unit,
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
                capacity = float(self.arm.ml.deployments[ep][dep]["sku"]["capacity"])
                minute = start
                while minute < end:
                    out[()][minute].append(capacity)
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
