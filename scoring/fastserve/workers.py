"""A pool of worker threads that run synchronous calls for the event loop.

Leaner than ``loop.run_in_executor``: calls made during one turn of the event loop are handed
to the threads together, in at most ``count`` chunks, and each chunk's results come back in
one ``call_soon_threadsafe`` to plain asyncio futures. Every hand-over between the loop's
thread and a worker costs a switch of the GIL (and, on one core, of the CPU); grouping the
calls that arrive together makes that cost per group instead of per request.

A call that outlives its time limit has its future failed with TimeoutError at once, and
TimeoutError is raised inside the call's thread (see :mod:`.interrupt`), as azmlinfsrv's
timer signal does: a run() stuck in Python code gives its thread back instead of holding it.

Usage::

    pool = WorkerPool(count=4)
    reply = await pool.call(scorer.score, incoming, limit_s=3600.0)
    future = pool.submit(scorer.score, incoming, limit_s=3600.0)   # the same, no coroutine
    pool.close()
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .interrupt import clear_pending, raise_in_thread

logger = logging.getLogger("fastserve")

T = TypeVar("T")
_Call = tuple[Callable[[Any], Any], Any, asyncio.Future[Any]]
_Job = tuple[list[_Call], asyncio.AbstractEventLoop]


class WorkerPool:
    """``count`` daemon threads taking jobs from one queue, in arrival order."""

    def __init__(self, *, count: int, name: str = "run") -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running: dict[int, asyncio.Future[Any]] = {}
        self._waiting: list[_Call] = []
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{index}", daemon=True)
            for index in range(count)
        ]
        for thread in self._threads:
            thread.start()

    async def call(self, function: Callable[[Any], T], argument: Any, *, limit_s: float) -> T:
        """``function(argument)`` in a worker thread; TimeoutError after ``limit_s`` seconds."""
        return await self.submit(function, argument, limit_s=limit_s)

    def submit(
        self, function: Callable[[Any], T], argument: Any, *, limit_s: float
    ) -> asyncio.Future[T]:
        """As :meth:`call`, without a coroutine: the future of ``function(argument)``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._hand_over, loop)
        self._waiting.append((function, argument, future))
        expiry = loop.call_later(limit_s, self._expire, future)
        future.add_done_callback(lambda _: expiry.cancel())
        return future

    def close(self) -> None:
        """Let every thread finish its current job and stop (queued jobs still run)."""
        for _ in self._threads:
            self._jobs.put(None)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """Queue the calls of this loop turn, split over the threads."""
        calls, self._waiting = self._waiting, []
        size = -(-len(calls) // len(self._threads))
        for start in range(0, len(calls), size):
            self._jobs.put((calls[start : start + size], loop))

    def _expire(self, future: asyncio.Future[Any]) -> None:
        if future.done():
            return
        future.set_exception(TimeoutError())
        with self._lock:
            for thread_id, running in self._running.items():
                if running is future:
                    raise_in_thread(thread_id, TimeoutError)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            calls, loop = job
            outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
            for function, argument, future in calls:
                if not future.done():  # else it expired while queued: nobody waits for it
                    outcomes.append((future, *self._call(function, argument, future)))
            _post(loop, _settle, outcomes)

    def _call(
        self, function: Callable[[Any], Any], argument: Any, future: asyncio.Future[Any]
    ) -> tuple[bool, Any]:
        thread_id = threading.get_ident()
        try:
            try:
                with self._lock:
                    self._running[thread_id] = future
                return True, function(argument)
            finally:
                with self._lock:
                    del self._running[thread_id]
                    clear_pending(thread_id)  # an interrupt that came too late
        except BaseException as error:  # the call's own, or the interrupt: both end the call
            return False, error


def _post(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop closed while the call ran: nobody waits for it
        logger.debug("event loop closed before a result could be handed back")


def _settle(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, succeeded, outcome in outcomes:
        if future.done():
            continue
        if succeeded:
            future.set_result(outcome)
        else:
            future.set_exception(outcome)
