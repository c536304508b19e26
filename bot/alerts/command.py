"""``/alerts``: what is firing, acknowledged, pending and silenced, per endpoint (for everyone)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.edge import Outcome, tell
from bot.services import Services
from bot.slash import SlashRequest, register_command
from commands import alerts
from commands.reply import notice

__all__ = ["register"]


async def run(services: Services, request: SlashRequest) -> Outcome:
    """Parse, read the alert store, answer privately."""
    parsed = alerts.parse(request.text)
    if isinstance(parsed, alerts.AlertsHelp):
        await tell(services, request.origin, notice(alerts.HELP))
        return Outcome(result="help")
    now = services.clock()
    active = await services.alert_store.active(now)
    reply = alerts.render_alerts(parsed, active, settings=services.alert_settings, now=now)
    await tell(services, request.origin, reply)
    return Outcome(result="ok", endpoint=parsed.endpoint)


def register(app: AsyncApp, services: Services) -> None:
    """Listen to ``/alerts``."""
    register_command(app, services, "/alerts", run)
