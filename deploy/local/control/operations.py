"""Long operations of the control API: run in the daemon, watched by long polling.

A long backend call (create a deployment, scale, delete...) runs as a task that
outlives the HTTP request which started it (as on Azure, a client that goes away
does not cancel it). Its progress lines, and then its result or error, are read
with ``Operation.poll(after=N)``, which waits until there is something new.

    op = operations.start("create deployment", lambda progress: work(progress))
    page = await op.poll(after=0, wait=20.0)   # {"lines": [...], "next": 2, "done": False}
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from deploy.errors import FlightdeckError
from deploy.local.control.wire import INTERNAL_ERROR_CODE, encode_error

__all__ = ["Operation", "Operations", "Work"]

logger = logging.getLogger(__name__)

#: The work of an operation: called with a progress callback, returns a JSON value.
Work = Callable[[Callable[[str], Awaitable[None]]], Awaitable[Any]]

#: Finished operations are kept this long for late pollers (seconds).
KEEP_FINISHED_SECONDS = 900.0
#: At most this many finished operations are kept.
MAX_FINISHED = 500


class Operation:
    """One running or finished long operation."""

    def __init__(self, *, op_id: str, kind: str, clock: Callable[[], float]) -> None:
        self.id = op_id
        self.kind = kind
        self.lines: list[str] = []
        self.done = False
        self.result: Any = None
        self.error: dict[str, Any] | None = None
        self.finished_at: float | None = None
        self._clock = clock
        self._changed = asyncio.Condition()

    async def add_line(self, line: str) -> None:
        """Record a progress line and wake the pollers."""
        async with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    async def finish(self, *, result: Any = None, error: dict[str, Any] | None = None) -> None:
        """Record the outcome and wake the pollers."""
        async with self._changed:
            self.result = result
            self.error = error
            self.done = True
            self.finished_at = self._clock()
            self._changed.notify_all()

    async def poll(self, *, after: int, wait: float) -> dict[str, Any]:
        """Lines after the first ``after``, and the outcome once done.

        Waits up to ``wait`` seconds for a new line or the end.
        """
        async with self._changed:
            if not self._has_news(after) and wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: self._has_news(after)), timeout=wait
                    )
            page: dict[str, Any] = {
                "operation": self.id,
                "lines": self.lines[after:],
                "next": len(self.lines),
                "done": self.done,
            }
            if self.done:
                page["result"] = self.result
                if self.error is not None:
                    page["error"] = self.error
            return page

    def _has_news(self, after: int) -> bool:
        return self.done or len(self.lines) > after


class Operations:
    """The daemon's operations, by id."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ops: dict[str, Operation] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._counter = itertools.count(1)

    def start(self, kind: str, work: Work) -> Operation:
        """Start ``work`` in a task; return its operation at once."""
        self._prune()
        op_id = f"op-{next(self._counter)}-{secrets.token_hex(4)}"
        op = Operation(op_id=op_id, kind=kind, clock=self._clock)
        self._ops[op_id] = op
        task = asyncio.create_task(self._run(op, work), name=f"operation {op_id} ({kind})")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return op

    def get(self, op_id: str) -> Operation | None:
        """The operation with this id, if still known."""
        return self._ops.get(op_id)

    async def close(self) -> None:
        """Cancel the running operations and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, op: Operation, work: Work) -> None:
        try:
            result = await work(op.add_line)
        except FlightdeckError as exc:
            await op.finish(error=encode_error(exc)["error"])
        except asyncio.CancelledError:
            await op.finish(
                error={
                    "code": "backend_unavailable",
                    "message": f"The local platform stopped during '{op.kind}'.",
                }
            )
            raise
        except Exception:
            logger.exception("operation %s (%s) failed", op.id, op.kind)
            await op.finish(
                error={
                    "code": INTERNAL_ERROR_CODE,
                    "message": f"The local platform failed during '{op.kind}' "
                    "(an internal error; the daemon log has the details).",
                }
            )
        else:
            await op.finish(result=result)

    def _prune(self) -> None:
        now = self._clock()
        finished = [op for op in self._ops.values() if op.done and op.finished_at is not None]
        for op in finished:
            assert op.finished_at is not None
            if now - op.finished_at > KEEP_FINISHED_SECONDS:
                del self._ops[op.id]
        finished = [op for op in self._ops.values() if op.done]
        excess = len(finished) - MAX_FINISHED
        for op in finished[: max(0, excess)]:
            del self._ops[op.id]
