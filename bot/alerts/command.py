"""``/alerts``: what is firing, acknowledged, pending and silenced, per endpoint (for everyone)."""

from __future__ import annotations

from functools import partial

from bot.alerts.flow import AlertDeps
from bot.edge import Outcome, tell
from bot.middleware import Listeners
from bot.requests import SlashRequest
from commands import alerts
from commands.reply import notice

__all__ = ["register"]


async def run(deps: AlertDeps, request: SlashRequest) -> Outcome:
    """Parse, read the alert store, answer privately."""
    parsed = alerts.parse(request.text)
    if isinstance(parsed, alerts.AlertsHelp):
        await tell(deps.slack, request.origin, notice(alerts.HELP))
        return Outcome(result="help")
    now = deps.clock()
    active = await deps.alert_store.active(now)
    reply = alerts.render_alerts(parsed, active, settings=deps.alert_settings, now=now)
    await tell(deps.slack, request.origin, reply)
    return Outcome(result="ok", endpoint=parsed.endpoint)


def register(listeners: Listeners, deps: AlertDeps) -> None:
    """Listen to ``/alerts``."""
    listeners.command("/alerts", partial(run, deps))
