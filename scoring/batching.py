"""Dynamic micro-batching: concurrent predictions coalesced into one InferenceSession.run.

Adaptive (with no wait, the default): a call that finds nothing queued and no batch running
is run at once, in the caller's own thread, as if batching were off (no hand-over, no wait).
Calls that arrive while a run is going queue; the batcher's thread takes what is queued
(waiting up to ``max_wait`` for more, or until ``max_rows`` rows are queued), stacks it into
one batch, runs the model once, and hands each caller its own rows of every output. So
batches form only when requests queue, and their size follows the load.

================================ ================================================ ===============
variable                         meaning                                          default
================================ ================================================ ===============
``FLIGHTDECK_BATCH_MAX_ROWS``    rows per coalesced run; 0 or 1 turns batching    ``64`` under
                                 off                                              fastserve with
                                                                                  threads, else
                                                                                  ``0``
``FLIGHTDECK_BATCH_MAX_WAIT_MS`` how long to wait for more rows once one call is  ``0``
                                 queued (0: batch only what is queued already)
================================ ================================================ ===============

The default follows the server. fastserve exports ``FASTSERVE_THREADS`` (its
``WORKER_COUNT``): above 1, run() is called from several threads of one process, where calls
can meet, so batching is on (64 rows, no wait). azmlinfsrv calls run() one request at a time
per worker process, where no two calls ever meet: off. With no wait, a lone request is not
held for company (under fastserve it waits one turn of the event loop to be known alone,
until a run of lone turns lets it run at once), so the default gains where requests queue
and is level with batching off where they do not, give or take a few microseconds of
bookkeeping a request (see the README's micro-batching benchmark); a wait above 0 delays
every lone request by up to that much, so it is never a default. Set either variable to override
(``FLIGHTDECK_BATCH_MAX_ROWS=0`` turns it off).

Only calls whose rows have the same element type and width share a batch. Every output's
first dimension must be the batch (as for ``[N, K]`` models); a model that answers otherwise
gets a :class:`BatchingError` for the calls of that batch.

Usage::

    settings = BatchSettings.from_environ(os.environ)            # ValueError names the variable
    predict = session_runner(session, input_name="features",
                             output_names=("probabilities",), settings=settings)
    outputs = predict(rows)                                      # list of arrays, like run()
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

# A child of the inference server's logger (as score.py's), so the line reaches its handler.
logger = logging.getLogger("azmlinfsrv.batching")

ENV_MAX_ROWS = "FLIGHTDECK_BATCH_MAX_ROWS"
ENV_MAX_WAIT_MS = "FLIGHTDECK_BATCH_MAX_WAIT_MS"
#: Set by fastserve: how many threads may call run() at once (its WORKER_COUNT).
ENV_SERVER_THREADS = "FASTSERVE_THREADS"
DEFAULT_MAX_ROWS = 64
BAD_NUMBER = "{env}={value!r} is not a whole number >= 0"
NOT_SPLITTABLE = (
    "micro-batching needs every output's first dimension to be the batch: output {index} has "
    "shape {shape} for a batch of {rows} rows (unset " + ENV_MAX_ROWS + " for this model)"
)

Outputs = list[NDArray[Any]]
RunBatch = Callable[[NDArray[Any]], Sequence[Any]]


class BatchingError(RuntimeError):
    """The model's outputs cannot be split back into the callers' rows."""


@dataclass(frozen=True, kw_only=True)
class BatchSettings:
    """How to coalesce: at most ``max_rows`` rows, waiting at most ``max_wait_s``."""

    max_rows: int = 0
    max_wait_s: float = 0.0

    @property
    def enabled(self) -> bool:
        """Batching is on when more than one row may share a run."""
        return self.max_rows > 1

    def describe(self) -> str:
        """For the log line: ``batching=off`` or ``batching=64 rows/1.0 ms``."""
        if not self.enabled:
            return "batching=off"
        return f"batching={self.max_rows} rows/{self.max_wait_s * 1000:.1f} ms"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> BatchSettings:
        """Read the variables (defaults: see the module's table); ValueError names the one
        with a bad value."""
        threaded = _whole(environ, ENV_SERVER_THREADS, 1) > 1
        return cls(
            max_rows=_whole(environ, ENV_MAX_ROWS, DEFAULT_MAX_ROWS if threaded else 0),
            max_wait_s=_whole(environ, ENV_MAX_WAIT_MS, 0) / 1000,
        )


def session_runner(
    session: Any,
    *,
    input_name: str,
    output_names: Sequence[str],
    settings: BatchSettings,
) -> Callable[[NDArray[Any]], Outputs]:
    """``rows -> outputs`` for ``session``: direct, or through a :class:`MicroBatcher`."""
    names = list(output_names)

    def run_batch(rows: NDArray[Any]) -> Outputs:
        return list(session.run(names, {input_name: rows}))

    if not settings.enabled:
        return run_batch
    logger.info("micro-batching on: %s", settings.describe())
    batcher = MicroBatcher(
        run_batch=run_batch, max_rows=settings.max_rows, max_wait_s=settings.max_wait_s
    )
    return batcher.run


class _Call:
    """One caller's rows, and where its answer goes (a lock released when it is ready)."""

    __slots__ = ("error", "key", "outputs", "ready", "rows")

    def __init__(self, rows: NDArray[Any]) -> None:
        self.rows = rows
        self.key = (rows.dtype, rows.shape[1:])
        self.outputs: Outputs | None = None
        self.error: BaseException | None = None
        self.ready = threading.Lock()
        self.ready.acquire()


class MicroBatcher:
    """Thread-safe: :meth:`run` from many threads; one model run per coalesced batch.

    With no wait (``max_wait_s=0``), a call that finds the batcher idle (nothing queued, no
    run going) runs alone in its own thread, at once; with a wait, every call is batched.
    The batches are made and run by one thread of the batcher's own, never by a caller's: a
    caller interrupted while it waits (fastserve's timeout) cannot leave the batcher half way
    through a batch. A lone call interrupted at the wrong moment can at worst leave its mark
    set, and then every call goes through the batcher thread: slower at low load, never
    wrong, never stuck.
    """

    def __init__(self, *, run_batch: RunBatch, max_rows: int, max_wait_s: float) -> None:
        self._run_batch = run_batch
        self._max_rows = max_rows
        self._max_wait_s = max_wait_s
        self._adaptive = max_wait_s == 0  # with a wait, every call waits for company
        self._calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._held: _Call | None = None  # taken from the queue, left for the next batch
        self._state = threading.Lock()  # guards the two flags below
        self._lone_running = False  # a caller runs its rows alone, in its own thread
        self._batch_running = False  # the batcher thread is collecting or running a batch
        self.batches = 0  # coalesced runs made by the batcher thread, for tests and logs
        self.lone_runs = 0  # runs made alone in a caller's thread
        threading.Thread(target=self._serve, name="micro-batcher", daemon=True).start()

    def run(self, rows: NDArray[Any]) -> Outputs:
        """The outputs for ``rows`` (a 2-D batch), computed together with concurrent calls."""
        with self._state:
            alone = self._adaptive and not (
                self._lone_running or self._batch_running or self._calls.qsize()
            )
            if alone:
                self._lone_running = True
        if alone:
            try:
                self.lone_runs += 1
                return list(self._run_batch(rows))
            finally:
                self._lone_running = False
        call = _Call(rows)
        self._calls.put(call)
        call.ready.acquire()
        if call.error is not None:
            raise call.error
        assert call.outputs is not None
        return call.outputs

    def _serve(self) -> None:
        while True:
            first = self._held or self._calls.get()
            self._held = None
            with self._state:
                self._batch_running = True
            try:
                taken = self._collect(first)
                self._answer(taken)
            finally:
                with self._state:
                    self._batch_running = False
            for call in taken:
                call.ready.release()

    def _collect(self, first: _Call) -> list[_Call]:
        """The next batch: the first call, then those that fit until full or time is up."""
        taken, rows = [first], len(first.rows)
        deadline = time.monotonic() + self._max_wait_s
        while rows < self._max_rows:
            try:
                call = self._calls.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    call = self._calls.get(timeout=remaining)
                except queue.Empty:
                    break
            if call.key != first.key or rows + len(call.rows) > self._max_rows:
                self._held = call
                break
            taken.append(call)
            rows += len(call.rows)
        return taken

    def _answer(self, taken: list[_Call]) -> None:
        self.batches += 1
        try:
            if len(taken) == 1:
                taken[0].outputs = list(self._run_batch(taken[0].rows))
                return
            stacked = np.concatenate([call.rows for call in taken])
            outputs = list(self._run_batch(stacked))
            _check_splittable(outputs, len(stacked))
            start = 0
            for call in taken:
                end = start + len(call.rows)
                call.outputs = [output[start:end] for output in outputs]
                start = end
        except Exception as error:
            for call in taken:
                call.error = error


def _check_splittable(outputs: Outputs, rows: int) -> None:
    for index, output in enumerate(outputs):
        shape = getattr(output, "shape", None)
        if not shape or shape[0] != rows:
            raise BatchingError(NOT_SPLITTABLE.format(index=index, shape=shape, rows=rows))


def _whole(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ValueError(BAD_NUMBER.format(env=name, value=value))
    return int(value)
