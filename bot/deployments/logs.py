"""``/logs``: the last lines in the channel, in a code block; long output as a file."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.edge import Outcome, tell
from bot.services import Services
from bot.slash import SlashRequest, register_command
from commands import logs
from commands.reply import notice

__all__ = ["register"]


async def run(services: Services, request: SlashRequest) -> Outcome:
    """Parse, read the logs, post them."""
    parsed = logs.parse(request.text)
    if isinstance(parsed, logs.LogsHelp):
        await tell(services, request.origin, notice(logs.HELP))
        return Outcome(result="help")
    lines = await logs.execute(services.backend, parsed)
    await services.slack.post(request.channel, logs.render(parsed, lines))
    return Outcome(result="ok", endpoint=parsed.endpoint, detail=f"{len(lines)} lines")


def register(app: AsyncApp, services: Services) -> None:
    """Listen to ``/logs``."""
    register_command(app, services, "/logs", run)
