"""``/traffic``: status for everyone; shifts, rollbacks and canaries from deployers, through
approval; locks; ``--dry-run`` for everyone (it changes nothing)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

from bot import messages
from bot.approvals.flow import ApprovalDesk, request_traffic_shift
from bot.edge import Outcome, tell
from bot.errors import UnlockDeniedError
from bot.middleware import Listeners
from bot.policy.access import AccessPolicy
from bot.policy.history import TrafficHistoryStore
from bot.policy.locks import dry_run_notes
from bot.requests import SlashRequest
from bot.rollouts.flow import RolloutDeps, request_rollout
from bot.slack_io import SlackIO
from commands import traffic
from commands.blocks import escape, section
from commands.reply import Reply, notice
from commands.traffic_view import render_dry_run, render_status
from deploy.backend import Backend
from rollouts import LockStore, RolloutSettings, RolloutStore, mention

__all__ = ["TrafficDeps", "register"]


@dataclass(frozen=True, kw_only=True)
class TrafficDeps:
    """What ``/traffic`` and the Shift-10% button use."""

    backend: Backend
    slack: SlackIO
    access: AccessPolicy
    locks: LockStore
    rollout_store: RolloutStore
    history: TrafficHistoryStore
    #: Shifts and rollbacks are posted for approval here.
    desk: ApprovalDesk
    #: ``canary`` goes to the rollouts.
    rollouts: RolloutDeps
    #: The configured rollout defaults and load cap, for parsing ``canary``.
    rollout_settings: RolloutSettings
    max_load_rate: float


def parse(deps: TrafficDeps, text: str) -> traffic.TrafficRequest:
    """``/traffic``'s request, with the configured rollout defaults and load cap."""
    return traffic.parse(text, rollouts=deps.rollout_settings, max_load_rate=deps.max_load_rate)


async def run(deps: TrafficDeps, request: SlashRequest) -> Outcome:
    """Parse, check, then show, lock, ask for approval, or show a dry run."""
    parsed = parse(deps, request.text)
    if isinstance(parsed, traffic.TrafficHelp):
        await tell(deps.slack, request.origin, notice(traffic.HELP))
        return Outcome(result="help")
    if isinstance(parsed, traffic.ShowTraffic):
        status = await traffic.load_status(deps.backend, parsed.endpoint)
        status = replace(
            status,
            lock=await deps.locks.get(parsed.endpoint),
            rollout=await deps.rollout_store.active_for(parsed.endpoint),
        )
        await tell(deps.slack, request.origin, render_status(status))
        return Outcome(result="ok", endpoint=parsed.endpoint)
    if isinstance(parsed, traffic.CanaryTraffic):
        return await request_rollout(deps.rollouts, parsed, origin=request.origin)
    if isinstance(parsed, traffic.LockEndpoint | traffic.UnlockEndpoint):
        return await _lock(deps, request, parsed)
    if isinstance(parsed, traffic.RollbackTraffic):
        plan = await traffic.plan_rollback(deps.backend, deps.history, parsed.endpoint)
    else:
        plan = await traffic.plan_shift(deps.backend, parsed)
    if parsed.dry_run:
        notes = await dry_run_notes(
            deps, plan.endpoint, user=request.user, force=parsed.force, shifts_traffic=True
        )
        await tell(deps.slack, request.origin, render_dry_run(plan, notes=notes))
        return Outcome(result="dry-run", endpoint=plan.endpoint)
    await deps.access.require(request.user, "deploy")
    approval = await request_traffic_shift(
        deps.desk, plan=plan, origin=request.origin, force=parsed.force
    )
    return Outcome(result="requested", endpoint=plan.endpoint, approval_id=approval.id)


async def _lock(
    deps: TrafficDeps,
    request: SlashRequest,
    parsed: traffic.LockEndpoint | traffic.UnlockEndpoint,
) -> Outcome:
    """Deployers lock; the one who locked it, or an approver, unlocks. Said in the channel."""
    await deps.backend.get_endpoint(parsed.endpoint)
    if isinstance(parsed, traffic.LockEndpoint):
        await deps.access.require(request.user, "deploy")
        lock = await deps.locks.lock(parsed.endpoint, user=request.user, reason=parsed.reason)
        text = messages.LOCKED_NOW.format(
            endpoint=parsed.endpoint, user=mention(lock.by), reason=escape(lock.reason)
        )
        await deps.slack.post(request.channel, Reply(text=text, blocks=(section(text),)))
        return Outcome(result="locked", endpoint=parsed.endpoint, detail=parsed.reason)
    found = await deps.locks.get(parsed.endpoint)
    if (
        found is not None
        and found.by != request.user
        and not await deps.access.allows(request.user, "approve")
    ):
        raise UnlockDeniedError(
            messages.UNLOCK_DENIED.format(user=request.user, locker=mention(found.by))
        )
    lock = await deps.locks.unlock(parsed.endpoint)
    text = messages.UNLOCKED_NOW.format(endpoint=parsed.endpoint, user=mention(request.user))
    await deps.slack.post(request.channel, Reply(text=text, blocks=(section(text),)))
    return Outcome(result="unlocked", endpoint=parsed.endpoint, detail=lock.reason)


def register(listeners: Listeners, deps: TrafficDeps) -> None:
    """Listen to ``/traffic``."""
    listeners.command("/traffic", partial(run, deps))
