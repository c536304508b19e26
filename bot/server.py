"""Running the app: HTTP on ``/slack/events`` (signature-checked), or Socket Mode.

    runner, port = await start_http(app, host="127.0.0.1", port=0)
    ...
    await runner.cleanup()

``serve`` is what ``flightdeck serve`` runs: Socket Mode when an app token is set,
HTTP otherwise, after start-up checks that the bot can post to every configured
channel (``bot.startup_checks``: one line each), with the alert watcher's scheduler
(when alerts are configured) and the rollout engine's, and the probes ``/healthz`` and
``/readyz`` (``bot.health``), until ``stop`` is set (SIGINT/SIGTERM); then it takes no
new work, gives the work in flight a deadline to finish and the rollout leases back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from base.db import Database
from bot import messages
from bot.alerts.watch import watching_alerts
from bot.app import approval_desk, build_app, build_client, build_engine
from bot.approvals.flow import ApprovalDesk, expire_overdue
from bot.config import Settings, SlackSecrets
from bot.errors import ConfigError
from bot.health import OK, Readiness, probe_routes, start_probe_server
from bot.preflight import preflight as preflight_checks
from bot.preflight import secret_problems
from bot.rollouts.flow import running_rollouts
from bot.services import Services
from bot.startup_checks import check_channels, plain
from deploy.backend import Backend

__all__ = ["DRAIN_SECONDS", "EVENTS_PATH", "check_secrets", "serve", "start_http"]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
#: Seconds the work in flight gets to finish at shutdown.
DRAIN_SECONDS = 30.0
#: Seconds between two sweeps for expired approval requests.
EXPIRY_SWEEP = 60.0


async def start_http(
    app: AsyncApp,
    *,
    host: str,
    port: int,
    path: str = EVENTS_PATH,
    readiness: Readiness | None = None,
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` (0: a free port), with the probes when ``readiness`` is
    given; the runner and the actual port."""
    web_app = app.web_app(path=path, port=port)
    if readiness is not None:
        web_app.add_routes(probe_routes(readiness))
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, int(runner.addresses[0][1])


async def _expire_every(desk: ApprovalDesk, stop: asyncio.Event) -> None:
    """Expire overdue approval requests now and every ``EXPIRY_SWEEP`` seconds until stop."""
    while not stop.is_set():
        try:
            await expire_overdue(desk)
        except Exception:
            log.exception("expiring overdue approval requests failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), EXPIRY_SWEEP)


async def _start_up_checks(services: Services, announce: Callable[[str], None]) -> None:
    """Can the bot post to every configured channel? A line per problem is announced, the
    rest logged (``bot.startup_checks``); never stops the bot (Slack may be fixed while
    it runs)."""
    try:
        rollouts = [(r.id, r.channel) for r in await services.rollout_store.active() if r.channel]
        lines = await check_channels(services.slack, services.alert_settings, rollouts)
    except Exception:
        log.exception("the start-up checks of Slack failed")
        return
    for finding in lines:
        if finding.ok:
            log.info(plain(finding.text))
        else:
            log.warning(plain(finding.text))
            announce(plain(finding.text))


def check_secrets(secrets: SlackSecrets) -> None:
    """``ConfigError`` naming the first missing environment variable."""
    problems = secret_problems(secrets)
    if problems:
        raise ConfigError(problems[0])


async def serve(
    settings: Settings,
    secrets: SlackSecrets,
    backend: Backend,
    *,
    host: str,
    port: int,
    stop: asyncio.Event | None = None,
    announce: Callable[[str], None] = print,
    drain_seconds: float = DRAIN_SECONDS,
) -> int:
    """Run until ``stop`` is set (or SIGINT/SIGTERM); the exit code.

    Start: the secrets, the database and the backend are checked (``ConfigError`` with one
    line per problem), the database upgraded, ``auth.test`` called; then Slack's requests
    are taken (HTTP on ``port``, beside ``/healthz`` and ``/readyz``; or Socket Mode, with
    the probes alone on ``port``). Stop: ``/readyz`` answers 503, no new request is taken,
    the work in flight (approval posts, alert posts, progress messages) gets
    ``drain_seconds``, then the rollout engine stops (its step in progress gets its own
    deadline, its leases are given back for another replica to take at once) and the alert
    watcher stops.
    """
    problems = secret_problems(secrets)
    client = build_client(token=secrets.bot_token, api_url=secrets.api_url)
    db = Database(url=settings.database())
    problems += await preflight_checks(secrets, db=db, backend=backend)
    if problems:
        db.dispose()
        await backend.aclose()
        lines = "\n".join(f"- {problem}" for problem in dict.fromkeys(problems))
        raise ConfigError(messages.CANNOT_START.format(problems=lines))
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    services = Services.create(settings=settings, backend=backend, client=client, db=db)
    readiness = Readiness(db=services.db, backend=backend, client=client)
    if await readiness.check_slack() != OK:
        log.warning("Slack: %s", readiness.slack)
    await _start_up_checks(services, announce)
    engine = build_engine(services)
    runner: web.AppRunner | None = None
    handler: AsyncSocketModeHandler | None = None
    sweeper: asyncio.Task[None] | None = None
    try:
        if secrets.app_token:
            app = build_app(services=services, rollouts=engine, signing_secret=None)
            handler = AsyncSocketModeHandler(app, secrets.app_token, web_client=client)
            runner, bound = await start_probe_server(readiness, host=host, port=port)
            announce(messages.PROBES_READY.format(host=host, port=bound))
            await handler.connect_async()  # type: ignore[no-untyped-call]
            announce(messages.SOCKET_MODE_READY)
        else:
            app = build_app(
                services=services, rollouts=engine, signing_secret=secrets.signing_secret
            )
            runner, bound = await start_http(app, host=host, port=port, readiness=readiness)
            announce(messages.HTTP_READY.format(host=host, port=bound, path=EVENTS_PATH))
            announce(messages.PROBES_READY.format(host=host, port=bound))
        sweeper = asyncio.create_task(
            _expire_every(approval_desk(services), stop), name="expire approvals"
        )
        async with watching_alerts(services, announce=announce), running_rollouts(engine):
            await stop.wait()
            # Rollouts and alerts stop when this block ends: first take no new work, and let
            # the work in flight (which may start a rollout or post an alert) finish.
            readiness.draining = True
            announce(messages.SHUTDOWN_BEGUN.format(seconds=round(drain_seconds)))
            handler, runner = await _stop_taking_work(handler, runner)
            await _drain(services, drain_seconds)
    finally:
        stop.set()
        readiness.draining = True
        if sweeper is not None:
            await sweeper
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await _stop_taking_work(handler, runner)
        await _drain(services, drain_seconds)
        services.db.dispose()
        await backend.aclose()
    announce(messages.SHUTDOWN_DONE)
    return 0


async def _stop_taking_work(
    handler: AsyncSocketModeHandler | None, runner: web.AppRunner | None
) -> tuple[None, None]:
    """Close the Socket Mode connection and the HTTP listener (handlers running finish)."""
    if handler is not None:
        await handler.close_async()  # type: ignore[no-untyped-call]
    if runner is not None:
        await runner.cleanup()
    return None, None


async def _drain(services: Services, seconds: float) -> None:
    """Give the background work ``seconds`` to finish, then cancel what is left."""
    if not await services.tasks.wait_idle(deadline=seconds):
        log.warning("stopping with %d operations still running", len(services.tasks))
        await services.tasks.cancel_all()
