"""Blocking SDK calls and long-running operations, off the event loop.

azure-ai-ml is synchronous: every call runs in a worker thread
(``asyncio.to_thread``). A long-running operation's ``LROPoller`` polls in its
own daemon thread; ``wait`` joins it a few seconds at a time, reports the status
through the progress callback in between, and gives up (the operation goes on
in Azure) after a timeout. An operation that ends ``Canceled`` is reported as
canceled (with Azure's reason, which may say by whom), not as a failure; a 403 from
the workspace's storage account (an upload) names the account and the role to grant.

    poller = await run(ml.online_endpoints.begin_delete, name, not_found="...")
    await wait(poller, what="Deleting endpoint x", progress=progress, interval=5, limit=1800)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from azure.core.exceptions import HttpResponseError
from azure.core.polling import LROPoller

from deploy.azure import messages
from deploy.azure.errors import error_detail, translate
from deploy.azure.storage import storage_refusal
from deploy.errors import FlightdeckError
from deploy.types import ProgressCallback

__all__ = ["canceled", "run", "wait"]

T = TypeVar("T")


async def run(fn: Callable[..., T], *args: Any, not_found: str | None, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker thread, Azure errors turned into domain errors."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except Exception as exc:
        mapped = storage_refusal(exc) or translate(exc, not_found=not_found)
        if mapped is None:
            raise
        raise mapped from exc


def canceled(exc: BaseException, what: str) -> FlightdeckError | None:
    """The error for an operation whose final status is ``Canceled``, else ``None``.

    azure-core raises the status response of a canceled operation as a failure
    ("Operation returned an invalid status 'OK'" when Azure gives no error with it).
    """
    if not isinstance(exc, HttpResponseError) or exc.response is None:
        return None
    try:
        body = json.loads(exc.response.text())
    except ValueError:
        return None
    if not isinstance(body, dict) or str(body.get("status", "")).lower() != "canceled":
        return None
    error = body.get("error") or {}
    reason = error.get("message") if isinstance(error, dict) else None
    by = messages.CANCELED_BY.format(detail=error_detail(exc)) if reason else ""
    return FlightdeckError(messages.CANCELED.format(what=what, by=by))


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
            stopped = canceled(exc, what)
            if stopped is not None:
                raise stopped from exc
            mapped = await failed(exc) if failed is not None else None
            mapped = mapped or translate(exc, not_found=not_found)
            if mapped is None:
                raise
            raise mapped from exc
        if progress is not None:
            status = poller.status()
            seconds = time.monotonic() - started
            await progress(messages.PROGRESS.format(what=what, status=status, seconds=seconds))
