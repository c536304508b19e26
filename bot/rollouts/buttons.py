"""The buttons of a rollout's progress message: Pause, Resume, Promote now, Abort."""

from __future__ import annotations

from functools import partial

from bot.edge import Outcome
from bot.middleware import Listeners
from bot.requests import ButtonClick
from bot.rollouts.flow import RolloutDeps, act_on_rollout, promote_rollout
from commands import actions

__all__ = ["register"]


async def promote(deps: RolloutDeps, click: ButtonClick) -> Outcome:
    """Ask for approval to go to 100% now."""
    return await promote_rollout(deps, click.value, origin=click.origin)


async def act(deps: RolloutDeps, action: str, click: ButtonClick) -> Outcome:
    """Pause, Resume or Abort the rollout named by the button."""
    return await act_on_rollout(deps, click.value, action=action, origin=click.origin)


def register(listeners: Listeners, deps: RolloutDeps) -> None:
    """Listen to the rollout buttons."""
    listeners.action(actions.ROLLOUT_PAUSE, partial(act, deps, "pause"))
    listeners.action(actions.ROLLOUT_RESUME, partial(act, deps, "resume"))
    listeners.action(actions.ROLLOUT_ABORT, partial(act, deps, "abort"))
    listeners.action(actions.ROLLOUT_PROMOTE, partial(promote, deps))
