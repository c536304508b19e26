"""``/alerts``: what is firing, acknowledged, pending and silenced, per endpoint (for everyone).

A channel Slack refuses the bot's posts to (not invited, archived, deleted, a missing
scope: ``SlackIO.health``) is a banner at the top saying what to do. When the listing
does not fit in a message, the answer is a compact summary and the full list is
shared as a file (``alerts.txt``) in the channel; if it cannot be, the summary says why.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from alerts.settings import AlertSettings
from bot.alerts.flow import AlertDeps
from bot.channel_health import ChannelHealth, setting_for
from bot.edge import Outcome, tell
from bot.middleware import Listeners
from bot.requests import SlashRequest
from commands import alerts
from commands import messages as command_messages
from commands.blocks import context
from commands.reply import notice

__all__ = ["banner", "register", "setting_for"]


def banner(health: ChannelHealth, settings: AlertSettings | None) -> list[str]:
    """A line (mrkdwn) per channel Slack refuses, with what to do."""
    return [
        problem.advice(where=setting_for(problem.channel, settings))
        for problem in health.problems()
    ]


async def run(deps: AlertDeps, request: SlashRequest) -> Outcome:
    """Parse, read the alert store, answer privately (the full list as a file if too long)."""
    parsed = alerts.parse(request.text)
    if isinstance(parsed, alerts.AlertsHelp):
        await tell(deps.slack, request.origin, notice(alerts.HELP))
        return Outcome(result="help")
    now = deps.clock()
    active = await deps.alert_store.active(now)
    lines = banner(deps.slack.health, deps.alert_settings)
    reply = alerts.render_alerts(
        parsed, active, settings=deps.alert_settings, now=now, banner=lines
    )
    detail = None
    if reply.file is not None:
        why = await deps.slack.share(request.channel, reply.file)
        where = (
            command_messages.ALERTS_FULL_IN_FILE
            if why is None
            else command_messages.ALERTS_FULL_NOT_SHARED.format(why=why)
        )
        reply = replace(
            reply, file=None, blocks=(*reply.blocks[:-1], context(where), reply.blocks[-1])
        )
        detail = "summary" + ("" if why is None else ", file not shared")
    await tell(deps.slack, request.origin, reply)
    return Outcome(result="ok", endpoint=parsed.endpoint, detail=detail)


def register(listeners: Listeners, deps: AlertDeps) -> None:
    """Listen to ``/alerts``."""
    listeners.command("/alerts", partial(run, deps))
