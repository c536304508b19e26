"""One coroutine run every interval by an APScheduler 3.x ``AsyncIOScheduler``, stoppable.

The job coalesces runs missed while the loop was busy into one, never runs twice at a time
(``max_instances=1``), and skips a run later than its misfire grace time. ``stop`` waits
(up to a deadline) for a run in progress. The alert watcher and the rollout engine run on it.

    job = PeriodicJob(job_id="flightdeck-alerts", name="alerts: poll metrics", work=poll_once,
                      interval=timedelta(seconds=60), misfire_grace=timedelta(seconds=60))
    job.start()              # in a running event loop
    await job.stop()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

__all__ = ["STOP_DEADLINE", "PeriodicJob"]

log = logging.getLogger(__name__)

#: Seconds ``stop`` waits for a run in progress to finish.
STOP_DEADLINE = 30.0


class PeriodicJob:
    """``work`` every ``interval``; its errors are logged (with the traceback), never raised."""

    def __init__(
        self,
        *,
        job_id: str,
        name: str,
        work: Callable[[], Awaitable[None]],
        interval: timedelta,
        misfire_grace: timedelta,
        run_at_start: bool = False,
    ) -> None:
        self.job_id = job_id
        self.name = name
        self._work = work
        self._interval = interval
        self._grace = misfire_grace
        self._run_at_start = run_at_start
        self._scheduler: AsyncIOScheduler | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def scheduler(self) -> AsyncIOScheduler | None:
        """The running scheduler, if started."""
        return self._scheduler

    def start(self) -> None:
        """Schedule the job (call in the running event loop); a second call does nothing."""
        if self._scheduler is not None:
            return
        # Two INFO lines a run ("Running job", "executed successfully") would flood the log;
        # misses and errors are warnings and still show.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        scheduler = AsyncIOScheduler(timezone=UTC)
        options = {"next_run_time": datetime.now(UTC)} if self._run_at_start else {}
        scheduler.add_job(
            self._run,
            "interval",
            seconds=self._interval.total_seconds(),
            id=self.job_id,
            name=self.name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, round(self._grace.total_seconds())),
            **options,
        )
        scheduler.start()
        self._scheduler = scheduler

    async def idle(self, *, deadline: float = STOP_DEADLINE) -> bool:
        """Wait until no run is in progress; False after ``deadline`` seconds."""
        try:
            async with asyncio.timeout(deadline):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def stop(self, *, deadline: float = STOP_DEADLINE) -> None:
        """No more runs; the one in progress (if any) gets ``deadline`` seconds to finish."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        scheduler.pause()
        if not await self.idle(deadline=deadline):
            log.warning("stopping %s with a run still in progress", self.name)
        scheduler.shutdown(wait=False)

    async def _run(self) -> None:
        self._idle.clear()
        try:
            await self._work()
        except Exception:
            log.exception("%s failed", self.name)
        finally:
            self._idle.set()
