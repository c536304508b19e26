"""Slash-command listeners, one module per command."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners.commands import alerts, deploy, loadtest, logs, scale, traffic
from bot.services import Services

__all__ = ["register"]


def register(app: AsyncApp, services: Services) -> None:
    """Register /deploy, /traffic, /scale, /logs, /loadtest and /alerts."""
    for module in (deploy, traffic, scale, logs, loadtest, alerts):
        module.register(app, services)
