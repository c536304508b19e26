"""Starting a change while another operation runs on the resource: wait, then retry.

Azure ML allows one change at a time on an endpoint or deployment. While one runs
(another user's, a second bot replica's, Azure's own autoscale changing the capacity),
ARM refuses the next with 409 Conflict ("An operation is already in progress ...") or,
for a deployment on an endpoint being changed, 400 ("Cannot create a deployment in
endpoint X because it is in Updating provisioning state"). Such a refusal is not the
user's mistake: ``start_when_free`` retries with back-off (2, 4, 8, 16, then every 30 s)
until a deadline, reporting "waiting for the running operation on X" through the
progress callback, and only then fails with a ``ConflictError`` that names the
operation in the way (the resource's provisioning state and Azure's words).

    poller = await start_when_free(start, target=Target("endpoint 'ep'", probe),
                                   action="Updating endpoint 'ep'", progress=progress,
                                   deadline=1800, clock=time.monotonic, sleep=asyncio.sleep)
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.core.exceptions import AzureError, HttpResponseError

from deploy.azure import messages
from deploy.azure.errors import error_detail
from deploy.errors import ConflictError, FlightdeckError
from deploy.types import ProgressCallback

__all__ = ["BACKOFF", "Target", "is_busy", "start_when_free"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Seconds between attempts; the last one repeats.
BACKOFF = (2.0, 4.0, 8.0, 16.0, 30.0)

_BUSY = re.compile(
    r"already in progress|operation in progress|another operation|already running"
    r"|because it is in \w+ provisioning state",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Target:
    """The resource a change is for: how to name it, and how to read its state (blocking)."""

    label: str
    probe: Callable[[], Any] | None = None


def is_busy(exc: BaseException | None) -> bool:
    """True when ``exc`` (or what it was raised from) is ARM's refusal while an operation runs."""
    while exc is not None:
        if isinstance(exc, HttpResponseError) and exc.status_code in (400, 409):
            return bool(_BUSY.search(error_detail(exc)) or _BUSY.search(str(exc)))
        exc = exc.__cause__
    return False


async def start_when_free(
    start: Callable[[], Awaitable[T]],
    *,
    target: Target,
    action: str,
    progress: ProgressCallback | None,
    deadline: float,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
) -> T:
    """``await start()``, retried while ARM refuses it because another operation runs."""
    started = clock()
    attempt = 0
    while True:
        try:
            return await start()
        except FlightdeckError as exc:
            if not is_busy(exc):
                raise
            detail = error_detail(exc.__cause__) if exc.__cause__ is not None else exc.message
            operation = await _operation(target, detail)
            waited = clock() - started
            left = deadline - waited
            if left <= 0:
                raise ConflictError(
                    messages.STILL_BUSY.format(
                        action=action, target=target.label, seconds=waited, operation=operation
                    )
                ) from exc
            line = messages.BUSY_WAITING.format(
                target=target.label, operation=operation, action=_lower(action), seconds=waited
            )
            log.info("%s", line)
            if progress is not None:
                await progress(line)
            await sleep(min(BACKOFF[min(attempt, len(BACKOFF) - 1)], left))
            attempt += 1


async def _operation(target: Target, detail: str) -> str:
    """What is in the way: the resource's provisioning state (if readable), Azure's words."""
    state = None
    if target.probe is not None:
        try:
            entity = await asyncio.to_thread(target.probe)
            state = getattr(entity, "provisioning_state", None)
        except AzureError as exc:  # the state only decorates the message
            log.debug("Could not read the state of %s: %s", target.label, exc)
    if state:
        return f"provisioning state {getattr(state, 'value', state)}; Azure: {detail}"
    return f"Azure: {detail}"


def _lower(action: str) -> str:
    return action[:1].lower() + action[1:]
