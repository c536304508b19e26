"""The engine: drives every active rollout, one tick at a time, through a Backend.

An APScheduler 3.x ``AsyncIOScheduler`` job runs ``tick_once`` every ``tick``
(``coalesce``, ``max_instances=1``, a misfire grace time). Each tick, for each active
rollout in the store that this engine can lease (``RolloutStore.claim``), it does what
the state asks, as many times as the state allows at this moment:

1. a step to apply (or a finishing rollout's final split): set the traffic unless it
   is live already, then store ``applied``;
2. an applied step without an interval: read the metrics, store the interval's start;
3. an interval that has passed: read the metrics, judge the canary (``rollouts.checks``),
   store the verdict's next state (next step, hold, rollback, awaiting promotion);
4. awaiting promotion without a request: ask the notifier for one.

Each transition is stored by compare-and-set before anything else happens; then the
notifier shows it. So a step is applied once (a restart re-applies only a split that is
not live), a click and a tick never overwrite each other, and another engine on the same
database takes over a rollout whose lease ran out. While an engine drives a rollout it
renews the lease every third of it, since one step can outlast a lease (an Azure endpoint
update takes minutes), and it checks that it still holds the lease right before it sets
the traffic, so a step is never applied by two engines.

    engine = RolloutEngine(backend=backend, store=store, locks=locks, notifier=notifier,
                           settings=settings)
    engine.start()                         # in a running event loop
    rollout = await engine.begin(endpoint="pr", spec=spec, requested_by="U1", ...)
    await engine.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from base.clock import utc_now
from base.periodic import STOP_DEADLINE, PeriodicJob
from deploy.backend import Backend
from deploy.errors import FlightdeckError, NotFoundError
from deploy.metrics_window import Reading, growth
from deploy.types import MetricsSnapshot, MinuteMetrics
from rollouts import machine, messages
from rollouts.checks import judge
from rollouts.errors import RolloutConflictError, RolloutStateError
from rollouts.locks import LockStore
from rollouts.machine import Rollout
from rollouts.notifier import LoadFeeder, MessageRef, RolloutNotifier
from rollouts.plan import plan_rollout
from rollouts.settings import RolloutSettings
from rollouts.spec import RolloutSpec
from rollouts.store import RolloutStore

__all__ = ["JOB_ID", "RolloutEngine"]

log = logging.getLogger(__name__)

JOB_ID = "flightdeck-rollouts"
#: Transitions one rollout may make in one tick (apply, start an interval, judge, apply...).
MAX_MOVES = 6
#: Attempts of a click's compare-and-set against a tick writing at the same moment.
CLICK_ATTEMPTS = 5


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _live(traffic: Mapping[str, int]) -> dict[str, int]:
    return {name: weight for name, weight in traffic.items() if weight > 0}


class RolloutEngine:
    """Drives rollouts; see the module docstring."""

    def __init__(
        self,
        *,
        backend: Backend,
        store: RolloutStore,
        locks: LockStore,
        notifier: RolloutNotifier,
        settings: RolloutSettings,
        clock: Callable[[], datetime] = utc_now,
        feeder: LoadFeeder | None = None,
        owner: str | None = None,
        renew_every: float | None = None,
    ) -> None:
        self.backend = backend
        self.store = store
        self.locks = locks
        self.notifier = notifier
        self.settings = settings
        self.owner = owner or _owner()
        self._clock = clock
        self._feeder = feeder
        #: Seconds (real time) between two renewals of a lease while a rollout is driven.
        self._renew_every = renew_every or settings.lease.total_seconds() / 3
        self._feeding: dict[str, asyncio.Task[None]] = {}
        tick = settings.tick
        self._job = PeriodicJob(
            job_id=JOB_ID,
            name="rollouts: drive",
            work=self.tick_once,
            interval=tick,
            misfire_grace=max(tick * 2, timedelta(seconds=1)),
            run_at_start=True,
        )
        self._driving: set[str] = set()
        # One show at a time per rollout: a click and a tick updating the same message
        # could otherwise land out of order, and the older state would stay on show.
        self._showing: dict[str, asyncio.Lock] = {}
        #: The last problem logged per rollout (each is logged once, not every tick).
        self._told: dict[str, str] = {}
        #: Ticks done (for status and tests).
        self.ticks = 0

    # ------------------------------------------------------------ scheduling

    def start(self) -> None:
        """Schedule ``tick_once`` every ``tick`` (call in the running event loop)."""
        self._job.start()

    @property
    def scheduler(self) -> AsyncIOScheduler | None:
        """The running scheduler, if started."""
        return self._job.scheduler

    async def idle(self, *, deadline: float = STOP_DEADLINE) -> bool:
        """Wait until no tick runs (its messages posted); False after ``deadline`` seconds."""
        return await self._job.idle(deadline=deadline)

    async def stop(self, *, deadline: float = STOP_DEADLINE) -> None:
        """No more ticks; the one in progress gets ``deadline`` seconds; leases are given back."""
        await self._job.stop(deadline=deadline)
        for task in list(self._feeding.values()):
            task.cancel()
        await asyncio.gather(*self._feeding.values(), return_exceptions=True)
        self._feeding.clear()
        try:
            for rollout in await self.store.active():
                await self.store.release(rollout.id, owner=self.owner)
        except Exception:
            log.exception("could not give back the rollouts' leases")

    # ------------------------------------------------------------ ticks

    async def tick_once(self) -> None:
        """Drive every active rollout this engine can lease, once."""
        self.ticks += 1
        for rollout in await self.store.active():
            if rollout.id in self._driving:
                continue
            if not await self._claim(rollout.id):
                continue
            try:
                await self.drive(rollout)
            except Exception:
                log.exception("rollout %s on %s: the tick failed", rollout.id, rollout.endpoint)

    async def drive(self, rollout: Rollout) -> Rollout:
        """Make every move the rollout's state allows now; the rollout as stored after."""
        self._driving.add(rollout.id)
        try:
            async with self._renewing(rollout.id):
                return await self._drive(rollout)
        finally:
            self._driving.discard(rollout.id)

    @contextlib.asynccontextmanager
    async def _renewing(self, rollout_id: str) -> AsyncIterator[None]:
        """Renew this engine's lease on the rollout while the block runs."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self._renew_every)
                if not await self._claim(rollout_id):
                    log.warning("rollout %s: the lease went to another engine", rollout_id)
                    return

        task = asyncio.create_task(renew(), name=f"rollout-lease-{rollout_id}")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _claim(self, rollout_id: str) -> bool:
        """Take or renew the lease for ``settings.lease`` from now; False if another holds it."""
        until = self._clock() + self.settings.lease
        return await self.store.claim(rollout_id, owner=self.owner, until=until)

    async def _drive(self, rollout: Rollout) -> Rollout:
        for _ in range(MAX_MOVES):
            try:
                moved = await self._move(rollout)
            except FlightdeckError as exc:
                # Metrics or the endpoint cannot be read now: the next tick tries again.
                self._tell(rollout, exc.message)
                break
            self._told.pop(rollout.id, None)
            if moved is None:
                break
            rollout = moved
            await self._show(rollout)
            if not rollout.active:
                await self._finished(rollout)
                break
        self._feed(rollout)
        return rollout

    def _tell(self, rollout: Rollout, problem: str) -> None:
        if self._told.get(rollout.id) != problem:
            log.warning("rollout %s on %s: %s", rollout.id, rollout.endpoint, problem)
            self._told[rollout.id] = problem

    async def _move(self, rollout: Rollout) -> Rollout | None:
        """One transition, stored; ``None`` when there is nothing to do now (or it lost a race)."""
        now = self._clock()
        if rollout.status == "finishing" or (rollout.status == "running" and not rollout.applied):
            return await self._apply(rollout, now)
        if rollout.status == "running" and rollout.interval_start is None:
            readings = self._readings(rollout, await self._snapshot(rollout), now)
            return await self.store.save(
                machine.started_interval(rollout, now=now, readings=readings)
            )
        if machine.due(rollout, now):
            return await self._judge(rollout, now)
        if rollout.status == "awaiting_promotion" and rollout.promotion_approval is None:
            where = MessageRef(*await self.store.message(rollout.id))
            approval = await self.notifier.request_promotion(rollout, where)
            if approval is None:
                return None
            return await self.store.save(machine.await_promotion_request(rollout, approval))
        return None

    async def _apply(self, rollout: Rollout, now: datetime) -> Rollout | None:
        target = machine.target_weights(rollout)
        try:
            endpoint = await self.backend.get_endpoint(rollout.endpoint)
            if _live(endpoint.traffic) != target:
                if not await self._claim(rollout.id):
                    return None  # another engine holds the rollout now: the step is theirs
                names = [d.name for d in await self.backend.list_deployments(rollout.endpoint)]
                full = {name: target.get(name, 0) for name in names}
                await self.backend.set_traffic(rollout.endpoint, full)
        except FlightdeckError as exc:
            return await self.store.save(machine.apply_failed(rollout, now=now, error=exc.message))
        except Exception as exc:
            log.exception("rollout %s: setting the traffic failed", rollout.id)
            error = messages.APPLY_BUG.format(kind=type(exc).__name__)
            return await self.store.save(machine.apply_failed(rollout, now=now, error=error))
        return await self.store.save(machine.applied(rollout, now=now))

    async def _judge(self, rollout: Rollout, now: datetime) -> Rollout | None:
        snapshot = await self._snapshot(rollout)
        endpoint = await self.backend.get_endpoint(rollout.endpoint)
        if _live(endpoint.traffic) != machine.target_weights(rollout):
            # Someone set the traffic outside the rollout: hold, and let a human decide.
            paused = machine.pause(rollout, user=messages.OUTSIDE, now=now)
            return await self.store.save(replace(paused, reason=messages.REASON_DRIFT))
        canary = self._grown(snapshot, rollout, rollout.canary, now)
        primary = rollout.primary
        baseline = self._grown(snapshot, rollout, primary, now) if primary else None
        start = rollout.interval_start or now
        result = judge(
            rollout.spec,
            canary=canary,
            baseline=baseline,
            step=rollout.step,
            weight=rollout.weight,
            start=start,
            end=now,
        )
        locked = result.verdict == "pass" and await self.locks.get(rollout.endpoint) is not None
        readings = self._readings(rollout, snapshot, now)
        following = machine.judged(rollout, result, now=now, readings=readings, locked=locked)
        if locked:
            following = replace(following, reason=messages.REASON_HELD_LOCKED)
        elif following.reason == messages.REASON_HELD_LOCKED:
            following = replace(following, reason=None)
        return await self.store.save(following)

    # ------------------------------------------------------------ metrics

    def _window(self, spec: RolloutSpec) -> timedelta:
        minutes = math.ceil(spec.interval.total_seconds() / 60) + 2
        return timedelta(minutes=min(max(minutes, 1), 60))

    async def _snapshot(self, rollout: Rollout) -> MetricsSnapshot:
        return await self.backend.metrics(rollout.endpoint, self._window(rollout.spec))

    def _readings(
        self, rollout: Rollout, snapshot: MetricsSnapshot, now: datetime
    ) -> dict[str, Reading]:
        names = [rollout.canary, *([rollout.primary] if rollout.primary else [])]
        readings: dict[str, Reading] = {}
        for name in names:
            found = snapshot.deployments.get(name)
            readings[name] = Reading.of(found.minutes if found else (), at=now)
        return readings

    def _grown(
        self, snapshot: MetricsSnapshot, rollout: Rollout, name: str, now: datetime
    ) -> MinuteMetrics:
        found = snapshot.deployments.get(name)
        since = rollout.readings.get(name) or Reading(at=rollout.interval_start or now)
        return growth(found.minutes if found else (), since, now=now)

    # ------------------------------------------------------------ load

    def _feed(self, rollout: Rollout) -> None:
        """Keep a load running at the canary while the rollout runs with ``--with-load``."""
        task = self._feeding.get(rollout.id)
        wanted = (
            self._feeder is not None
            and rollout.spec.with_load is not None
            and rollout.status == "running"
            and rollout.applied
        )
        if not wanted:
            if task is not None:
                task.cancel()
                self._feeding.pop(rollout.id, None)
            return
        if task is None or task.done():
            self._feeding[rollout.id] = asyncio.get_running_loop().create_task(
                self._keep_feeding(rollout), name=f"rollout {rollout.id}: load"
            )

    async def _keep_feeding(self, rollout: Rollout) -> None:
        assert self._feeder is not None
        chunk = max(rollout.spec.interval, timedelta(seconds=5))
        told: str | None = None
        while True:
            try:
                await self._feeder(rollout, chunk)
                told = None
                continue
            except asyncio.CancelledError:
                raise
            except FlightdeckError as exc:
                problem = exc.message
                if problem != told:
                    log.warning("rollout %s: the load could not be sent: %s", rollout.id, problem)
            except Exception:
                problem = "bug"
                if problem != told:
                    log.exception("rollout %s: the load failed", rollout.id)
            told = problem
            # Back off for an interval before trying again (the checks hold the step meanwhile).
            await asyncio.sleep(rollout.spec.interval.total_seconds())

    # ------------------------------------------------------------ notices

    async def _show(self, rollout: Rollout) -> None:
        async with self._showing.setdefault(rollout.id, asyncio.Lock()):
            # The state as stored now: a later move may have been saved meanwhile.
            rollout = await self.store.get(rollout.id) or rollout
            where = MessageRef(*await self.store.message(rollout.id))
            try:
                posted = await self.notifier.show(rollout, where)
            except Exception:
                log.exception("rollout %s: the progress message could not be shown", rollout.id)
                return
            if posted is not None and posted.channel and posted.ts:
                await self.store.set_message(rollout.id, channel=posted.channel, ts=posted.ts)

    async def _finished(self, rollout: Rollout) -> None:
        self._feed(rollout)
        self._showing.pop(rollout.id, None)
        where = MessageRef(*await self.store.message(rollout.id))
        try:
            await self.notifier.finished(rollout, where)
        except Exception:
            log.exception("rollout %s: the final message could not be posted", rollout.id)

    # ------------------------------------------------------------ user actions

    async def begin(
        self,
        *,
        endpoint: str,
        spec: RolloutSpec,
        requested_by: str,
        approved_by: str | None,
        channel: str | None,
        force: bool = False,
    ) -> Rollout:
        """Check and store a new rollout, then apply its first step at once.

        ``RolloutConflictError`` when the endpoint has an active rollout,
        ``EndpointLockedError`` when it is locked (unless ``force``: the caller checked that
        an approver asked), ``ValidationError`` from the plan.
        """
        active = await self.store.active_for(endpoint)
        if active is not None:
            raise RolloutConflictError(
                messages.ALREADY_RUNNING_DETAIL.format(
                    endpoint=endpoint, canary=active.canary, id=active.id
                )
            )
        lock = await self.locks.get(endpoint)
        if lock is not None and not force:
            raise lock.error()
        plan = await plan_rollout(self.backend, endpoint, spec)
        rollout = machine.new_rollout(
            id=secrets.token_hex(4),
            endpoint=endpoint,
            spec=spec,
            baseline=plan.current,
            requested_by=requested_by,
            approved_by=approved_by,
            channel=channel,
            now=self._clock(),
        )
        stored = await self.store.create(rollout)
        await self._claim(stored.id)
        await self._show(stored)
        return await self.drive(stored)

    async def _act(
        self, rollout_id: str, change: Callable[[Rollout, datetime], Rollout]
    ) -> Rollout:
        for _ in range(CLICK_ATTEMPTS):
            rollout = await self.store.get(rollout_id)
            if rollout is None:
                raise NotFoundError(messages.UNKNOWN_ROLLOUT.format(id=rollout_id))
            saved = await self.store.save(change(rollout, self._clock()))
            if saved is not None:
                await self._show(saved)
                return saved
        raise RolloutStateError(messages.BUSY)

    async def pause(self, rollout_id: str, *, user: str) -> Rollout:
        """Hold the rollout at its step."""
        rollout = await self._act(rollout_id, lambda r, now: machine.pause(r, user=user, now=now))
        self._feed(rollout)
        return rollout

    async def resume(self, rollout_id: str, *, user: str) -> Rollout:
        """Run again from the step it holds."""
        resumed = await self._act(rollout_id, lambda r, now: machine.resume(r, user=user, now=now))
        return await self._drive_now(resumed)

    async def abort(self, rollout_id: str, *, user: str) -> Rollout:
        """Roll back now: all traffic to the baseline."""
        aborted = await self._act(rollout_id, lambda r, now: machine.abort(r, user=user, now=now))
        return await self._drive_now(aborted)

    async def promote(self, rollout_id: str, *, user: str) -> Rollout:
        """Go to 100% now (the caller has the approval)."""
        promoted = await self._act(
            rollout_id, lambda r, now: machine.promote(r, user=user, now=now)
        )
        return await self._drive_now(promoted)

    async def _drive_now(self, rollout: Rollout) -> Rollout:
        """Drive a rollout just changed by a click, if this engine may (else its owner will)."""
        if rollout.id in self._driving or not await self._claim(rollout.id):
            return rollout
        return await self.drive(rollout)
