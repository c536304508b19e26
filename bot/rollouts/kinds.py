"""Approval requests of canary rollouts: one to start a rollout, one to promote it now.

``rollout``: the plan (each step's split, the checks); approving it starts the rollout on
the engine. ``rollout_promote``: "Promote now", or the approval a ``--confirm-promotion``
rollout waits for at its last step; approving it sends the canary to 100%.
"""

from __future__ import annotations

from bot import messages
from bot.approvals.kinds import ApplyDeps, applying_guard
from bot.approvals.store import Approval
from bot.approvals.view import ApprovalContent
from commands.blocks import format_split, section
from commands.rollout_view import plan_blocks
from rollouts import RolloutPlan, RolloutStateError

__all__ = ["RolloutPromoteKind", "RolloutStartKind"]


class RolloutStartKind:
    """Start a canary rollout (the payload is a ``RolloutPlan`` and ``force``)."""

    kind = "rollout"

    def content(self, approval: Approval) -> ApprovalContent:
        plan = RolloutPlan.from_json(approval.payload["plan"])
        canary = plan.spec.canary
        return ApprovalContent(
            title=messages.ROLLOUT_APPROVAL_TITLE.format(canary=canary, endpoint=plan.endpoint),
            intro=messages.ROLLOUT_APPROVAL_ASK.format(
                user=approval.requester, canary=canary, endpoint=plan.endpoint
            ),
            body=tuple(plan_blocks(plan)),
            confirm_title=messages.ROLLOUT_CONFIRM_TITLE,
            confirm_text=messages.ROLLOUT_CONFIRM_TEXT.format(
                canary=canary, first=plan.spec.steps[0], endpoint=plan.endpoint
            ),
        )

    def audit_text(self, approval: Approval) -> str:
        plan = RolloutPlan.from_json(approval.payload["plan"])
        return messages.ROLLOUT_AUDIT.format(canary=plan.spec.canary, steps=plan.spec.steps_text())

    async def apply(self, deps: ApplyDeps, approval: Approval) -> str:
        plan = RolloutPlan.from_json(approval.payload["plan"])
        rollout = await deps.rollouts.begin(
            endpoint=plan.endpoint,
            spec=plan.spec,
            requested_by=approval.requester,
            approved_by=approval.decided_by,
            channel=approval.channel,
            force=bool(approval.payload.get("force")),
        )
        return messages.ROLLOUT_STARTED.format(
            id=rollout.id,
            canary=rollout.canary,
            weight=rollout.weight,
            steps=len(rollout.spec.steps),
        )


class RolloutPromoteKind:
    """Send a rollout's canary to 100% now (the payload names the rollout)."""

    kind = "rollout_promote"

    def content(self, approval: Approval) -> ApprovalContent:
        payload = approval.payload
        canary, endpoint = str(payload["canary"]), approval.endpoint
        intro = (
            messages.PROMOTE_CONFIRMING
            if payload.get("confirming")
            else messages.PROMOTE_ASK.format(user=approval.requester)
        )
        body = messages.PROMOTE_BODY.format(
            current=format_split(dict(payload.get("current") or {})), canary=canary
        )
        return ApprovalContent(
            title=messages.PROMOTE_TITLE.format(canary=canary, endpoint=endpoint),
            intro=intro.format(canary=canary, endpoint=endpoint),
            body=(section(body),),
            confirm_title=messages.PROMOTE_CONFIRM_TITLE,
            confirm_text=messages.PROMOTE_CONFIRM_TEXT.format(canary=canary, endpoint=endpoint),
        )

    def audit_text(self, approval: Approval) -> str:
        return messages.PROMOTE_AUDIT.format(canary=approval.payload["canary"])

    async def apply(self, deps: ApplyDeps, approval: Approval) -> str:
        await applying_guard(deps.locks, approval)
        engine = deps.rollouts
        rollout_id = str(approval.payload["rollout"])
        rollout = await engine.store.get(rollout_id)
        if rollout is None or not rollout.active:
            raise RolloutStateError(messages.PROMOTE_OVER)
        promoted = await engine.promote(rollout_id, user=approval.decided_by or approval.requester)
        return messages.PROMOTED.format(canary=promoted.canary, status=promoted.status)
