"""Blocking SDK calls and long-running operations, off the event loop.

azure-ai-ml is synchronous: every call runs in a worker thread
(``asyncio.to_thread``). A long-running operation's ``LROPoller`` polls in its
own daemon thread; ``wait`` joins it a few seconds at a time, reports the status
through the progress callback in between, and gives up (the operation goes on
in Azure) after a timeout.

    poller = await run(ml.online_endpoints.begin_delete, name, not_found="...")
    await wait(poller, what="Deleting endpoint x", progress=progress, interval=5, limit=1800)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from azure.core.polling import LROPoller

from deploy.azure import messages
from deploy.azure.errors import translate
from deploy.errors import FlightdeckError
from deploy.types import ProgressCallback

__all__ = ["run", "wait"]

T = TypeVar("T")


async def run(fn: Callable[..., T], *args: Any, not_found: str | None, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker thread, Azure errors turned into domain errors."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except Exception as exc:
        mapped = translate(exc, not_found=not_found)
        if mapped is None:
            raise
        raise mapped from exc


async def wait(
    poller: LROPoller[T],
    *,
    what: str,
    progress: ProgressCallback | None,
    interval: float,
    limit: float,
    not_found: str | None,
    failed: Callable[[BaseException], Awaitable[FlightdeckError | None]] | None = None,
) -> T:
    """The operation's result once it completes; progress every ``interval`` seconds.

    Raises the operation's failure as a domain error (``failed`` may build it;
    when it returns ``None`` the usual mapping applies), or ``FlightdeckError``
    when it is still running after ``limit`` seconds.
    """
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        left = limit - elapsed
        if left <= 0:
            raise FlightdeckError(messages.TIMED_OUT.format(what=what, seconds=elapsed))
        try:
            await asyncio.to_thread(poller.wait, min(interval, left))
            if poller.done():
                return await asyncio.to_thread(poller.result)
        except Exception as exc:
            mapped = await failed(exc) if failed is not None else None
            mapped = mapped or translate(exc, not_found=not_found)
            if mapped is None:
                raise
            raise mapped from exc
        if progress is not None:
            status = poller.status()
            seconds = time.monotonic() - started
            await progress(messages.PROGRESS.format(what=what, status=status, seconds=seconds))
