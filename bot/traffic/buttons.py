"""The "Shift 10% to <deployment>" button under a fresh deployment: a shift request for approval."""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.approvals.flow import request_traffic_shift
from bot.buttons import ButtonClick, register_action
from bot.edge import Outcome
from bot.services import Services
from commands import actions
from commands.deploy import SHIFT_PERCENT
from commands.traffic import plan_redistribution
from deploy.errors import ValidationError

__all__ = ["register"]


async def shift(services: Services, click: ButtonClick) -> Outcome:
    """Plan the deployment at 10%, the others sharing the rest; post it for approval."""
    try:
        target = json.loads(click.value)
        endpoint, deployment = str(target["endpoint"]), str(target["deployment"])
    except (ValueError, KeyError, TypeError):
        raise ValidationError(messages.FOREIGN_BUTTON) from None
    await services.access.require(click.user, "deploy")
    plan = await plan_redistribution(services.backend, endpoint, deployment, SHIFT_PERCENT)
    approval = await request_traffic_shift(services, plan=plan, origin=click.origin)
    return Outcome(result="requested", endpoint=endpoint, approval_id=approval.id)


def register(app: AsyncApp, services: Services) -> None:
    """Listen to the shift button."""
    register_action(app, services, actions.SHIFT_TO_NEW, shift)
