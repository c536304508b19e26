"""The watcher: every poll interval, read each watched endpoint's metrics and move its alerts.

An APScheduler 3.x ``AsyncIOScheduler`` runs ``poll_once`` every ``poll_interval``
(``coalesce``: polls missed while the loop was busy run once; ``max_instances=1``:
never two at a time; ``misfire_grace_time``: a poll later than that is skipped).
Each poll, at ``now = clock()``:

1. ``Backend.list_endpoints()``: the endpoints and their traffic;
2. for each watched endpoint, ``Backend.metrics(endpoint, fetch_window)``; what each
   deployment answered during the window (``alerts.observe``);
3. for each (deployment, rule), ``alerts.state.evaluate`` and a step of
   ``alerts.delivery`` (store);
4. the poll's notices posted, grouped (``alerts.group_by``: one message per endpoint,
   or per channel for the whole poll), as Alertmanager groups notifications.

A metrics source that fails (the listing, or one endpoint's metrics) is an alert of
its own (``alerts.source``): one message when it starts failing, one when it
answers again; the endpoint's alerts wait meanwhile. ``no_traffic`` rules judge
only deployments that take traffic.

    watcher = AlertWatcher(backend=backend, store=store, settings=settings,
                           notifier=notifier, clock=utc_now)
    watcher.start()          # in a running event loop
    ...
    await watcher.stop()
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from alerts import messages
from alerts.delivery import Batch, Context, Deliverer
from alerts.notifier import ChartPoint, Notifier
from alerts.observe import Observation, Sampler
from alerts.rules import Rule
from alerts.settings import AlertSettings
from alerts.source import SOURCE_ALL, evaluate_source, source_key
from alerts.state import AlertKey, AlertState, Decision, evaluate
from alerts.store import AlertStore, StoredAlert
from base.clock import utc_now
from base.periodic import STOP_DEADLINE, PeriodicJob
from deploy.backend import Backend
from deploy.errors import FlightdeckError, NotFoundError
from deploy.types import Endpoint

__all__ = ["JOB_ID", "AlertWatcher"]

log = logging.getLogger(__name__)

JOB_ID = "flightdeck-alerts"


class AlertWatcher:
    """Polls a backend's metrics and posts alerts through a ``Notifier``."""

    def __init__(
        self,
        *,
        backend: Backend,
        store: AlertStore,
        settings: AlertSettings,
        notifier: Notifier,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.backend = backend
        self.store = store
        self.settings = settings
        self._clock = clock
        self._deliverer = Deliverer(store=store, notifier=notifier, clock=clock)
        self._sampler = Sampler(window=settings.window, poll_interval=settings.poll_interval)
        self._job = PeriodicJob(
            job_id=JOB_ID,
            name="alerts: poll metrics",
            work=self.poll_once,
            interval=settings.poll_interval,
            misfire_grace=settings.misfire_grace_time,
        )
        self._failing: set[str] = set()
        #: Polls done (for status and tests).
        self.polls = 0

    # ------------------------------------------------------------ scheduling

    def start(self) -> None:
        """Schedule ``poll_once`` every poll interval (call in the running event loop)."""
        self._job.start()

    @property
    def scheduler(self) -> AsyncIOScheduler | None:
        """The running scheduler, if started."""
        return self._job.scheduler

    async def stop(self, *, deadline: float = STOP_DEADLINE) -> None:
        """No more polls; the one in progress (if any) gets ``deadline`` seconds to finish."""
        await self._job.stop(deadline=deadline)

    # ------------------------------------------------------------ one poll

    async def poll_once(self) -> None:
        """Read the metrics of every watched endpoint and move their alerts, once."""
        now = self._clock()
        self.polls += 1
        try:
            endpoints = await self.backend.list_endpoints()
        except Exception as exc:
            await self._source(SOURCE_ALL, exc, now)
            return
        await self._source(SOURCE_ALL, None, now)
        listed = {endpoint.name for endpoint in endpoints}
        batch = Batch()
        try:
            for endpoint in endpoints:
                if self.settings.watches(endpoint.name):
                    await self._guarded(endpoint.name, self._poll_endpoint(endpoint, now, batch))
            for name in await self.store.endpoints():
                if name != SOURCE_ALL and (name not in listed or not self.settings.watches(name)):
                    # Deleted, or no longer watched: its alerts clear, its source too.
                    await self._guarded(name, self._clear_endpoint(name, now, batch))
        finally:
            # What was stored is posted, also when the poll stopped half-way.
            await self._deliverer.flush(batch, group_by=self.settings.group_by)

    async def _guarded(self, endpoint: str, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:
            log.exception("alerts of endpoint %s: the poll failed", endpoint)

    async def _poll_endpoint(self, endpoint: Endpoint, now: datetime, batch: Batch) -> None:
        name = endpoint.name
        try:
            snapshot = await self.backend.metrics(name, self.settings.fetch_window())
        except NotFoundError:
            return  # deleted since the listing: the next poll clears its alerts
        except Exception as exc:
            self._sampler.forget(name)
            await self._source(name, exc, now)
            return
        await self._source(name, None, now)
        stored = await self.store.load(name)
        traffic = dict(endpoint.traffic)
        known = set(traffic) | {key.deployment for key in stored if key.deployment}
        observed = self._sampler.observe(snapshot, now=now, deployments=known)
        for deployment in sorted(observed):
            observation = observed[deployment]
            share = traffic.get(deployment, 0)
            for rule in self.settings.rules_for(name):
                key = AlertKey(endpoint=name, deployment=deployment, rule=rule.kind)
                value = _value(rule, observation, share)
                context = Context(
                    channel=self.settings.channel_for(name),
                    rule=rule,
                    traffic_share=share,
                    chart=_chart(rule, observation),
                )
                decide = _judge(rule, value, now, self.settings.repeat_interval)
                current = stored.get(key) or StoredAlert(state=AlertState(key=key))
                await self._deliverer.step(
                    key, decide, context=context, current=current, batch=batch
                )

    async def _clear_endpoint(self, name: str, now: datetime, batch: Batch) -> None:
        for key, alert in (await self.store.load(name)).items():
            if alert.state.status not in ("pending", "firing"):
                continue
            self._failing.discard(name)
            if alert.rule is None:
                decide = _source_judge(None, now)
            else:
                decide = _judge(alert.rule, None, now, self.settings.repeat_interval)
            context = Context(channel=self.settings.channel_for(name))
            await self._deliverer.step(key, decide, context=context, current=alert, batch=batch)

    async def _source(self, endpoint: str, error: Exception | None, now: datetime) -> None:
        """Report a source failing (once) or answering again (once)."""
        detail = None
        if error is not None:
            detail = _describe(error, log_it=endpoint not in self._failing)
            self._failing.add(endpoint)
        else:
            self._failing.discard(endpoint)
        channel = self.settings.channel_for(endpoint) if endpoint != SOURCE_ALL else None
        await self._deliverer.step(
            source_key(endpoint),
            _source_judge(detail, now),
            context=Context(channel=channel or self.settings.channel or ""),
        )


def _judge(
    rule: Rule, value: float | None, now: datetime, repeat: timedelta
) -> Callable[[AlertState], Decision]:
    def decide(state: AlertState) -> Decision:
        return evaluate(state, rule=rule, value=value, now=now, repeat_interval=repeat)

    return decide


def _source_judge(error: str | None, now: datetime) -> Callable[[AlertState], Decision]:
    def decide(state: AlertState) -> Decision:
        return evaluate_source(state, error=error, now=now)

    return decide


def _value(rule: Rule, observation: Observation, share: int) -> float | None:
    """The rule's value for the window; ``no_traffic`` judges deployments with traffic only."""
    if rule.kind == "no_traffic" and share <= 0:
        return None
    return rule.measure(observation.metrics)


def _chart(rule: Rule, observation: Observation) -> tuple[ChartPoint, ...]:
    return tuple((row.timestamp, rule.measure(row)) for row in observation.minutes)


def _describe(error: Exception, *, log_it: bool) -> str:
    """What to say about a failing source: a known error's message; a bug is logged (once)."""
    if isinstance(error, FlightdeckError):
        return error.message
    if log_it:
        log.error("reading metrics failed", exc_info=error)
    return messages.SOURCE_FAILED_BUG.format(kind=type(error).__name__)
