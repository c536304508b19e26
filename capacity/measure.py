"""One step of the search on the load-test engine: ``LoadStepper.measure(rate)``.

Each step is an open loop (``loadtest.LoadTestPlan.open``) at ``rate`` for ``step_seconds``,
checked against the configured ``Limits`` before it sends anything. A step that clearly fails
(P99 over ``EARLY_P99_FACTOR`` × the objective, or errors over ``EARLY_ERROR_RATE`` once
``EARLY_MIN_RESPONSES`` answered) is stopped at once; after a failing step the stepper pauses
``cooldown`` seconds so that the next one starts on an empty queue.

    stepper = LoadStepper(url=uri, headers={"Authorization": f"Bearer {key}"}, body=body,
                          deployment="green", objective=objective, step_seconds=10,
                          limits=limits, progress=show, cancel=cancel)
    step = await stepper.measure(120.0)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from capacity import messages
from capacity.errors import NotServingError
from capacity.search import Objective, Step
from loadtest import Limits, LoadTestPlan, LoadTestResult, Progress, run_load_test

__all__ = ["CAPACITY_STATUSES", "LoadStepper", "StepProgress", "step_of"]

#: Answers that mean "too much load" (with 5xx): Azure's 408 (request_timeout_ms), 424 (the
#: model failed), 429 (too many requests in flight).
CAPACITY_STATUSES = frozenset({408, 424, 429})
#: Answers that mean the requests themselves are refused: the search stops at once.
REFUSALS = frozenset({400, 401, 403, 404, 405, 413, 415})

EARLY_P99_FACTOR = 3.0
EARLY_ERROR_RATE = 0.2
EARLY_MIN_RESPONSES = 20
#: The most connections a step keeps open.
CONNECTIONS = 64


@dataclass(frozen=True, kw_only=True)
class StepProgress:
    """A running step: its number (from 1), its rate and the engine's snapshot."""

    number: int
    offered_rps: float
    progress: Progress


def _is_error(status: int) -> bool:
    return status >= 500 or status in CAPACITY_STATUSES


def step_of(result: LoadTestResult, *, rate: float, stopped_early: bool) -> Step:
    """The step a load-test result makes (not yet judged against the objective)."""
    status_errors = sum(n for code, n in result.status_counts.items() if _is_error(code))
    errors = status_errors + sum(result.error_counts.values()) + result.dropped_sends
    attempts = result.sent + result.dropped_sends
    latency = result.latency
    return Step(
        offered_rps=rate,
        achieved_rps=result.ok / result.elapsed if result.elapsed else 0.0,
        p50_ms=latency.p50 if latency else None,
        p99_ms=latency.p99 if latency else None,
        mean_ms=(result.latency_from_send or latency).mean if latency else None,
        error_rate=errors / attempts if attempts else 1.0,
        sent=result.sent,
        errors=errors,
        status_counts=dict(result.status_counts),
        late_fraction=result.late_sends / result.sent if result.sent else 0.0,
        stopped_early=stopped_early,
    )


class LoadStepper:
    """Runs the search's steps against one deployment (see module doc)."""

    def __init__(
        self,
        *,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        deployment: str | None,
        objective: Objective,
        step_seconds: float,
        limits: Limits,
        progress: Callable[[StepProgress], Awaitable[None]] | None = None,
        progress_interval: float = 1.0,
        cancel: asyncio.Event | None = None,
        cooldown: float | None = None,
    ) -> None:
        self._url = url
        self._headers = dict(headers)
        self._body = body
        self._deployment = deployment
        self._objective = objective
        self._step_seconds = step_seconds
        self._limits = limits
        self._progress = progress
        self._interval = progress_interval
        self._cancel = cancel
        self._cooldown = min(step_seconds, 2.0) if cooldown is None else cooldown
        # A request slower than a few objectives fails the step anyway; no need to wait 10 s.
        self._timeout = max(1.0, min(10.0, 5 * objective.max_p99_ms / 1000))
        self.count = 0

    def plan(self, rate: float) -> LoadTestPlan:
        """The open-loop plan of a step at ``rate``."""
        return LoadTestPlan.open(
            url=self._url,
            rate=rate,
            duration=self._step_seconds,
            concurrency=min(CONNECTIONS, self._limits.max_concurrency),
            timeout=self._timeout,
            headers=self._headers,
            body=self._body,
            deployment=self._deployment,
        )

    def check(self, rate: float) -> None:
        """``LoadTestError`` when a step at ``rate`` breaks the configured caps."""
        self._limits.check(self.plan(rate))

    async def measure(self, rate: float) -> Step:
        """Run one step at ``rate``; ``NotServingError`` when the requests are refused."""
        self.count += 1
        number = self.count
        plan = self.plan(rate)
        stop = asyncio.Event()
        early = False

        async def watch(progress: Progress) -> None:
            nonlocal early
            if self._progress is not None:
                await self._progress(
                    StepProgress(number=number, offered_rps=rate, progress=progress)
                )
            if self._cancel is not None and self._cancel.is_set():
                stop.set()
            if progress.completed >= EARLY_MIN_RESPONSES and not stop.is_set():
                p99 = progress.p99_ms or 0.0
                error_rate = (progress.errors + progress.dropped) / max(progress.sent, 1)
                if (
                    p99 > EARLY_P99_FACTOR * self._objective.max_p99_ms
                    or error_rate > EARLY_ERROR_RATE
                ):
                    early = True
                    stop.set()

        result = await run_load_test(
            plan,
            limits=self._limits,
            progress=watch,
            progress_interval=self._interval,
            cancel=stop,
        )
        refused = {c: n for c, n in result.status_counts.items() if c in REFUSALS}
        if refused:
            status, count = max(refused.items(), key=lambda item: item[1])
            raise NotServingError(
                messages.NOT_SERVING.format(status=status, count=count, sent=result.sent)
            )
        step = step_of(result, rate=rate, stopped_early=early)
        failing = early or step.error_rate > self._objective.max_error_rate
        failing = failing or (step.p99_ms or 0.0) > self._objective.max_p99_ms
        if failing and self._cooldown > 0:
            await asyncio.sleep(self._cooldown)  # let the deployment drain its queue
        return step
