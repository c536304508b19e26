"""``/logs``: the last lines in the channel, in a code block; long output as a file."""

from __future__ import annotations

from functools import partial

from bot.deployments.deps import DeploymentDeps
from bot.edge import Outcome, tell
from bot.middleware import Listeners
from bot.requests import SlashRequest
from commands import logs
from commands.reply import notice

__all__ = ["register"]


async def run(deps: DeploymentDeps, request: SlashRequest) -> Outcome:
    """Parse, read the logs, post them."""
    parsed = logs.parse(request.text)
    if isinstance(parsed, logs.LogsHelp):
        await tell(deps.slack, request.origin, notice(logs.HELP))
        return Outcome(result="help")
    lines = await logs.execute(deps.backend, parsed)
    await deps.slack.post(request.channel, logs.render(parsed, lines))
    return Outcome(result="ok", endpoint=parsed.endpoint, detail=f"{len(lines)} lines")


def register(listeners: Listeners, deps: DeploymentDeps) -> None:
    """Listen to ``/logs``."""
    listeners.command("/logs", partial(run, deps))
