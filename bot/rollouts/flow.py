"""Canary rollouts from Slack: the request for approval, the buttons of the progress
message, and the engine's scheduler beside the app (``bot.app.build_engine`` wires it).

    async with running_rollouts(engine):               # flightdeck serve, the console
        ...
    outcome = await request_rollout(deps, request, origin=origin)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot import messages
from bot.approvals.flow import ApprovalDesk, request_approval
from bot.edge import Outcome, tell
from bot.errors import AccessDeniedError
from bot.policy.access import AccessPolicy
from bot.policy.locks import dry_run_notes, require_unlocked
from bot.rollouts.kinds import RolloutPromoteKind, RolloutStartKind
from bot.slack_io import Origin, SlackIO
from commands.canary import CanaryTraffic
from commands.canary_load import check_load
from commands.rollout_view import render_canary_dry_run
from deploy.backend import Backend
from deploy.errors import FlightdeckError
from loadtest import Limits
from rollouts import (
    LockStore,
    Rollout,
    RolloutConflictError,
    RolloutEngine,
    RolloutStateError,
    RolloutStore,
    plan_rollout,
    target_weights,
)
from rollouts import messages as rollout_messages

__all__ = [
    "RolloutDeps",
    "act_on_rollout",
    "promote_rollout",
    "request_rollout",
    "running_rollouts",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class RolloutDeps:
    """What canary requests and the rollout buttons use."""

    backend: Backend
    slack: SlackIO
    access: AccessPolicy
    locks: LockStore
    rollout_store: RolloutStore
    #: The load-test caps ``--with-load`` is held to.
    limits: Limits
    desk: ApprovalDesk
    engine: RolloutEngine


@asynccontextmanager
async def running_rollouts(engine: RolloutEngine) -> AsyncIterator[RolloutEngine]:
    """Start the engine's scheduler (in the running loop); stop it on the way out."""
    engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


async def request_rollout(deps: RolloutDeps, request: CanaryTraffic, *, origin: Origin) -> Outcome:
    """Check a canary against the endpoint; show it (``--dry-run``) or ask for approval."""
    endpoint = request.endpoint
    plan = await plan_rollout(deps.backend, endpoint, request.spec)
    active = await deps.rollout_store.active_for(endpoint)
    limits = deps.limits
    if request.dry_run:
        notes = await dry_run_notes(
            deps, endpoint, user=origin.user, force=request.force, shifts_traffic=True
        )
        try:
            await check_load(deps.backend, endpoint, request.spec, limits)
        except FlightdeckError as exc:
            notes.append(messages.DRY_RUN_REFUSED.format(reason=exc.message))
        await tell(deps.slack, origin, render_canary_dry_run(plan, notes=notes))
        return Outcome(result="dry-run", endpoint=endpoint)
    await deps.access.require(origin.user, "deploy")
    await require_unlocked(deps, endpoint, user=origin.user, force=request.force)
    if active is not None:
        raise RolloutConflictError(
            rollout_messages.ALREADY_RUNNING_DETAIL.format(
                endpoint=endpoint, canary=active.canary, id=active.id
            )
        )
    await check_load(deps.backend, endpoint, request.spec, limits)
    approval = await request_approval(
        deps.desk,
        kind=RolloutStartKind.kind,
        endpoint=endpoint,
        payload={"plan": plan.to_json(), "force": request.force},
        origin=origin,
    )
    return Outcome(result="requested", endpoint=endpoint, approval_id=approval.id)


async def _rollout(deps: RolloutDeps, rollout_id: str) -> Rollout:
    rollout = await deps.rollout_store.get(rollout_id)
    if rollout is None or not rollout.active:
        raise RolloutStateError(messages.ROLLOUT_BUTTON_GONE)
    return rollout


async def _require_any(deps: RolloutDeps, user: str) -> None:
    """Deployers and approvers may pause, resume and abort."""
    if await deps.access.allows(user, "approve"):
        return
    try:
        await deps.access.require(user, "deploy")
    except AccessDeniedError:
        raise AccessDeniedError(messages.ROLLOUT_DENIED.format(user=user)) from None


#: The buttons anyone who deploys or approves may click, and what each does on the engine.
_ACTIONS = {"pause": "paused", "resume": "resumed", "abort": "aborted"}


async def act_on_rollout(
    deps: RolloutDeps, rollout_id: str, *, action: str, origin: Origin
) -> Outcome:
    """Pause, Resume or Abort (which rolls back now)."""
    rollout = await _rollout(deps, rollout_id)
    await _require_any(deps, origin.user)
    engine = deps.engine
    act = {"pause": engine.pause, "resume": engine.resume, "abort": engine.abort}[action]
    await act(rollout.id, user=origin.user)
    return Outcome(result=_ACTIONS[action], endpoint=rollout.endpoint)


async def promote_rollout(deps: RolloutDeps, rollout_id: str, *, origin: Origin) -> Outcome:
    """The Promote now button: an approval request to go to 100%."""
    rollout = await _rollout(deps, rollout_id)
    await deps.access.require(origin.user, "deploy")
    await require_unlocked(deps, rollout.endpoint, user=origin.user, force=False)
    approval = await request_approval(
        deps.desk,
        kind=RolloutPromoteKind.kind,
        endpoint=rollout.endpoint,
        payload={
            "rollout": rollout.id,
            "canary": rollout.canary,
            "current": target_weights(rollout),
        },
        origin=origin,
    )
    return Outcome(result="requested", endpoint=rollout.endpoint, approval_id=approval.id)
