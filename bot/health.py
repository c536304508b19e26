"""The probes a platform asks: ``/healthz`` (the process is alive) and ``/readyz`` (it can do
its work: the database reachable and at the newest migration, Slack's ``auth.test`` passed,
the backend answering). On the Slack app's own HTTP port in HTTP mode; in Socket Mode on a
small listener of its own that serves the probes and nothing else.

    readiness = Readiness(db=services.db, backend=backend, client=client)
    await readiness.check_slack()                   # once, at start
    app.add_routes(probe_routes(readiness))         # GET /healthz, GET /readyz

``/readyz`` answers 200 with ``{"ready": true, "checks": {...}}`` when every check passes,
else 503 naming the failed ones; once shutdown has begun (``readiness.draining = True``) it
answers 503 ``draining`` so that the load balancer stops sending work while the process
finishes what it holds. ``/healthz`` answers 200 until the process exits.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from base.db import Database
from base.migrations import current, head
from bot import messages
from deploy.backend import Backend

__all__ = ["HEALTH_PATH", "READY_PATH", "Readiness", "probe_routes", "start_probe_server"]

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
#: Seconds each readiness check may take before it counts as failed.
CHECK_TIMEOUT = 5.0
OK = "ok"


@dataclass(kw_only=True)
class Readiness:
    """What ``/readyz`` checks. ``slack`` holds the outcome of ``check_slack`` (run once at
    start: a token that passed ``auth.test`` stays valid until revoked, and Slack rate-limits
    the method)."""

    db: Database
    backend: Backend
    client: AsyncWebClient
    timeout: float = CHECK_TIMEOUT
    draining: bool = False
    slack: str = field(default=messages.READY_SLACK_UNCHECKED)

    async def check_slack(self) -> str:
        """Call ``auth.test``; ``"ok"`` or the reason (kept for ``/readyz``)."""
        try:
            await asyncio.wait_for(self.client.auth_test(), self.timeout)
        except SlackApiError as exc:
            self.slack = messages.READY_SLACK_FAILED.format(error=exc.response.get("error"))
        except (TimeoutError, OSError) as exc:
            self.slack = messages.READY_SLACK_FAILED.format(error=type(exc).__name__)
        else:
            self.slack = OK
        return self.slack

    async def checks(self) -> dict[str, str]:
        """Each check's outcome: ``"ok"`` or what is wrong (one line)."""
        database, backend = await asyncio.gather(self._database(), self._backend())
        return {"database": database, "slack": self.slack, "backend": backend}

    async def _database(self) -> str:
        try:
            revision = await asyncio.wait_for(
                asyncio.to_thread(current, self.db.engine), self.timeout
            )
        except Exception as exc:  # any driver error: the probe reports, the log explains
            log.warning("readiness: the database check failed", exc_info=exc)
            return messages.READY_DB_UNREACHABLE.format(error=type(exc).__name__)
        wanted = head()
        if revision != wanted:
            return messages.READY_DB_NOT_MIGRATED.format(current=revision, head=wanted)
        return OK

    async def _backend(self) -> str:
        try:
            await asyncio.wait_for(self.backend.list_endpoints(), self.timeout)
        except Exception as exc:  # any backend failure: the probe reports, the log explains
            log.warning("readiness: the backend check failed", exc_info=exc)
            return messages.READY_BACKEND_FAILED.format(error=type(exc).__name__)
        return OK


def probe_routes(readiness: Readiness) -> list[web.RouteDef]:
    """``GET /healthz`` and ``GET /readyz``."""

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    async def readyz(_request: web.Request) -> web.Response:
        if readiness.draining:
            return web.json_response({"ready": False, "draining": True}, status=503)
        checks = await readiness.checks()
        ready = all(outcome == OK for outcome in checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    return [web.get(HEALTH_PATH, healthz), web.get(READY_PATH, readyz)]


async def start_probe_server(
    readiness: Readiness, *, host: str, port: int
) -> tuple[web.AppRunner, int]:
    """The probes alone on ``host:port`` (Socket Mode); the runner and the bound port."""
    app = web.Application()
    app.add_routes(probe_routes(readiness))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, int(runner.addresses[0][1])
