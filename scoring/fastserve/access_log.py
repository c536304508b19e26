"""The access log: one line per /score and /swagger.json answer, written in batches.

azmlinfsrv logs ``POST /score 200 0.345ms 98`` for every request through :mod:`logging`, which
costs more than the rest of a small request. Here lines are kept in a list and written to
stdout together a few times per second (and at shutdown), in the same format as the other
log lines, so the log reads the same at a fraction of the cost.

Usage::

    log = AccessLog(stream=sys.stdout, loop=loop)
    log.record("POST", "/score", 200, 0.345, 98)
    log.flush()                                   # at shutdown
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TextIO

_FLUSH_AFTER_S = 0.2
_NAME = "fastserve.access"


class AccessLog:
    """Buffered access lines: ``record`` is cheap; a timer writes them out."""

    def __init__(self, *, stream: TextIO, loop: asyncio.AbstractEventLoop) -> None:
        self._stream = stream
        self._loop = loop
        self._pending: list[tuple[float, str, str, int, float, int]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._prefix_second = -1
        self._prefix = ""
        self._pid = os.getpid()

    def record(self, method: str, path: str, status: int, ms: float, size: int) -> None:
        """Remember one answered request; it is written within 0.2 s."""
        self._pending.append((time.time(), method, path, status, ms, size))
        if self._timer is None:
            self._timer = self._loop.call_later(_FLUSH_AFTER_S, self.flush)

    def flush(self) -> None:
        """Write every pending line now."""
        self._timer = None
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        lines = [
            f"{self._stamp(at)},{int(at % 1 * 1000):03d} I [{self._pid}] {_NAME} - "
            f"{method} {path} {status} {ms:0.3f}ms {size}\n"
            for at, method, path, status, ms, size in pending
        ]
        self._stream.write("".join(lines))
        self._stream.flush()

    def _stamp(self, at: float) -> str:
        second = int(at)
        if second != self._prefix_second:
            self._prefix_second = second
            self._prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        return self._prefix
