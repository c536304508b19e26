"""``run_load_test``: check a plan against the limits, run it, report progress, return the result.

Usage::

    cancel = asyncio.Event()            # set it from a Cancel button or on Ctrl-C
    async def show(p: Progress) -> None:
        print(render_progress(p))
    result = await run_load_test(plan, limits=limits, progress=show,
                                 progress_interval=3.0, cancel=cancel)
    print(render_text(result))
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from loadtest.driver import Driver
from loadtest.limits import Limits
from loadtest.plan import LoadTestPlan, Mode
from loadtest.result import LoadTestResult, Progress

__all__ = ["ProgressCallback", "run_load_test"]

ProgressCallback = Callable[[Progress], Awaitable[None]]

# After an open loop's last intended send, in-flight requests may take up to the
# timeout; this much more, and the run stops whatever is left.
_OPEN_LOOP_GRACE = 1.0


async def run_load_test(
    plan: LoadTestPlan,
    *,
    limits: Limits | None = None,
    progress: ProgressCallback | None = None,
    progress_interval: float = 3.0,
    cancel: asyncio.Event | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> LoadTestResult:
    """Run ``plan`` and return its result; partial (``cancelled=True``) when ``cancel`` is set.

    ``limits`` (default ``Limits()``: loopback only) are checked first: a
    ``LoadTestError`` names what is wrong and nothing is sent. ``progress`` is
    awaited every ``progress_interval`` seconds with a snapshot, and once more at
    the end with the final counts; an exception it raises stops the run and
    propagates. A closed loop without ``duration`` stops after
    ``limits.max_duration`` at the latest; an open loop stops by itself after
    ``duration`` plus the time its last requests may take (``plan.timeout``).
    ``clock`` is a monotonic clock in nanoseconds, for all timestamps.
    """
    limits = limits or Limits()
    limits.check(plan)
    if plan.mode is Mode.OPEN:
        assert plan.duration is not None
        time_cap = plan.duration + plan.timeout + _OPEN_LOOP_GRACE
    else:
        time_cap = limits.time_cap(plan)
    driver = Driver(plan, clock=clock, time_cap=time_cap)
    started_at = datetime.now(UTC)
    watchers: dict[asyncio.Future[Any], str] = {}
    try:
        if cancel is not None:
            watchers[asyncio.ensure_future(cancel.wait())] = "cancel"
        # Connections open before the clock starts; a cancel is heard meanwhile too.
        watchers[asyncio.ensure_future(driver.warm_up())] = "warm-up"
        while not driver.finished.done():
            done, _ = await asyncio.wait(
                {driver.finished, *watchers}, return_when=asyncio.FIRST_COMPLETED
            )
            for future in done:
                role = watchers.pop(future, None)
                if role == "cancel":
                    driver.cancel()
                elif role == "progress":
                    future.result()  # raises what the callback raised
                elif role == "warm-up":
                    future.result()
                    if driver.finished.done():
                        continue  # cancelled meanwhile
                    started_at = datetime.now(UTC)
                    driver.start()
                    if progress is not None:
                        task = _report(driver, progress, progress_interval, clock)
                        watchers[asyncio.ensure_future(task)] = "progress"
    finally:
        for future in watchers:
            future.cancel()
        for future in watchers:
            with contextlib.suppress(asyncio.CancelledError):
                await future
        driver.shutdown()
    result = _result(driver, plan, started_at)
    if progress is not None:
        await progress(driver.recorder.progress(driver.end_ns))
    return result


async def _report(
    driver: Driver, progress: ProgressCallback, interval: float, clock: Callable[[], int]
) -> None:
    while True:
        await asyncio.sleep(interval)
        if driver.finished.done():
            return
        await progress(driver.recorder.progress(clock()))


def _result(driver: Driver, plan: LoadTestPlan, started_at: datetime) -> LoadTestResult:
    recorder = driver.recorder
    elapsed = max((driver.end_ns - recorder.start_ns) / 1e9, 1e-9)
    return LoadTestResult(
        plan=plan,
        started_at=started_at,
        elapsed=elapsed,
        sent=recorder.sent,
        completed=recorder.completed,
        ok=recorder.ok,
        status_counts=dict(sorted(recorder.status_counts.items())),
        error_counts=dict(sorted(recorder.error_counts.items())),
        late_sends=recorder.late,
        dropped_sends=recorder.dropped,
        cancelled=driver.cancelled,
        latency=recorder.latency_stats(),
        latency_from_send=recorder.from_send_stats(),
        throughput=recorder.completed / elapsed,
        timeline=recorder.timeline(driver.end_ns),
        percentile_curve=recorder.percentile_curve(),
        histogram=recorder.encoded_histogram(),
    )
