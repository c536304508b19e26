"""The load tests running now: a run id -> its cancel event, for the Cancel button.

run = services.loadtests.start()          # run.id goes on the Cancel button
... run_load_test(plan, cancel=run.cancel) ...
services.loadtests.cancel(run.id, user="U1")   # from the button; False when it is over
services.loadtests.finish(run.id)
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from bot.config import LoadTestSettings
from loadtest import Limits

__all__ = ["LoadTestRun", "LoadTestRuns", "limits_for"]


@dataclass(kw_only=True)
class LoadTestRun:
    """One running load test."""

    id: str
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled_by: str | None = None


class LoadTestRuns:
    """The registry of running load tests (in memory: a run lives in this process)."""

    def __init__(self) -> None:
        self._runs: dict[str, LoadTestRun] = {}

    def start(self) -> LoadTestRun:
        """A new run with a fresh id."""
        run = LoadTestRun(id=secrets.token_hex(8))
        self._runs[run.id] = run
        return run

    def cancel(self, run_id: str, *, user: str) -> bool:
        """Ask the run to stop; False when no such run is going on."""
        run = self._runs.get(run_id)
        if run is None:
            return False
        if not run.cancel.is_set():
            run.cancelled_by = user
            run.cancel.set()
        return True

    def finish(self, run_id: str) -> None:
        """Forget the run (it ended)."""
        self._runs.pop(run_id, None)

    def __len__(self) -> int:
        return len(self._runs)


def limits_for(caps: LoadTestSettings, *, loopback_only: bool) -> Limits:
    """The configured caps; loopback targets only when the backend says so."""
    return Limits(
        max_requests=caps.max_requests,
        max_duration=caps.max_duration,
        max_rate=caps.max_rate,
        max_concurrency=caps.max_concurrency,
        allow_only_loopback=loopback_only,
    )
