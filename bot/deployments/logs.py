"""``/logs``: the last lines in the channel, in a code block; long output as a file.

When the file cannot be attached (Slack refuses the upload, or cannot be reached), the
message is updated to keep the last lines that fit and say why the file is missing.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from bot.deployments.deps import DeploymentDeps
from bot.edge import Outcome, tell
from bot.middleware import Listeners
from bot.requests import SlashRequest
from commands import logs
from commands.reply import notice

__all__ = ["register"]


async def run(deps: DeploymentDeps, request: SlashRequest) -> Outcome:
    """Parse, read the logs, post them (and the whole as a file when they do not fit)."""
    parsed = logs.parse(request.text)
    if isinstance(parsed, logs.LogsHelp):
        await tell(deps.slack, request.origin, notice(logs.HELP))
        return Outcome(result="help")
    lines = await logs.execute(deps.backend, parsed)
    reply = logs.render(parsed, lines)
    ts = await deps.slack.post(request.channel, replace(reply, file=None))
    detail = f"{len(lines)} lines"
    if reply.file is not None:
        why = await deps.slack.share(request.channel, reply.file)
        if why is not None:
            failed = logs.render(parsed, lines, file_error=why)
            await deps.slack.edit_quietly(request.channel, ts, failed)
            detail += ", file not attached"
    return Outcome(result="ok", endpoint=parsed.endpoint, detail=detail)


def register(listeners: Listeners, deps: DeploymentDeps) -> None:
    """Listen to ``/logs``."""
    listeners.command("/logs", partial(run, deps))
