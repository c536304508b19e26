"""Approve and Reject buttons on a traffic-shift request."""

from __future__ import annotations

from functools import partial

from bot.approvals.flow import ApprovalDesk, decide
from bot.approvals.kinds import ApplyDeps
from bot.edge import Outcome
from bot.middleware import Listeners
from bot.requests import ButtonClick
from commands import actions

__all__ = ["register"]


async def approve(desk: ApprovalDesk, applying: ApplyDeps, click: ButtonClick) -> Outcome:
    """Approve (once), then apply and report in the request's message."""
    return await decide(desk, applying, approval_id=click.value, approve=True, origin=click.origin)


async def reject(desk: ApprovalDesk, applying: ApplyDeps, click: ButtonClick) -> Outcome:
    """Reject (once)."""
    return await decide(desk, applying, approval_id=click.value, approve=False, origin=click.origin)


def register(listeners: Listeners, desk: ApprovalDesk, applying: ApplyDeps) -> None:
    """Listen to the Approve and Reject buttons."""
    listeners.action(actions.APPROVE, partial(approve, desk, applying))
    listeners.action(actions.REJECT, partial(reject, desk, applying))
