"""Approve and Reject buttons on a request; "Ask again with today's split" under one refused
as stale."""

from __future__ import annotations

from functools import partial

from bot.approvals.flow import ApprovalDesk, ask_again, decide
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


async def renew(desk: ApprovalDesk, applying: ApplyDeps, click: ButtonClick) -> Outcome:
    """Post the same request again, against today's state."""
    return await ask_again(desk, applying, approval_id=click.value, origin=click.origin)


def register(listeners: Listeners, desk: ApprovalDesk, applying: ApplyDeps) -> None:
    """Listen to the Approve, Reject and Ask-again buttons."""
    listeners.action(actions.APPROVE, partial(approve, desk, applying))
    listeners.action(actions.REJECT, partial(reject, desk, applying))
    listeners.action(actions.ASK_AGAIN, partial(renew, desk, applying))
