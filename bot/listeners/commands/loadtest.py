"""``/loadtest``: registered so that Slack knows it; answers its help until its engine lands."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.guard import Outcome, tell
from bot.listeners.commands.base import SlashRequest, register_command
from bot.services import Services
from commands import loadtest
from commands.reply import notice

__all__ = ["register"]


async def run(services: Services, request: SlashRequest) -> Outcome:
    """Answer with the help."""
    loadtest.parse(request.text)
    await tell(services, request.origin, notice(loadtest.HELP))
    return Outcome(result="help")


def register(app: AsyncApp, services: Services) -> None:
    """Listen to ``/loadtest``."""
    register_command(app, services, "/loadtest", run)
