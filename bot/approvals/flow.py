"""Requests through approval: post the request, decide a click once, apply, report.

Every kind of request (``bot.approvals.kinds``: a traffic shift, a rollout's start, a
rollout's promotion) goes through here: ``/traffic``, the shift button under a fresh
deployment, alerts' "shift traffic away", a rollout's "Promote now".

    approval = await request_traffic_shift(desk, plan=plan, origin=origin)
    outcome = await decide(desk, applying, approval_id=approval.id, approve=True, origin=clicker)

``desk`` (an ``ApprovalDesk``) stores, posts and expires requests; ``applying`` (an
``ApplyDeps``) is what approving one may change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot import messages
from bot.approvals.kinds import (
    ApplyDeps,
    ApprovalKind,
    RenewableKind,
    TrafficShiftKind,
    failure_text,
)
from bot.approvals.store import Approval, ApprovalStore
from bot.approvals.view import render_approval, slack_time
from bot.deployments.kinds import DeployLiveKind
from bot.edge import Outcome
from bot.errors import AccessDeniedError, ApprovalStateError, StaleRequestError
from bot.policy.access import AccessPolicy
from bot.policy.audit import AuditLog
from bot.policy.locks import require_no_rollout, require_unlocked
from bot.rollouts.kinds import RolloutPromoteKind, RolloutStartKind
from bot.slack_io import Origin, SlackIO
from commands.reply import Reply
from commands.traffic import TrafficPlan
from deploy.errors import ValidationError
from rollouts import LockStore, RolloutStore

__all__ = [
    "KINDS",
    "ApprovalDesk",
    "ask_again",
    "decide",
    "expire_overdue",
    "request_approval",
    "request_traffic_shift",
]

#: Every kind of request, by its ``kind`` column.
KINDS: Mapping[str, ApprovalKind] = {
    kind.kind: kind
    for kind in (TrafficShiftKind(), RolloutStartKind(), RolloutPromoteKind(), DeployLiveKind())
}


@dataclass(frozen=True, kw_only=True)
class ApprovalDesk:
    """What requesting, showing, deciding and expiring approvals uses (and the lock and
    rollout checks a traffic shift passes before it is posted)."""

    approvals: ApprovalStore
    slack: SlackIO
    access: AccessPolicy
    audit: AuditLog
    clock: Callable[[], datetime]
    expiry_minutes: float
    locks: LockStore
    rollout_store: RolloutStore


def _kind(approval: Approval) -> ApprovalKind:
    kind = KINDS.get(approval.kind)
    if kind is None:
        raise ValidationError(messages.APPROVAL_UNKNOWN)
    return kind


def _render(
    desk: ApprovalDesk, approval: Approval, *, applying: bool = False, ask_again: bool = False
) -> Reply:
    return render_approval(
        approval,
        _kind(approval).content(approval),
        expiry_minutes=desk.expiry_minutes,
        self_approval=desk.access.allow_self_approval,
        applying=applying,
        ask_again=ask_again,
    )


async def request_approval(
    desk: ApprovalDesk, *, kind: str, endpoint: str, payload: Mapping[str, Any], origin: Origin
) -> Approval:
    """Store a pending request of ``kind`` and post it in the origin's channel."""
    now = desk.clock()
    expiry = timedelta(minutes=desk.expiry_minutes)
    approval = await desk.approvals.create(
        kind=kind,
        endpoint=endpoint,
        payload=dict(payload),
        requester=origin.user,
        channel=origin.channel,
        now=now,
        expires_at=now + expiry,
    )
    try:
        ts = await desk.slack.post(origin.channel, _render(desk, approval))
    except BaseException:
        # Nothing half-applied: a request nobody can see must not stay pending.
        await desk.approvals.expire(approval.id, now=approval.expires_at)
        raise
    await desk.approvals.set_message(approval.id, channel=origin.channel, ts=ts)
    return approval


async def request_traffic_shift(
    desk: ApprovalDesk, *, plan: TrafficPlan, origin: Origin, force: bool = False
) -> Approval:
    """Ask for approval of a split: refused while the endpoint is locked (unless an approver
    forces it) or a rollout runs on it."""
    await require_unlocked(desk, plan.endpoint, user=origin.user, force=force)
    await require_no_rollout(desk, plan.endpoint)
    payload = {**plan.to_json(), "force": force}
    return await request_approval(
        desk, kind=TrafficShiftKind.kind, endpoint=plan.endpoint, payload=payload, origin=origin
    )


