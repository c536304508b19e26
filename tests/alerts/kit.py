"""Test kit for alerts: a Backend with scripted per-minute metrics, a recording Notifier,
and a watcher on a fake clock.

    backend = await scripted_backend(clock)
    backend.answer("product-recommender", "green", count=100, p99_ms=900)
    watcher = make_watcher(backend, store, notifier, clock)
    await watcher.poll_once()
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from alerts.notifier import AlertNotice, NotDelivered, NoticeGroup, Notifier
from alerts.settings import AlertSettings, parse_alert_settings
from alerts.store import AlertStore
from alerts.watcher import AlertWatcher
from base import clock as base_clock
from base.migrations import upgrade
from deploy.errors import BackendUnavailableError, ValidationError
from deploy.memory import MemoryBackend as FakeBackend
from deploy.types import (
    DeploymentMetrics,
    DeploymentSpec,
    EndpointSpec,
    MetricsSnapshot,
    MinuteMetrics,
)

EP = "product-recommender"
CHANNEL = "C0ALERTS"
T0 = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class ScriptedBackend(FakeBackend):
    """``FakeBackend`` whose metrics are per-minute rows the test fills, as a router would.

    ``answer`` adds requests to the row of the clock's minute; ``metrics`` returns the
    rows of the window's minutes, like the local platform. ``metrics_error`` /
    ``listing_error`` make those calls fail. The base backend's own times (token expiry,
    model dates) follow the same clock.
    """

    def __init__(self, clock: base_clock.Clock, **options: Any) -> None:
        super().__init__(clock=lambda: clock().timestamp(), **options)
        self.now = clock
        self.rows: dict[tuple[str, str], dict[datetime, MinuteMetrics]] = {}
        self.metrics_error: Exception | None = None
        self.listing_error: Exception | None = None
        self.metrics_calls: list[tuple[str, timedelta]] = []

    def answer(
        self,
        endpoint: str,
        deployment: str,
        *,
        count: int,
        status: str = "200",
        p99_ms: float = 50.0,
    ) -> None:
        """``count`` answers with ``status`` now; the minute's P99 becomes at least ``p99_ms``."""
        rows = self.rows.setdefault((endpoint, deployment), {})
        minute = _minute(self.now())
        row = rows.get(minute) or MinuteMetrics(timestamp=minute)
        by_status = dict(row.requests_by_status)
        by_status[status] = by_status.get(status, 0) + count
        rows[minute] = replace(
            row,
            requests=row.requests + count,
            requests_by_status=by_status,
            latency_p99_ms=max(row.latency_p99_ms or 0.0, p99_ms),
        )

    async def list_endpoints(self) -> list[Any]:
        if self.listing_error is not None:
            raise self.listing_error
        return await super().list_endpoints()

    async def metrics(self, endpoint: str, window: timedelta) -> MetricsSnapshot:
        self.metrics_calls.append((endpoint, window))
        self._endpoint(endpoint)
        if self.metrics_error is not None:
            raise self.metrics_error
        if not timedelta(minutes=1) <= window <= timedelta(minutes=60):
            raise ValidationError("A metrics window is 1 to 60 minutes.")
        end = self.now()
        first, last = _minute(end - window), _minute(end)
        deployments = {}
        for (name, deployment), rows in sorted(self.rows.items()):
            if name != endpoint:
                continue
            minutes = []
            moment = first
            while moment <= last:
                minutes.append(rows.get(moment) or MinuteMetrics(timestamp=moment))
                moment += timedelta(minutes=1)
            deployments[deployment] = DeploymentMetrics(
                deployment=deployment, minutes=tuple(minutes), window=MinuteMetrics(timestamp=first)
            )
        return MetricsSnapshot(endpoint=endpoint, start=first, end=end, deployments=deployments)


async def scripted_backend(
    clock: base_clock.Clock, *, traffic: dict[str, int] | None = None
) -> ScriptedBackend:
    """The endpoint with blue and green (90/10 unless ``traffic`` says otherwise)."""
    backend = ScriptedBackend(clock)
    await backend.create_or_update_endpoint(EndpointSpec(name=EP))
    for name in ("blue", "green"):
        await backend.create_or_update_deployment(DeploymentSpec(name=name, endpoint_name=EP))
    await backend.set_traffic(EP, traffic or {"blue": 90, "green": 10})
    return backend


UNAVAILABLE = BackendUnavailableError("The local platform is not running: start it.")


@dataclass
class RecordingNotifier(Notifier):
    """Records every notice. ``refuse`` makes the next sends raise ``NotDelivered``;
    ``lose`` makes the next ones post and then fail (the answer never arrives)."""

    sent: list[AlertNotice] = field(default_factory=list)
    refuse: int = 0
    lose: int = 0
    _ts: int = 0

    async def send(self, notice: AlertNotice) -> str | None:
        if self.refuse:
            self.refuse -= 1
            raise NotDelivered("ratelimited")
        self.sent.append(notice)
        if self.lose:
            self.lose -= 1
            raise ConnectionResetError("the answer was lost")
        if notice.in_thread:
            return None
        self._ts += 1
        return f"1700000000.{self._ts:06d}"

    def log(self) -> list[tuple[str, str]]:
        """(notice, alert id) of every post, in order."""
        return [(n.notice, n.alert.key.as_id()) for n in self.sent]


@dataclass
class GroupingNotifier(RecordingNotifier):
    """A ``RecordingNotifier`` that posts groups as one message each (``groups``)."""

    groups_sent: list[NoticeGroup] = field(default_factory=list)

    async def send(self, notice: AlertNotice) -> str | None:
        return await self.send_group(NoticeGroup(notices=(notice,)))

    async def send_group(self, group: NoticeGroup) -> str | None:
        if self.refuse:
            self.refuse -= 1
            raise NotDelivered("ratelimited")
        self.groups_sent.append(group)
        self.sent.extend(group.notices)
        if group.thread is not None:
            return None
        self._ts += 1
        return f"1700000000.{self._ts:06d}"

    def messages(self) -> list[list[str]]:
        """The alert ids of each message (or thread reply) posted, in order."""
        return [[n.alert.key.as_id() for n in group.notices] for group in self.groups_sent]


GroupingNotifier.groups = True


def make_settings(**overrides: Any) -> AlertSettings:
    """Settings with a channel (and ``overrides`` as the config would give them)."""
    settings = parse_alert_settings({"channel": CHANNEL, **overrides})
    assert settings is not None
    return settings


def make_store(path: Path, clock: base_clock.Clock) -> AlertStore:
    """A store on a SQLite file (a new engine each call: a restart)."""
    store = AlertStore(engine=create_engine(f"sqlite:///{path}"), clock=clock)
    upgrade(store.engine)
    return store


def make_watcher(
    backend: ScriptedBackend,
    store: AlertStore,
    notifier: Notifier,
    clock: base_clock.Clock,
    settings: AlertSettings | None = None,
) -> AlertWatcher:
    """A watcher on the fake clock (its scheduler is not started)."""
    return AlertWatcher(
        backend=backend,
        store=store,
        settings=settings or make_settings(),
        notifier=notifier,
        clock=clock,
    )
