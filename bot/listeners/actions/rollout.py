"""The buttons of a rollout's progress message: Pause, Resume, Promote now, Abort."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.guard import Outcome
from bot.listeners.actions.base import ButtonClick, register_action
from bot.rollout_flow import abort_rollout, pause_rollout, promote_rollout, resume_rollout
from bot.services import Services
from commands import actions

__all__ = ["register"]


async def pause(services: Services, click: ButtonClick) -> Outcome:
    """Hold the rollout at its step."""
    return await pause_rollout(services, click.value, origin=click.origin)


async def resume(services: Services, click: ButtonClick) -> Outcome:
    """Run it again from its step."""
    return await resume_rollout(services, click.value, origin=click.origin)


async def promote(services: Services, click: ButtonClick) -> Outcome:
    """Ask for approval to go to 100% now."""
    return await promote_rollout(services, click.value, origin=click.origin)


async def abort(services: Services, click: ButtonClick) -> Outcome:
    """Roll back now."""
    return await abort_rollout(services, click.value, origin=click.origin)


def register(app: AsyncApp, services: Services) -> None:
    """Listen to the rollout buttons."""
    register_action(app, services, actions.ROLLOUT_PAUSE, pause)
    register_action(app, services, actions.ROLLOUT_RESUME, resume)
    register_action(app, services, actions.ROLLOUT_PROMOTE, promote)
    register_action(app, services, actions.ROLLOUT_ABORT, abort)
