"""The buttons of a rollout's progress message: Pause, Resume, Promote now, Abort."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.buttons import ActionHandler, ButtonClick, register_action
from bot.edge import Outcome
from bot.rollouts.flow import act_on_rollout, promote_rollout
from bot.services import Services
from commands import actions

__all__ = ["register"]


async def promote(services: Services, click: ButtonClick) -> Outcome:
    """Ask for approval to go to 100% now."""
    return await promote_rollout(services, click.value, origin=click.origin)


def _acting(action: str) -> ActionHandler:
    async def handler(services: Services, click: ButtonClick) -> Outcome:
        return await act_on_rollout(services, click.value, action=action, origin=click.origin)

    return handler


def register(app: AsyncApp, services: Services) -> None:
    """Listen to the rollout buttons."""
    register_action(app, services, actions.ROLLOUT_PAUSE, _acting("pause"))
    register_action(app, services, actions.ROLLOUT_RESUME, _acting("resume"))
    register_action(app, services, actions.ROLLOUT_ABORT, _acting("abort"))
    register_action(app, services, actions.ROLLOUT_PROMOTE, promote)