async def _show(
    desk: ApprovalDesk, approval: Approval, *, applying: bool = False, ask_again: bool = False
) -> None:
    if approval.message_ts:
        reply = _render(desk, approval, applying=applying, ask_again=ask_again)
        await desk.slack.update(approval.channel, approval.message_ts, reply)


async def decide(
    desk: ApprovalDesk,
    applying: ApplyDeps,
    *,
    approval_id: str,
    approve: bool,
    origin: Origin,
) -> Outcome:
    """Handle an Approve or Reject click; only the first valid click changes anything."""
    now = desk.clock()
    approval = await desk.approvals.get(approval_id)
    if approval is None:
        raise ValidationError(messages.APPROVAL_UNKNOWN)
    kind = _kind(approval)
    endpoint = approval.endpoint
    if approval.status != "pending":
        raise ApprovalStateError(_already(approval))
    if approval.expired_at(now):
        expired = await desk.approvals.expire(approval.id, now=now)
        if expired.won:
            await _show(desk, expired.approval)
        raise ApprovalStateError(
            messages.APPROVAL_TOO_LATE.format(at=slack_time(approval.expires_at))
        )
    withdrawing = not approve and origin.user == approval.requester
    if not withdrawing:
        await desk.access.require(origin.user, "approve")
    if approve and origin.user == approval.requester and not desk.access.allow_self_approval:
        raise AccessDeniedError(messages.SELF_APPROVAL)
    decision = await desk.approvals.decide(approval.id, approve=approve, user=origin.user, now=now)
    if not decision.won:
        raise ApprovalStateError(_already(decision.approval))
    approval = decision.approval
    if not approve:
        await _show(desk, approval)
        return Outcome(result="rejected", endpoint=endpoint, approval_id=approval.id)
    await _show(desk, approval, applying=True)
    stale = False
    try:
        ok, text = True, await kind.apply(applying, approval)
    except Exception as exc:
        ok, text = False, failure_text(exc, approval)
        stale = isinstance(exc, StaleRequestError) and isinstance(kind, RenewableKind)
    approval = await desk.approvals.set_outcome(approval.id, ok=ok, text=text)
    await _show(desk, approval, ask_again=stale)
    await desk.audit.record(
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


async def ask_again(
    desk: ApprovalDesk, applying: ApplyDeps, *, approval_id: str, origin: Origin
) -> Outcome:
    """ "Ask again with today's split" under a request refused as stale: the same change,
    planned against today's state, posted as a new request by the clicker (a deployer)."""
    approval = await desk.approvals.get(approval_id)
    if approval is None:
        raise ValidationError(messages.APPROVAL_UNKNOWN)
    kind = _kind(approval)
    if not isinstance(kind, RenewableKind):
        raise ValidationError(messages.ASK_AGAIN_NOTHING)
    await desk.access.require(origin.user, "deploy")
    payload = await kind.renew(applying, approval, user=origin.user)
    fresh = await request_approval(
        desk, kind=approval.kind, endpoint=approval.endpoint, payload=payload, origin=origin
    )
    return Outcome(result="requested", endpoint=fresh.endpoint, approval_id=fresh.id)


def _already(approval: Approval) -> str:
    if approval.status == "expired":
        return messages.APPROVAL_TOO_LATE.format(at=slack_time(approval.expires_at))
    when = slack_time(approval.decided_at) if approval.decided_at else ""
    return messages.APPROVAL_ALREADY.format(
        status=messages.STATUS_WORDS[approval.status], user=approval.decided_by, at=when
    )


async def expire_overdue(desk: ApprovalDesk) -> int:
    """Mark pending requests past their expiry as expired and update their messages.

    Runs at start and then every minute under ``flightdeck serve``, so that a request
    nobody clicked says it expired; a click on one does the same (see ``decide``).
    """
    now = desk.clock()
    count = 0
    for approval in await desk.approvals.pending():
        if not approval.expired_at(now):
            continue
        expired = await desk.approvals.expire(approval.id, now=now)
        if expired.won:
            count += 1
            await _show(desk, expired.approval)
            await desk.audit.record(
                user=approval.requester,
                channel=approval.channel,
                action="expire",
                result="expired",
                endpoint=approval.endpoint,
                approval_id=approval.id,
            )
    return count
