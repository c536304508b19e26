"""The hot path: a bounded pool of keep-alive connections fed by a closed or an open loop.

Both loops share one pump: while a request is due and a connection is idle,
send it; when requests are due and no connection is idle, open more, up to
``plan.concurrency``. The loops differ only in what makes a request due:

- closed loop: a request is due whenever fewer than ``requests`` were started,
  so each worker sends its next request as soon as its last one returns;
  latency runs from the actual send.
- open loop: request ``i`` is due at ``start + i / rate``; a tick adds due
  requests to a queue and the pump sends them; latency runs from the intended
  time, so waiting for a free connection counts (coordinated omission
  corrected), or from the actual send when that was earlier (a tick sends up to
  1 ms ahead); the time from the actual send is kept as well (uncorrected, as
  wrk and hey measure). A request still queued after ``plan.timeout`` is dropped.

Everything here runs in callbacks: no task or future per request.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from loadtest.http1 import Connection, build_request, client_tls, open_connection
from loadtest.plan import LoadTestPlan, Mode
from loadtest.recorder import CONNECTION_ERROR, TIMEOUT, TLS_ERROR, Recorder

__all__ = ["Driver"]

# The event loop's timers wake up to a millisecond late (epoll), so an open-loop
# tick wakes this much before the next intended send and sends every request due
# by then: a request sent early is timed from its actual send, one sent late from
# its intended time. No busy polling: a spinning generator loses the CPU to its
# neighbours and then sends late.
_EARLY_NS = 1_000_000
_SWEEP_S = 0.05


class Driver:
    """Runs one plan over a connection pool. ``finished`` resolves when it is over."""

    def __init__(self, plan: LoadTestPlan, *, clock: Callable[[], int], time_cap: float) -> None:
        self._plan = plan
        self._clock = clock
        self._loop = asyncio.get_running_loop()
        self._target = plan.target
        # One TLS context for the run: certificates are loaded once, sessions shared.
        self._tls = client_tls(plan.ca_file) if self._target.tls else None
        self._request = build_request(self._target, plan.method, plan.request_headers(), plan.body)
        self._open_loop = plan.mode is Mode.OPEN
        self._limit = plan.concurrency
        self._timeout_ns = int(plan.timeout * 1e9)
        self._late_ns = int(plan.late_threshold * 1e9)
        self._time_cap_ns = int(time_cap * 1e9)
        self._total = plan.planned_requests
        self._interval_ns = 1e9 / plan.rate if plan.rate else 0.0
        self._remaining = self._total  # closed loop: requests not yet started
        self._next = 0  # open loop: index of the next intended send
        self._pending: deque[int] = deque()  # open loop: intended times of due requests
        self._idle: list[Connection] = []
        self._conns: set[Connection] = set()
        self._connecting = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._tick_handle: asyncio.Handle | None = None
        self._sweep_handle: asyncio.Handle | None = None
        self._cap_handle: asyncio.Handle | None = None
        self._started = False
        self._stopping = False
        self.cancelled = False
        self.finished: asyncio.Future[None] = self._loop.create_future()
        self.end_ns = 0
        self.recorder = self._new_recorder()

    def _new_recorder(self) -> Recorder:
        # The open loop also keeps each latency from the actual send (uncorrected).
        return Recorder(start_ns=self._clock(), planned=self._total, from_send=self._open_loop)

    # ------------------------------------------------------------ lifecycle

    async def warm_up(self) -> None:
        """Open the first connections before the clock starts (failures are left to the run)."""
        count = min(self._limit, self._total)
        results = await asyncio.gather(
            *(self._open() for _ in range(count)),
            return_exceptions=True,
        )
        for conn in results:
            if isinstance(conn, Connection) and not conn.closed:
                self._conns.add(conn)
                self._idle.append(conn)

    def start(self) -> None:
        """Start the clock and the loop."""
        self._started = True
        self.recorder = self._new_recorder()
        self._cap_handle = self._loop.call_later(self._time_cap_ns / 1e9, self.stop)
        self._sweep_handle = self._loop.call_later(_SWEEP_S, self._sweep)
        if self._open_loop:
            self._tick()
        else:
            self._pump()

    def stop(self) -> None:
        """Send nothing more (the time cap); requests in flight may still complete or time out.

        Open-loop requests already due but still waiting for a connection count as dropped.
        """
        self.recorder.dropped += len(self._pending)
        self._halt()
        self._check_finished()

    def cancel(self) -> None:
        """Stop at once: in-flight requests are abandoned, the result is partial."""
        self.cancelled = True
        self._halt()
        self._finish()

    def _halt(self) -> None:
        self._stopping = True
        self._remaining = 0
        self._next = self._total
        self._pending.clear()

    def shutdown(self) -> None:
        """Close every connection and forget every timer and task (idempotent)."""
        self._stopping = True
        for handle in (self._tick_handle, self._sweep_handle, self._cap_handle):
            if handle is not None:
                handle.cancel()
        for task in self._tasks:
            task.cancel()
        for conn in list(self._conns):
            conn.abort()
        self._conns.clear()
        self._idle.clear()

    def _finish(self) -> None:
        if not self.finished.done():
            self.end_ns = self._clock()
            self.finished.set_result(None)

    def _check_finished(self) -> None:
        if self._has_work():
            return
        if self._connecting or len(self._idle) < len(self._conns):
            return  # requests in flight
        self._finish()

    def _has_work(self) -> bool:
        if self._open_loop:
            return bool(self._pending) or self._next < self._total
        return self._remaining > 0

    # ------------------------------------------------------------ sending

    def _pump(self) -> None:
        idle = self._idle
        request = self._request
        clock = self._clock
        recorder = self.recorder
        if self._open_loop:
            pending = self._pending
            while pending and idle:
                conn = idle.pop()
                intended = pending.popleft()
                now = clock()
                if now - intended > self._late_ns:
                    recorder.late += 1
                # Timed from the intended send, or from the actual one if that was earlier.
                conn.intended_ns = intended if intended < now else now
                conn.sent_ns = now
                recorder.sent += 1
                conn.send(request)
            due = len(pending)
        else:
            while self._remaining and idle:
                conn = idle.pop()
                self._remaining -= 1
                conn.intended_ns = conn.sent_ns = clock()
                recorder.sent += 1
                conn.send(request)
            due = self._remaining
        if due:
            room = self._limit - len(self._conns) - self._connecting
            for _ in range(min(due, room)):
                self._connecting += 1
                task = self._loop.create_task(self._connect())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        else:
            self._check_finished()

    def _open(self) -> Coroutine[Any, Any, Connection]:
        plan = self._plan
        head_only = plan.method == "HEAD"
        return open_connection(self._target, self, plan.timeout, head_only=head_only, tls=self._tls)

    async def _connect(self) -> None:
        try:
            conn = await self._open()
        except ssl.SSLError:  # not trusted, or a certificate for another host
            self._connecting -= 1
            self._fail_one_due(TLS_ERROR)
        except (OSError, TimeoutError):
            self._connecting -= 1
            self._fail_one_due(CONNECTION_ERROR)
        else:
            self._connecting -= 1
            if conn.closed:
                return
            self._conns.add(conn)
            self._idle.append(conn)
        self._pump()

    def _fail_one_due(self, category: str) -> None:
        """A connection for a due request failed: that request is an error of ``category``."""
        if self._open_loop:
            if not self._pending:
                return
            self._pending.popleft()
        else:
            if not self._remaining:
                return
            self._remaining -= 1
        self.recorder.sent += 1
        self.recorder.record_error(category, self._clock())

    def _tick(self) -> None:
        """Open loop: queue the requests now due, drop the stale ones, schedule the next tick."""
        now = self._clock()
        start = self.recorder.start_ns
        interval = self._interval_ns
        pending = self._pending
        horizon = now + _EARLY_NS
        while self._next < self._total:
            intended = start + int(self._next * interval)
            if intended > horizon:
                break
            pending.append(intended)
            self._next += 1
        while pending and now - pending[0] > self._timeout_ns:
            pending.popleft()
            self.recorder.dropped += 1
        self._pump()
        if self._stopping:
            return
        if self._next < self._total:
            wait = start + int(self._next * interval) - _EARLY_NS - self._clock()
            if wait > 0:
                self._tick_handle = self._loop.call_later(wait / 1e9, self._tick)
            else:
                self._tick_handle = self._loop.call_soon(self._tick)
        elif pending:
            # Nothing left to schedule: come back when the oldest waiting request goes stale.
            delay = (pending[0] + self._timeout_ns - now) / 1e9 + 0.001
            self._tick_handle = self._loop.call_later(delay, self._tick)

    def _sweep(self) -> None:
        """Time out requests in flight for longer than ``plan.timeout``."""
        now = self._clock()
        for conn in list(self._conns):
            if conn.busy and now - conn.sent_ns > self._timeout_ns:
                conn.abort()
                self.recorder.record_error(TIMEOUT, now)
        if not self.finished.done():
            self._sweep_handle = self._loop.call_later(_SWEEP_S, self._sweep)

    # ------------------------------------------------------------ ConnectionOwner

    def on_response(self, conn: Connection, status: int) -> None:
        now = self._clock()
        self.recorder.record(now - conn.intended_ns, status, now)
        if self._open_loop:
            self.recorder.record_from_send(now - conn.sent_ns)
        if not conn.closed:
            self._idle.append(conn)
        self._pump()

    def on_failure(self, conn: Connection, category: str) -> None:
        self.recorder.record_error(category, self._clock())

    def on_closed(self, conn: Connection) -> None:
        self._conns.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)
        if not self._started:
            return
        if not self._stopping or self._has_work():
            self._pump()
        else:
            self._check_finished()
