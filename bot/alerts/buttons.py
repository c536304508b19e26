"""The buttons of an alert message: Acknowledge, Silence 1 h / 4 h, Shift traffic away."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.alerts.flow import acknowledge, shift_away, silence
from bot.buttons import ActionHandler, ButtonClick, register_action
from bot.edge import Outcome
from bot.services import Services
from commands import actions

__all__ = ["register"]


def _silence_for(hours: int) -> ActionHandler:
    async def handler(services: Services, click: ButtonClick) -> Outcome:
        return await silence(services, click, hours=hours)

    return handler


def register(app: AsyncApp, services: Services) -> None:
    """Listen to the alert buttons."""
    register_action(app, services, actions.ALERT_ACK, acknowledge)
    for action_id, hours in actions.ALERT_SILENCE.items():
        register_action(app, services, action_id, _silence_for(hours))
    register_action(app, services, actions.ALERT_SHIFT_AWAY, shift_away)
