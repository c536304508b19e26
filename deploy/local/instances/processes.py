"""Ending the instance processes a dead daemon left running, and calling a scoring URI.

Every instance process the platform starts is recorded in the store with its
create time; a new daemon ends the process groups of the recorded ones that still
run (the create time tells them from an unrelated process that reused the pid).

    await end_leftovers(store)
    result = await invoke_endpoint(uri, b'{"data": [1, 2]}', bearer=key)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

import aiohttp
import psutil

from deploy.local.state.store import Store
from deploy.types import InvokeResult

__all__ = ["end_leftovers", "invoke_endpoint"]

logger = logging.getLogger(__name__)

_GRACE_SECONDS = 5.0
_INVOKE_TIMEOUT_SECONDS = 200.0
_CREATE_TIME_SLACK = 1.0


async def end_leftovers(store: Store) -> list[int]:
    """End the recorded instance processes that still run; forget them all; their pids."""
    leftovers: list[psutil.Process] = []
    for record in store.processes():
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(record.pid)
            if abs(process.create_time() - record.create_time) <= _CREATE_TIME_SLACK:
                leftovers.append(process)
        store.delete_process(record.pid)
    for process in leftovers:
        logger.warning("ending leftover instance process %d", process.pid)
        _signal_group(process.pid, signal.SIGTERM)
    if leftovers:
        _gone, alive = await asyncio.to_thread(psutil.wait_procs, leftovers, _GRACE_SECONDS)
        for process in alive:
            _signal_group(process.pid, signal.SIGKILL)
    return [p.pid for p in leftovers]


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def invoke_endpoint(
    uri: str, body: bytes, *, bearer: str, deployment: str | None = None
) -> InvokeResult:
    """POST ``body`` to a scoring URI with the bearer key or token; any status is returned."""
    headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}
    if deployment:
        headers["azureml-model-deployment"] = deployment
    timeout = aiohttp.ClientTimeout(total=_INVOKE_TIMEOUT_SECONDS)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(uri, data=body, headers=headers) as response,
    ):
        payload = await response.read()
        return InvokeResult(status=response.status, headers=dict(response.headers), body=payload)
