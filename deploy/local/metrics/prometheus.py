"""The metrics of every endpoint in Prometheus text format (``GET /metrics`` of the control API).

Gauges over the last ``window`` (1 minute by default), one series per endpoint and
deployment, named after Azure Monitor's metrics::

    flightdeck_requests_per_minute{endpoint="product-recommender",deployment="blue"} 120.0
    flightdeck_requests_by_status{endpoint=...,deployment=...,status_code="200"} 118.0
    flightdeck_requests_by_status_code_class{...,status_code_class="2xx"} 118.0
    flightdeck_request_latency_ms{endpoint=...,deployment=...,quantile="0.99"} 41.2
    flightdeck_cpu_utilization_percentage{...} 12.5
    flightdeck_cpu_memory_utilization_percentage{...} 1.9
    flightdeck_deployment_capacity{...} 2.0

    text = render(snapshots)    # bytes, CONTENT_TYPE_LATEST
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from deploy.types import MetricsSnapshot, MinuteMetrics

__all__ = ["CONTENT_TYPE_LATEST", "SnapshotCollector", "render"]

_LABELS = ["endpoint", "deployment"]
_QUANTILES = (
    ("0.5", "latency_p50_ms"),
    ("0.9", "latency_p90_ms"),
    ("0.95", "latency_p95_ms"),
    ("0.99", "latency_p99_ms"),
)
_GAUGES = (
    (
        "flightdeck_cpu_utilization_percentage",
        "CpuUtilizationPercentage",
        "cpu_utilization_percentage",
    ),
    (
        "flightdeck_cpu_memory_utilization_percentage",
        "CpuMemoryUtilizationPercentage",
        "cpu_memory_utilization_percentage",
    ),
    ("flightdeck_deployment_capacity", "DeploymentCapacity (instances)", "deployment_capacity"),
)


class SnapshotCollector(Collector):
    """A custom collector over already-taken snapshots (one per endpoint)."""

    def __init__(self, snapshots: Sequence[MetricsSnapshot]) -> None:
        self._snapshots = snapshots

    def collect(self) -> Iterator[Metric]:
        """The gauges of every deployment's window totals."""
        requests = GaugeMetricFamily(
            "flightdeck_requests_per_minute", "RequestsPerMinute over the window", labels=_LABELS
        )
        by_status = GaugeMetricFamily(
            "flightdeck_requests_by_status",
            "Requests in the window by status code",
            labels=[*_LABELS, "status_code"],
        )
        by_class = GaugeMetricFamily(
            "flightdeck_requests_by_status_code_class",
            "Requests in the window by status code class (RequestsPerMinute's statusCodeClass)",
            labels=[*_LABELS, "status_code_class"],
        )
        latency = GaugeMetricFamily(
            "flightdeck_request_latency_ms",
            "RequestLatency_P50/P90/P95/P99 in ms over the window",
            labels=[*_LABELS, "quantile"],
        )
        gauges = [
            (GaugeMetricFamily(name, doc, labels=_LABELS), field) for name, doc, field in _GAUGES
        ]
        for snapshot, name, row in _rows(self._snapshots):
            labels = [snapshot.endpoint, name]
            minutes = max((snapshot.end - snapshot.start).total_seconds() / 60, 1.0)
            requests.add_metric(labels, row.requests / minutes)
            for status, count in row.requests_by_status.items():
                by_status.add_metric([*labels, status], count)
            for code_class, count in _by_class(row.requests_by_status).items():
                by_class.add_metric([*labels, code_class], count)
            for quantile, field in _QUANTILES:
                value = getattr(row, field)
                if value is not None:
                    latency.add_metric([*labels, quantile], value)
            for family, field in gauges:
                value = getattr(row, field)
                if value is not None:
                    family.add_metric(labels, value)
        yield requests
        yield by_status
        yield by_class
        yield latency
        for family, _ in gauges:
            yield family


def _by_class(by_status: Mapping[str, int]) -> dict[str, int]:
    """``{"200": 3, "404": 1, "5xx": 2}`` -> ``{"2xx": 3, "4xx": 1, "5xx": 2}``."""
    classes: dict[str, int] = {}
    for code, count in by_status.items():
        name = f"{code[0]}xx" if code[:1].isdigit() else code
        classes[name] = classes.get(name, 0) + count
    return dict(sorted(classes.items()))


def _rows(
    snapshots: Iterable[MetricsSnapshot],
) -> Iterator[tuple[MetricsSnapshot, str, MinuteMetrics]]:
    for snapshot in snapshots:
        for name, metrics in sorted(snapshot.deployments.items()):
            yield snapshot, name, metrics.window


def render(snapshots: Sequence[MetricsSnapshot]) -> bytes:
    """The snapshots in Prometheus text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshots))
    return generate_latest(registry)
