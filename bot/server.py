"""Running the app: HTTP on ``/slack/events`` (signature-checked), or Socket Mode.

    runner, port = await start_http(app, host="127.0.0.1", port=0)
    ...
    await runner.cleanup()

``serve`` is what ``flightdeck serve`` runs: Socket Mode when an app token is set,
HTTP otherwise, after start-up checks that the bot can post to every configured
channel (``bot.startup_checks``: one line each), with the alert watcher's scheduler
(when alerts are configured) and the rollout engine's,
until ``stop`` is set (SIGINT/SIGTERM); then the bot's work in flight is given a
deadline to finish.
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

from bot import messages
from bot.alerts.watch import watching_alerts
from bot.app import approval_desk, build_app, build_client, build_engine
from bot.approvals.flow import ApprovalDesk, expire_overdue
from bot.config import Settings, SlackSecrets
from bot.errors import ConfigError
from bot.rollouts.flow import running_rollouts
from bot.services import Services
from bot.startup_checks import check_channels, plain
from deploy.backend import Backend

__all__ = ["EVENTS_PATH", "serve", "start_http"]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
#: Seconds the work in flight gets to finish at shutdown.
DRAIN_SECONDS = 30.0
#: Seconds between two sweeps for expired approval requests.
EXPIRY_SWEEP = 60.0


async def start_http(
    app: AsyncApp, *, host: str, port: int, path: str = EVENTS_PATH
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` (0: a free port); the runner and the actual port."""
    runner = web.AppRunner(app.web_app(path=path, port=port), access_log=None)
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
    """``ConfigError`` naming the missing environment variable."""
    if not secrets.bot_token:
        raise ConfigError(messages.MISSING_ENV.format(name="SLACK_BOT_TOKEN"))
    if secrets.app_token:
        if not secrets.app_token.startswith("xapp-"):
            raise ConfigError(messages.BAD_APP_TOKEN)
    elif not secrets.signing_secret:
        raise ConfigError(messages.MISSING_ENV.format(name="SLACK_SIGNING_SECRET"))


async def serve(
    settings: Settings,
    secrets: SlackSecrets,
    backend: Backend,
    *,
    host: str,
    port: int,
    stop: asyncio.Event | None = None,
    announce: Callable[[str], None] = print,
) -> int:
    """Run until ``stop`` is set (or SIGINT/SIGTERM); the exit code."""
    check_secrets(secrets)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    client = build_client(token=secrets.bot_token, api_url=secrets.api_url)
    services = Services.create(settings=settings, backend=backend, client=client)
    await _start_up_checks(services, announce)
    engine = build_engine(services)
    runner: web.AppRunner | None = None
    handler: AsyncSocketModeHandler | None = None
    sweeper: asyncio.Task[None] | None = None
    try:
        if secrets.app_token:
            app = build_app(services=services, rollouts=engine, signing_secret=None)
            handler = AsyncSocketModeHandler(app, secrets.app_token, web_client=client)
            await handler.connect_async()  # type: ignore[no-untyped-call]
            announce(messages.SOCKET_MODE_READY)
        else:
            app = build_app(
                services=services, rollouts=engine, signing_secret=secrets.signing_secret
            )
            runner, bound = await start_http(app, host=host, port=port)
            announce(messages.HTTP_READY.format(host=host, port=bound, path=EVENTS_PATH))
        sweeper = asyncio.create_task(
            _expire_every(approval_desk(services), stop), name="expire approvals"
        )
        async with watching_alerts(services, announce=announce), running_rollouts(engine):
            await stop.wait()
    finally:
        stop.set()
        if sweeper is not None:
            await sweeper
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if handler is not None:
            await handler.close_async()  # type: ignore[no-untyped-call]
        if runner is not None:
            await runner.cleanup()
        if not await services.tasks.wait_idle(deadline=DRAIN_SECONDS):
            log.warning("stopping with %d operations still running", len(services.tasks))
            await services.tasks.cancel_all()
        services.db.dispose()
        await backend.aclose()
    return 0
