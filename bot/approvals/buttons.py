"""Approve and Reject buttons on a traffic-shift request."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.approvals.flow import decide
from bot.buttons import ButtonClick, register_action
from bot.edge import Outcome
from bot.services import Services
from commands import actions

__all__ = ["register"]


async def approve(services: Services, click: ButtonClick) -> Outcome:
    """Approve (once), then apply and report in the request's message."""
    return await decide(services, approval_id=click.value, approve=True, origin=click.origin)


async def reject(services: Services, click: ButtonClick) -> Outcome:
    """Reject (once)."""
    return await decide(services, approval_id=click.value, approve=False, origin=click.origin)


def register(app: AsyncApp, services: Services) -> None:
    """Listen to the Approve and Reject buttons."""
    register_action(app, services, actions.APPROVE, approve)
    register_action(app, services, actions.REJECT, reject)
