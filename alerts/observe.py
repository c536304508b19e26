"""What each deployment answered during the evaluation window, from per-minute metrics.

Backends report metrics per minute (Azure Monitor's grain; the local router's too), and
a minute's row grows while the minute runs (and, on Azure, for a few minutes after, as
data arrives late). The watcher polls more often than that, so a value for *now* is
made from two polls' readings of the same rows:

- **counts** (requests, by status code) are exact: the growth of every row since the
  poll that is one window old (``window / poll_interval`` polls back);
- **P99 latency** is the highest RequestLatency_P99 among the rows that grew, i.e. of
  the minute(s) in which the window's requests were answered (percentiles cannot be
  subtracted; a minute's P99 is the finest one the backends give);
- no request during the window means no data: no latency and no error rate (a rule is
  not breached by no data; ``no_traffic`` is);
- without such a reading (the first polls after a start, or after a gap of more than
  two poll intervals) the rows of the minutes that overlap the window are used as
  they are.

    sampler = Sampler(window=timedelta(seconds=60), poll_interval=timedelta(seconds=60))
    observed = sampler.observe(snapshot, now=now, deployments=["blue", "green"])
    rule.measure(observed["blue"].metrics)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from deploy.metrics_window import Reading, growth, total
from deploy.types import MetricsSnapshot, MinuteMetrics

__all__ = ["Observation", "Sampler"]

_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, kw_only=True)
class Observation:
    """A deployment's requests during the window, and its recent per-minute rows."""

    deployment: str
    #: Requests, by status, and P99 of the window (``timestamp`` is the poll's time).
    metrics: MinuteMetrics
    #: The per-minute rows read (for charts), oldest first.
    minutes: tuple[MinuteMetrics, ...] = ()
    #: True when counts are the growth since a reading one window old; False when they are
    #: whole minutes overlapping the window (no such reading yet).
    exact: bool = False


class Sampler:
    """Keeps the last readings of each (endpoint, deployment); see the module docstring."""

    def __init__(self, *, window: timedelta, poll_interval: timedelta) -> None:
        self._polls = max(1, round(window / poll_interval))
        self._window = window
        self._max_age = window + 2 * poll_interval
        self._readings: dict[tuple[str, str], deque[Reading]] = {}

    def observe(
        self, snapshot: MetricsSnapshot, *, now: datetime, deployments: Iterable[str] = ()
    ) -> dict[str, Observation]:
        """One observation per deployment in ``snapshot`` or in ``deployments`` (no data)."""
        observed: dict[str, Observation] = {}
        for name, metrics in snapshot.deployments.items():
            observed[name] = self._observe(snapshot.endpoint, name, metrics.minutes, now)
        for name in deployments:
            if name not in observed:
                observed[name] = Observation(
                    deployment=name, metrics=MinuteMetrics(timestamp=now), exact=False
                )
        for key in [k for k in self._readings if k[0] == snapshot.endpoint]:
            if key[1] not in snapshot.deployments:
                del self._readings[key]
        return observed

    def forget(self, endpoint: str) -> None:
        """Drop an endpoint's readings (its source failed: they are stale)."""
        for key in [k for k in self._readings if k[0] == endpoint]:
            del self._readings[key]

    def _observe(
        self, endpoint: str, deployment: str, minutes: Iterable[MinuteMetrics], now: datetime
    ) -> Observation:
        rows = tuple(sorted(minutes, key=lambda row: row.timestamp))
        readings = self._readings.setdefault((endpoint, deployment), deque())
        baseline = readings[-self._polls] if len(readings) >= self._polls else None
        if baseline is not None and now - baseline.at > self._max_age:
            baseline = None
        if baseline is not None:
            metrics = growth(rows, baseline, now=now)
        else:
            start = now - self._window
            overlapping = [r for r in rows if r.timestamp + _MINUTE > start and r.timestamp <= now]
            metrics = total(overlapping, now=now)
        readings.append(Reading.of(rows, at=now))
        while len(readings) > self._polls:
            readings.popleft()
        return Observation(
            deployment=deployment, metrics=metrics, minutes=rows, exact=baseline is not None
        )
