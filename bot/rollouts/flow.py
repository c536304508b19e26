"""Canary rollouts from Slack: the engine wired to the bot, the request for approval, the
buttons of the progress message, and the engine's scheduler beside the app.

    services.rollouts = build_engine(services)        # bot.app.build_app does this
    async with running_rollouts(services):             # flightdeck serve, the console
        ...
    approval = await request_rollout(services, request, origin=origin)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot import messages
from bot.approvals.flow import request_approval
from bot.edge import Outcome, tell
from bot.errors import AccessDeniedError
from bot.loadtests.runs import limits_for
from bot.policy.locks import dry_run_notes, require_unlocked
from bot.rollouts.kinds import RolloutPromoteKind, RolloutStartKind
from bot.rollouts.notifier import SlackRolloutNotifier
from bot.services import Services
from bot.slack_io import Origin
from commands.canary import CanaryTraffic
from commands.canary_load import canary_feeder, check_load
from commands.rollout_view import render_canary_dry_run
from deploy.errors import FlightdeckError
from rollouts import (
    Rollout,
    RolloutConflictError,
    RolloutEngine,
    RolloutStateError,
    plan_rollout,
    target_weights,
)
from rollouts import messages as rollout_messages

__all__ = [
    "act_on_rollout",
    "build_engine",
    "promote_rollout",
    "request_rollout",
    "running_rollouts",
]

log = logging.getLogger(__name__)


def build_engine(services: Services) -> RolloutEngine:
    """The engine on the bot's database, showing rollouts in Slack, sending ``--with-load``
    load with the configured load-test caps."""
    limits = limits_for(services.settings.loadtest, loopback_only=services.backend.loopback_only)
    return RolloutEngine(
        backend=services.backend,
        store=services.rollout_store,
        locks=services.locks,
        notifier=SlackRolloutNotifier(services),
        settings=services.settings.rollouts,
        clock=services.clock,
        feeder=canary_feeder(services.backend, limits),
    )


@asynccontextmanager
async def running_rollouts(services: Services) -> AsyncIterator[RolloutEngine]:
    """Start the engine's scheduler (in the running loop); stop it on the way out."""
    engine = services.require_rollouts()
    engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


async def request_rollout(services: Services, request: CanaryTraffic, *, origin: Origin) -> Outcome:
    """Check a canary against the endpoint; show it (``--dry-run``) or ask for approval."""
    endpoint = request.endpoint
    plan = await plan_rollout(services.backend, endpoint, request.spec)
    active = await services.rollout_store.active_for(endpoint)
    limits = limits_for(services.settings.loadtest, loopback_only=services.backend.loopback_only)
    if request.dry_run:
        notes = await dry_run_notes(
            services, endpoint, user=origin.user, force=request.force, shifts_traffic=True
        )
        try:
            await check_load(services.backend, endpoint, request.spec, limits)
        except FlightdeckError as exc:
            notes.append(messages.DRY_RUN_REFUSED.format(reason=exc.message))
        await tell(services, origin, render_canary_dry_run(plan, notes=notes))
        return Outcome(result="dry-run", endpoint=endpoint)
    await services.access.require(origin.user, "deploy")
    await require_unlocked(services, endpoint, user=origin.user, force=request.force)
    if active is not None:
        raise RolloutConflictError(
            rollout_messages.ALREADY_RUNNING_DETAIL.format(
                endpoint=endpoint, canary=active.canary, id=active.id
            )
        )
    await check_load(services.backend, endpoint, request.spec, limits)
    approval = await request_approval(
        services,
        kind=RolloutStartKind.kind,
        endpoint=endpoint,
        payload={"plan": plan.to_json(), "force": request.force},
        origin=origin,
    )
    return Outcome(result="requested", endpoint=endpoint, approval_id=approval.id)


async def _rollout(services: Services, rollout_id: str) -> Rollout:
    rollout = await services.rollout_store.get(rollout_id)
    if rollout is None or not rollout.active:
        raise RolloutStateError(messages.ROLLOUT_BUTTON_GONE)
    return rollout


async def _require_any(services: Services, user: str) -> None:
    """Deployers and approvers may pause, resume and abort."""
    if await services.access.allows(user, "approve"):
        return
    try:
        await services.access.require(user, "deploy")
    except AccessDeniedError:
        raise AccessDeniedError(messages.ROLLOUT_DENIED.format(user=user)) from None


#: The buttons anyone who deploys or approves may click, and what each does on the engine.
_ACTIONS = {"pause": "paused", "resume": "resumed", "abort": "aborted"}


async def act_on_rollout(
    services: Services, rollout_id: str, *, action: str, origin: Origin
) -> Outcome:
    """Pause, Resume or Abort (which rolls back now)."""
    rollout = await _rollout(services, rollout_id)
    await _require_any(services, origin.user)
    engine = services.require_rollouts()
    act = {"pause": engine.pause, "resume": engine.resume, "abort": engine.abort}[action]
    await act(rollout.id, user=origin.user)
    return Outcome(result=_ACTIONS[action], endpoint=rollout.endpoint)


async def promote_rollout(services: Services, rollout_id: str, *, origin: Origin) -> Outcome:
    """The Promote now button: an approval request to go to 100%."""
    rollout = await _rollout(services, rollout_id)
    await services.access.require(origin.user, "deploy")
    await require_unlocked(services, rollout.endpoint, user=origin.user, force=False)
    approval = await request_approval(
        services,
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
