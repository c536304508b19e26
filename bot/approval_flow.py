"""Traffic shifts through approval: post the request, decide a click once, apply, report.

Used by ``/traffic``, by the shift button under a fresh deployment, and by anything
else that proposes a split (alerts' "shift traffic away").

    approval = await request_traffic_shift(services, plan=plan, origin=origin)
    outcome = await decide(services, approval_id=approval.id, approve=True, origin=clicker)
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot import messages
from bot.approval_view import render_approval, slack_time
from bot.approvals import Approval
from bot.errors import AccessDeniedError, ApprovalStateError
from bot.guard import Outcome
from bot.services import Services
from bot.slack_io import Origin
from commands.reply import Reply
from commands.traffic import TrafficPlan, apply_plan
from commands.traffic_view import format_split, render_applied
from deploy.errors import FlightdeckError, ValidationError

__all__ = ["decide", "expire_overdue", "request_traffic_shift"]

log = logging.getLogger(__name__)

KIND_TRAFFIC = "traffic"


def _render(services: Services, approval: Approval, *, applying: bool = False) -> Reply:
    plan = TrafficPlan.from_json(approval.payload)
    minutes = services.settings.approvals.expiry_minutes
    return render_approval(approval, plan, expiry_minutes=minutes, applying=applying)


async def request_traffic_shift(
    services: Services, *, plan: TrafficPlan, origin: Origin
) -> Approval:
    """Store a pending request and post it in the origin's channel."""
    now = services.clock()
    expiry = timedelta(minutes=services.settings.approvals.expiry_minutes)
    approval = await services.approvals.create(
        kind=KIND_TRAFFIC,
        endpoint=plan.endpoint,
        payload=plan.to_json(),
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
    ok, text = await _apply(services, approval)
    approval = await services.approvals.set_outcome(approval.id, ok=ok, text=text)
    await _show(services, approval)
    await services.audit.record(
        user=approval.requester,
        channel=approval.channel,
        action="apply",
        result="ok" if ok else "failed",
        text=format_split(*_split(approval)),
        detail=text,
        endpoint=endpoint,
        approval_id=approval.id,
    )
    return Outcome(result="approved", endpoint=endpoint, approval_id=approval.id, detail=text)


def _split(approval: Approval) -> tuple[dict[str, int], dict[str, int]]:
    plan = TrafficPlan.from_json(approval.payload)
    return dict(plan.traffic), dict(plan.mirror)


def _already(approval: Approval) -> str:
    if approval.status == "expired":
        return messages.APPROVAL_TOO_LATE.format(at=slack_time(approval.expires_at))
    when = slack_time(approval.decided_at) if approval.decided_at else ""
    return messages.APPROVAL_ALREADY.format(
        status=messages.STATUS_WORDS[approval.status], user=approval.decided_by, at=when
    )


async def _apply(services: Services, approval: Approval) -> tuple[bool, str]:
    """Apply an approved plan; (ok, what to show). Unknown errors are logged once here."""
    plan = TrafficPlan.from_json(approval.payload)
    try:
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
    except FlightdeckError as exc:
        return False, messages.APPLY_FAILED.format(error=exc.message)
    except Exception:
        log.exception("applying approval %s failed", approval.id)
        return False, messages.APPLY_FAILED.format(error=messages.GENERIC_ERROR)
    return True, render_applied(after)


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
