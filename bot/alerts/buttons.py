"""The buttons of an alert message: Acknowledge, Silence 1 h / 4 h, Shift traffic away."""

from __future__ import annotations

from functools import partial

from bot.alerts.flow import AlertDeps, acknowledge, shift_away, silence
from bot.edge import Outcome
from bot.middleware import Listeners
from bot.requests import ButtonClick
from commands import actions

__all__ = ["register"]


async def silence_for(deps: AlertDeps, hours: int, click: ButtonClick) -> Outcome:
    """Silence the clicked alert for ``hours``."""
    return await silence(deps, click, hours=hours)


def register(listeners: Listeners, deps: AlertDeps) -> None:
    """Listen to the alert buttons."""
    listeners.action(actions.ALERT_ACK, partial(acknowledge, deps))
    for action_id, hours in actions.ALERT_SILENCE.items():
        listeners.action(action_id, partial(silence_for, deps, hours))
    listeners.action(actions.ALERT_SHIFT_AWAY, partial(shift_away, deps))
