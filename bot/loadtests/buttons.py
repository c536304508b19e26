"""The Cancel button of a running ``/loadtest``: stops it; the partial summary follows."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.buttons import ButtonClick, register_action
from bot.edge import Outcome
from bot.services import Services
from commands import actions
from deploy.errors import ValidationError

__all__ = ["register"]


async def cancel(services: Services, click: ButtonClick) -> Outcome:
    """Deployers (who may start a load test) may stop one."""
    await services.access.require(click.user, "deploy")
    if not services.loadtests.cancel(click.value, user=click.user):
        raise ValidationError(messages.LOADTEST_NOT_RUNNING)
    return Outcome(result="cancelled", detail=click.value)


def register(app: AsyncApp, services: Services) -> None:
    """Listen to the Cancel button."""
    register_action(app, services, actions.LOADTEST_CANCEL, cancel)
