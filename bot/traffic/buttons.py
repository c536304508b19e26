"""The "Shift 10% to <deployment>" button under a fresh deployment: a shift request for approval."""

from __future__ import annotations

import json
from functools import partial

from bot import messages
from bot.approvals.flow import request_traffic_shift
from bot.edge import Outcome
from bot.middleware import Listeners
from bot.requests import ButtonClick
from bot.traffic.command import TrafficDeps
from commands import actions
from commands.deploy import SHIFT_PERCENT
from commands.traffic import plan_redistribution
from deploy.errors import ValidationError

__all__ = ["register"]


async def shift(deps: TrafficDeps, click: ButtonClick) -> Outcome:
    """Plan the deployment at 10%, the others sharing the rest; post it for approval."""
    try:
        target = json.loads(click.value)
        endpoint, deployment = str(target["endpoint"]), str(target["deployment"])
    except (ValueError, KeyError, TypeError):
        raise ValidationError(messages.FOREIGN_BUTTON) from None
    await deps.access.require(click.user, "deploy")
    plan = await plan_redistribution(deps.backend, endpoint, deployment, SHIFT_PERCENT)
    approval = await request_traffic_shift(deps.desk, plan=plan, origin=click.origin)
    return Outcome(result="requested", endpoint=endpoint, approval_id=approval.id)


def register(listeners: Listeners, deps: TrafficDeps) -> None:
    """Listen to the shift button."""
    listeners.action(actions.SHIFT_TO_NEW, partial(shift, deps))
