"""The kinds of approval request, each with what it shows and what approving it does.

``traffic`` (a split, a rollback, "shift traffic away" from an alert), ``rollout`` (starts a
canary rollout, ``bot.rollouts.kinds``) and ``rollout_promote`` (a rollout to 100% now).
``bot.approvals.flow`` stores, posts, decides and applies requests through these.

    kind = KINDS[approval.kind]
    reply = render_approval(approval, kind.content(approval), ...)
    text = await kind.apply(deps, approval)      # deps: ApplyDeps
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bot import messages
from bot.approvals.store import Approval
from bot.approvals.view import ApprovalContent
from bot.errors import StaleRequestError
from bot.policy.access import AccessPolicy
from bot.policy.history import TrafficHistoryStore
from bot.policy.locks import require_no_rollout, require_unlocked
from commands.traffic import TrafficPlan, apply_plan, plan_rollback, replan
from commands.traffic_view import format_split, plan_blocks, render_applied
from deploy.backend import Backend
from deploy.errors import FlightdeckError
from rollouts import LockStore, RolloutEngine, RolloutStore

__all__ = [
    "ApplyDeps",
    "ApprovalKind",
    "RenewableKind",
    "TrafficShiftKind",
    "applying_guard",
    "require_split_unchanged",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ApplyDeps:
    """What applying an approved request uses: the platform, the checks, the traffic history,
    the rollout engine."""

    backend: Backend
    history: TrafficHistoryStore
    locks: LockStore
    access: AccessPolicy
    rollout_store: RolloutStore
    rollouts: RolloutEngine


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

    async def apply(self, deps: ApplyDeps, approval: Approval) -> str:
        """Do what was approved; what to show. ``FlightdeckError`` when it cannot be done."""
        ...


@runtime_checkable
class RenewableKind(ApprovalKind, Protocol):
    """A kind whose request, refused as stale (``StaleRequestError``), can be asked again
    against today's state ("Ask again with today's split")."""

    async def renew(self, deps: ApplyDeps, approval: Approval, *, user: str) -> Mapping[str, Any]:
        """The payload of the same request made now by ``user`` (the checks a new request
        passes included); ``FlightdeckError`` when it cannot be asked."""
        ...


async def require_split_unchanged(
    backend: Backend,
    endpoint: str,
    *,
    current: Mapping[str, int],
    current_mirror: Mapping[str, int],
) -> None:
    """At apply time: the live split (and mirror) is still the one the request was made
    against (``current``); else ``StaleRequestError`` showing both, and nothing is applied.
    An emergency move made another way (the CLI, the portal) is never silently undone."""
    live = await backend.get_endpoint(endpoint)
    traffic = {name: pct for name, pct in live.traffic.items() if pct > 0}
    mirror = {name: pct for name, pct in live.mirror_traffic.items() if pct > 0}
    asked = {name: pct for name, pct in current.items() if pct > 0}
    asked_mirror = {name: pct for name, pct in current_mirror.items() if pct > 0}
    if traffic != asked or mirror != asked_mirror:
        raise StaleRequestError(
            messages.SPLIT_STALE.format(
                asked=format_split(asked, asked_mirror), live=format_split(traffic, mirror)
            )
        )


async def applying_guard(locks: LockStore, approval: Approval) -> None:
    """At apply time: the endpoint is not locked since (unless the request passed --force)."""
    lock = await locks.get(approval.endpoint)
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

    async def apply(self, deps: ApplyDeps, approval: Approval) -> str:
        plan = TrafficPlan.from_json(approval.payload)
        await applying_guard(deps.locks, approval)
        await require_no_rollout(deps, plan.endpoint)
        if plan.rollback_of is not None:
            last = await deps.history.last_shift(plan.endpoint)
            if last is None or last.id != plan.rollback_of:
                raise StaleRequestError(messages.ROLLBACK_STALE)
        await require_split_unchanged(
            deps.backend, plan.endpoint, current=plan.current, current_mirror=plan.current_mirror
        )
        before = await deps.backend.get_endpoint(plan.endpoint)
        after = await apply_plan(deps.backend, plan)
        await deps.history.record(
            endpoint=plan.endpoint,
            before=before.traffic,
            before_mirror=before.mirror_traffic,
            after=after.traffic,
            after_mirror=after.mirror_traffic,
            approval_id=approval.id,
            rollback_of=plan.rollback_of,
        )
        return render_applied(after)

    async def renew(self, deps: ApplyDeps, approval: Approval, *, user: str) -> Mapping[str, Any]:
        plan = TrafficPlan.from_json(approval.payload)
        force = bool(approval.payload.get("force"))
        await require_unlocked(deps, plan.endpoint, user=user, force=force)
        await require_no_rollout(deps, plan.endpoint)
        if plan.rollback_of is not None:
            fresh = await plan_rollback(deps.backend, deps.history, plan.endpoint)
        else:
            fresh = await replan(deps.backend, plan)
        return {**fresh.to_json(), "force": force}


def failure_text(error: Exception, approval: Approval) -> str:
    """What to show when applying failed: a known error's message; a bug, logged once here."""
    if isinstance(error, FlightdeckError):
        return messages.APPLY_FAILED.format(error=error.message)
    log.error("applying approval %s failed", approval.id, exc_info=error)
    return messages.APPLY_FAILED.format(error=messages.GENERIC_ERROR)
