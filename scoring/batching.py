"""Dynamic micro-batching: concurrent predictions coalesced into one InferenceSession.run.

When several threads score at once (fastserve runs run() in ``WORKER_COUNT`` threads), their
rows are queued; the batcher's thread takes the first, waits up to ``max_wait`` for more (or
until ``max_rows`` rows are queued), stacks them into one batch, runs the model once, and
hands each caller its own rows of every output. Calls that arrive while a batch runs make
up the next one. Off by default; a server that calls run() one
at a time (azmlinfsrv: one request per worker process) gains nothing from it.

=================================== ================================================ =======
variable                            meaning                                          default
=================================== ================================================ =======
``FLIGHTDECK_BATCH_MAX_ROWS``       rows per coalesced run; 0 or 1 turns batching off ``0``
``FLIGHTDECK_BATCH_MAX_WAIT_MS``    how long to wait for more rows once one call is  ``0``
                                    queued (0: batch only what is queued already)
=================================== ================================================ =======

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
        """Read the variables; ValueError names the one with a bad value."""
        return cls(
            max_rows=_whole(environ, ENV_MAX_ROWS, 0),
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

    The batches are made and run by one thread of the batcher's own, never by a caller's:
    a caller interrupted while it waits (fastserve's timeout) cannot leave the batcher half
    way through a batch.
    """

    def __init__(self, *, run_batch: RunBatch, max_rows: int, max_wait_s: float) -> None:
        self._run_batch = run_batch
        self._max_rows = max_rows
        self._max_wait_s = max_wait_s
        self._calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._held: _Call | None = None  # taken from the queue, left for the next batch
        self.batches = 0  # runs made, for tests and logs
        threading.Thread(target=self._serve, name="micro-batcher", daemon=True).start()

    def run(self, rows: NDArray[Any]) -> Outputs:
        """The outputs for ``rows`` (a 2-D batch), computed together with concurrent calls."""
        call = _Call(rows)
        self._calls.put(call)
        call.ready.acquire()
        if call.error is not None:
            raise call.error
        assert call.outputs is not None
        return call.outputs

    def _serve(self) -> None:
        while True:
            taken = self._collect()
            self._answer(taken)
            for call in taken:
                call.ready.release()

    def _collect(self) -> list[_Call]:
        """The next batch: the first call, then those that fit until full or time is up."""
        first = self._held or self._calls.get()
        self._held = None
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
