"""Button listeners: Approve / Reject, the traffic-shift button under a fresh deployment, and
the buttons of alert messages, Cancel on a running load test, and a rollout's buttons."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners.actions import alerts, approval, loadtest, rollout, shift
from bot.services import Services

__all__ = ["register"]


def register(app: AsyncApp, services: Services) -> None:
    """Register every button listener."""
    approval.register(app, services)
    shift.register(app, services)
    alerts.register(app, services)
    loadtest.register(app, services)
    rollout.register(app, services)
