"""Running the alert watcher beside the app: ``flightdeck serve`` and the console use this.

async with watching_alerts(services, announce=print) as watcher:
    ...   # the app runs; ``watcher`` is None when alerts are off
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from alerts.watcher import AlertWatcher
from bot import messages
from bot.alerts.notifier import SlackNotifier
from bot.services import Services
from commands.alerts_view import span

__all__ = ["build_watcher", "watching_alerts"]

log = logging.getLogger(__name__)


def build_watcher(services: Services) -> AlertWatcher | None:
    """The watcher for the bot's settings, posting with its Slack client; ``None`` when off."""
    settings = services.alert_settings
    if settings is None or not settings.enabled:
        return None
    return AlertWatcher(
        backend=services.backend,
        store=services.alert_store,
        settings=settings,
        notifier=SlackNotifier(
            slack=services.slack,
            store=services.alert_store,
            audit=services.audit,
            settings=settings,
        ),
        clock=services.clock,
    )


@asynccontextmanager
async def watching_alerts(
    services: Services, *, announce: Callable[[str], None] | None = None
) -> AsyncIterator[AlertWatcher | None]:
    """Start the watcher's scheduler (in the running loop); stop it on the way out."""
    watcher = build_watcher(services)
    settings = services.alert_settings
    if watcher is None or settings is None:
        log.info(messages.ALERTS_OFF)
    else:
        rules = ", ".join(rule.describe() for rule in settings.rules)
        line = messages.ALERTS_WATCHING.format(
            poll=span(settings.poll_interval), channel=settings.channel, rules=rules
        )
        log.info(line)
        if announce is not None:
            announce(line)
        watcher.start()
    try:
        yield watcher
    finally:
        if watcher is not None:
            await watcher.stop()
