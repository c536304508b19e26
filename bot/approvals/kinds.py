"""The kinds of approval request, each with what it shows and what approving it does.

``traffic`` (a split, a rollback, "shift traffic away" from an alert), ``rollout`` (starts a
canary rollout, ``bot.rollouts.kinds``) and ``rollout_promote`` (a rollout to 100% now).
``bot.approvals.flow`` stores, posts, decides and applies requests through these.

    kind = KINDS[approval.kind]
    reply = render_approval(approval, kind.content(approval), ...)
    ok, text = await kind.apply(services, approval)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from bot import messages
from bot.approvals.store import Approval
from bot.approvals.view import ApprovalContent
from bot.policy.locks import require_no_rollout
from commands.traffic import TrafficPlan, apply_plan
from commands.traffic_view import format_split, plan_blocks, render_applied
from deploy.errors import FlightdeckError, ValidationError

if TYPE_CHECKING:
    from bot.services import Services

__all__ = ["ApprovalKind", "TrafficShiftKind", "applying_guard"]

log = logging.getLogger(__name__)


class ApprovalKind(Protocol):
    """One kind of request."""

    #: The ``kind`` column of its approvals.
    kind: str

    def content(self, approval: Approval) -> ApprovalContent:
        """What the request shows."""
        ...

    def audit_text(self, approval: Approval) -> str:
        """What was applied, in a line of the audit log."""
        ...

    async def apply(self, services: Services, approval: Approval) -> str:
        """Do what was approved; what to show. ``FlightdeckError`` when it cannot be done."""
        ...


async def applying_guard(services: Services, approval: Approval) -> None:
    """At apply time: the endpoint is not locked since (unless the request passed --force)."""
    lock = await services.locks.get(approval.endpoint)
    if lock is not None and not approval.payload.get("force"):
        raise lock.error()


class TrafficShiftKind:
    """A new split (or a rollback to the split before Flightdeck's last shift)."""

    kind = "traffic"

    def content(self, approval: Approval) -> ApprovalContent:
        plan = TrafficPlan.from_json(approval.payload)
        if plan.rollback_of is not None:
            title = messages.APPROVAL_ROLLBACK_TITLE.format(endpoint=plan.endpoint)
            intro = messages.APPROVAL_ROLLBACK_ASK.format(
                user=approval.requester, endpoint=plan.endpoint
            )
        else:
            title = messages.APPROVAL_TITLE.format(endpoint=plan.endpoint)
            intro = messages.APPROVAL_ASK.format(user=approval.requester, endpoint=plan.endpoint)
        return ApprovalContent(
            title=title,
            intro=intro,
            body=tuple(plan_blocks(plan)),
            confirm_title=messages.CONFIRM_TITLE,
            confirm_text=messages.CONFIRM_TEXT.format(
                endpoint=plan.endpoint, split=format_split(plan.traffic, plan.mirror)
            ),
        )

    def audit_text(self, approval: Approval) -> str:
        plan = TrafficPlan.from_json(approval.payload)
        return format_split(plan.traffic, plan.mirror)

    async def apply(self, services: Services, approval: Approval) -> str:
        plan = TrafficPlan.from_json(approval.payload)
        await applying_guard(services, approval)
        await require_no_rollout(services, plan.endpoint)
        if plan.rollback_of is not None:
            last = await services.history.last_shift(plan.endpoint)
            if last is None or last.id != plan.rollback_of:
                raise ValidationError(messages.ROLLBACK_STALE)
        before = await services.backend.get_endpoint(plan.endpoint)
        after = await apply_plan(services.backend, plan)
        await services.history.record(
            endpoint=plan.endpoint,
            before=before.traffic,
            before_mirror=before.mirror_traffic,
            after=after.traffic,
            after_mirror=after.mirror_traffic,
            approval_id=approval.id,
            rollback_of=plan.rollback_of,
        )
        return render_applied(after)


def failure_text(error: Exception, approval: Approval) -> str:
    """What to show when applying failed: a known error's message; a bug, logged once here."""
    if isinstance(error, FlightdeckError):
        return messages.APPLY_FAILED.format(error=error.message)
    log.error("applying approval %s failed", approval.id, exc_info=error)
    return messages.APPLY_FAILED.format(error=messages.GENERIC_ERROR)
