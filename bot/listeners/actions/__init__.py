"""Button listeners: Approve / Reject, and the traffic-shift button under a fresh deployment."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners.actions import approval, shift
from bot.services import Services

__all__ = ["register"]


def register(app: AsyncApp, services: Services) -> None:
    """Register every button listener."""
    approval.register(app, services)
    shift.register(app, services)
