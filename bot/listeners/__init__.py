"""Every listener of the app, registered by package: slash commands, then button actions."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners import actions, commands
from bot.services import Services

__all__ = ["register"]


def register(app: AsyncApp, services: Services) -> None:
    """Register all listeners on ``app``."""
    commands.register(app, services)
    actions.register(app, services)
