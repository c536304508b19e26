"""The Cancel button of a running ``/loadtest``: stops it; the partial summary follows."""

from __future__ import annotations

from functools import partial

from bot import messages
from bot.edge import Outcome
from bot.loadtests.command import LoadTestDeps
from bot.middleware import Listeners
from bot.requests import ButtonClick
from commands import actions
from deploy.errors import ValidationError

__all__ = ["register"]


async def cancel(deps: LoadTestDeps, click: ButtonClick) -> Outcome:
    """Deployers (who may start a load test) may stop one."""
    await deps.access.require(click.user, "deploy")
    if not deps.runs.cancel(click.value, user=click.user):
        raise ValidationError(messages.LOADTEST_NOT_RUNNING)
    return Outcome(result="cancelled", detail=click.value)


def register(listeners: Listeners, deps: LoadTestDeps) -> None:
    """Listen to the Cancel button."""
    listeners.action(actions.LOADTEST_CANCEL, partial(cancel, deps))
