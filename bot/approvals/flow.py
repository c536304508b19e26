"""Requests through approval: post the request, decide a click once, apply, report.

Every kind of request (``bot.approvals.kinds``: a traffic shift, a rollout's start, a
rollout's promotion) goes through here: ``/traffic``, the shift button under a fresh
deployment, alerts' "shift traffic away", a rollout's "Promote now".

    approval = await request_traffic_shift(services, plan=plan, origin=origin)
    outcome = await decide(services, approval_id=approval.id, approve=True, origin=clicker)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot import messages
from bot.approvals.kinds import ApprovalKind, TrafficShiftKind, failure_text
from bot.approvals.store import Approval
from bot.approvals.view import render_approval, slack_time
from bot.edge import Outcome
from bot.errors import AccessDeniedError, ApprovalStateError
from bot.policy.locks import require_no_rollout, require_unlocked
from bot.rollouts.kinds import RolloutPromoteKind, RolloutStartKind
from bot.slack_io import Origin
from commands.reply import Reply
from commands.traffic import TrafficPlan
from deploy.errors import ValidationError

if TYPE_CHECKING:
    from bot.services import Services

__all__ = ["KINDS", "decide", "expire_overdue", "request_approval", "request_traffic_shift"]

#: Every kind of request, by its ``kind`` column.
KINDS: Mapping[str, ApprovalKind] = {
    kind.kind: kind for kind in (TrafficShiftKind(), RolloutStartKind(), RolloutPromoteKind())
}


def _kind(approval: Approval) -> ApprovalKind:
    kind = KINDS.get(approval.kind)
    if kind is None:
        raise ValidationError(messages.APPROVAL_UNKNOWN)
    return kind


def _render(services: Services, approval: Approval, *, applying: bool = False) -> Reply:
    return render_approval(
        approval,
        _kind(approval).content(approval),
        expiry_minutes=services.settings.approvals.expiry_minutes,
        self_approval=services.access.allow_self_approval,
        applying=applying,
    )


async def request_approval(
    services: Services, *, kind: str, endpoint: str, payload: Mapping[str, Any], origin: Origin
) -> Approval:
    """Store a pending request of ``kind`` and post it in the origin's channel."""
    now = services.clock()
    expiry = timedelta(minutes=services.settings.approvals.expiry_minutes)
    approval = await services.approvals.create(
        kind=kind,
        endpoint=endpoint,
        payload=dict(payload),
        requester=origin.user,
        channel=origin.channel,
        now=now,
        expires_at=now + expiry,
    )
    try:
        ts = await services.slack.post(origin.channel, _render(services, approval))
    except BaseException:
        # Nothing half-applied: a request nobody can see must not stay pending.
        await services.approvals.expire(approval.id, now=approval.expires_at)
        raise
    await services.approvals.set_message(approval.id, channel=origin.channel, ts=ts)
    return approval


async def request_traffic_shift(
    services: Services, *, plan: TrafficPlan, origin: Origin, force: bool = False
) -> Approval:
    """Ask for approval of a split: refused while the endpoint is locked (unless an approver
    forces it) or a rollout runs on it."""
    await require_unlocked(services, plan.endpoint, user=origin.user, force=force)
    await require_no_rollout(services, plan.endpoint)
    payload = {**plan.to_json(), "force": force}
    return await request_approval(
        services, kind=TrafficShiftKind.kind, endpoint=plan.endpoint, payload=payload, origin=origin
    )


async def _show(services: Services, approval: Approval, *, applying: bool = False) -> None:
    if approval.message_ts:
        reply = _render(services, approval, applying=applying)
        await services.slack.update(approval.channel, approval.message_ts, reply)


async def decide(services: Services, *, approval_id: str, approve: bool, origin: Origin) -> Outcome:
    """Handle an Approve or Reject click; only the first valid click changes anything."""
    now = services.clock()
    approval = await services.approvals.get(approval_id)
    if approval is None:
        raise ValidationError(messages.APPROVAL_UNKNOWN)
    kind = _kind(approval)
    endpoint = approval.endpoint
    if approval.status != "pending":
        raise ApprovalStateError(_already(approval))
    if approval.expired_at(now):
        expired = await services.approvals.expire(approval.id, now=now)
        if expired.won:
            await _show(services, expired.approval)
        raise ApprovalStateError(
            messages.APPROVAL_TOO_LATE.format(at=slack_time(approval.expires_at))
        )
    withdrawing = not approve and origin.user == approval.requester
    if not withdrawing:
        await services.access.require(origin.user, "approve")
    if approve and origin.user == approval.requester and not services.access.allow_self_approval:
        raise AccessDeniedError(messages.SELF_APPROVAL)
    decision = await services.approvals.decide(
        approval.id, approve=approve, user=origin.user, now=now
    )
    if not decision.won:
        raise ApprovalStateError(_already(decision.approval))
    approval = decision.approval
    if not approve:
        await _show(services, approval)
        return Outcome(result="rejected", endpoint=endpoint, approval_id=approval.id)
    await _show(services, approval, applying=True)
    try:
        ok, text = True, await kind.apply(services, approval)
    except Exception as exc:
        ok, text = False, failure_text(exc, approval)
    approval = await services.approvals.set_outcome(approval.id, ok=ok, text=text)
    await _show(services, approval)
    await services.audit.record(
        user=approval.requester,
        channel=approval.channel,
        action="apply",
        result="ok" if ok else "failed",
        text=kind.audit_text(approval),
        detail=text,
        endpoint=endpoint,
        approval_id=approval.id,
    )
    return Outcome(result="approved", endpoint=endpoint, approval_id=approval.id, detail=text)


def _already(approval: Approval) -> str:
    if approval.status == "expired":
        return messages.APPROVAL_TOO_LATE.format(at=slack_time(approval.expires_at))
    when = slack_time(approval.decided_at) if approval.decided_at else ""
    return messages.APPROVAL_ALREADY.format(
        status=messages.STATUS_WORDS[approval.status], user=approval.decided_by, at=when
    )


async def expire_overdue(services: Services) -> int:
    """Mark pending requests past their expiry as expired and update their messages.

    Runs at start and then every minute under ``flightdeck serve``, so that a request
    nobody clicked says it expired; a click on one does the same (see ``decide``).
    """
    now = services.clock()
    count = 0
    for approval in await services.approvals.pending():
        if not approval.expired_at(now):
            continue
        expired = await services.approvals.expire(approval.id, now=now)
        if expired.won:
            count += 1
            await _show(services, expired.approval)
            await services.audit.record(
                user=approval.requester,
                channel=approval.channel,
                action="expire",
                result="expired",
                endpoint=approval.endpoint,
                approval_id=approval.id,
            )
    return count
