"""``/traffic``: status for everyone; shifts, rollbacks and canaries from deployers, through
approval; locks; ``--dry-run`` for everyone (it changes nothing)."""

from __future__ import annotations

from dataclasses import replace

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.approvals.flow import request_traffic_shift
from bot.edge import Outcome, tell
from bot.errors import UnlockDeniedError
from bot.policy.locks import dry_run_notes
from bot.rollouts.flow import request_rollout
from bot.services import Services
from bot.slash import SlashRequest, register_command
from commands import traffic
from commands.blocks import escape, section
from commands.reply import Reply, notice
from commands.traffic_view import render_dry_run, render_status
from rollouts import mention

__all__ = ["register"]


def parse(services: Services, text: str) -> traffic.TrafficRequest:
    """``/traffic``'s request, with the configured rollout defaults and load cap."""
    settings = services.settings
    return traffic.parse(text, rollouts=settings.rollouts, max_load_rate=settings.loadtest.max_rate)


async def run(services: Services, request: SlashRequest) -> Outcome:
    """Parse, check, then show, lock, ask for approval, or show a dry run."""
    parsed = parse(services, request.text)
    if isinstance(parsed, traffic.TrafficHelp):
        await tell(services, request.origin, notice(traffic.HELP))
        return Outcome(result="help")
    if isinstance(parsed, traffic.ShowTraffic):
        status = await traffic.load_status(services.backend, parsed.endpoint)
        status = replace(
            status,
            lock=await services.locks.get(parsed.endpoint),
            rollout=await services.rollout_store.active_for(parsed.endpoint),
        )
        await tell(services, request.origin, render_status(status))
        return Outcome(result="ok", endpoint=parsed.endpoint)
    if isinstance(parsed, traffic.CanaryTraffic):
        return await request_rollout(services, parsed, origin=request.origin)
    if isinstance(parsed, traffic.LockEndpoint | traffic.UnlockEndpoint):
        return await _lock(services, request, parsed)
    if isinstance(parsed, traffic.RollbackTraffic):
        plan = await traffic.plan_rollback(services.backend, services.history, parsed.endpoint)
    else:
        plan = await traffic.plan_shift(services.backend, parsed)
    if parsed.dry_run:
        notes = await dry_run_notes(
            services, plan.endpoint, user=request.user, force=parsed.force, shifts_traffic=True
        )
        await tell(services, request.origin, render_dry_run(plan, notes=notes))
        return Outcome(result="dry-run", endpoint=plan.endpoint)
    await services.access.require(request.user, "deploy")
    approval = await request_traffic_shift(
        services, plan=plan, origin=request.origin, force=parsed.force
    )
    return Outcome(result="requested", endpoint=plan.endpoint, approval_id=approval.id)


async def _lock(
    services: Services,
    request: SlashRequest,
    parsed: traffic.LockEndpoint | traffic.UnlockEndpoint,
) -> Outcome:
    """Deployers lock; the one who locked it, or an approver, unlocks. Said in the channel."""
    await services.backend.get_endpoint(parsed.endpoint)
    if isinstance(parsed, traffic.LockEndpoint):
        await services.access.require(request.user, "deploy")
        lock = await services.locks.lock(parsed.endpoint, user=request.user, reason=parsed.reason)
        text = messages.LOCKED_NOW.format(
            endpoint=parsed.endpoint, user=mention(lock.by), reason=escape(lock.reason)
        )
        await services.slack.post(request.channel, Reply(text=text, blocks=(section(text),)))
        return Outcome(result="locked", endpoint=parsed.endpoint, detail=parsed.reason)
    found = await services.locks.get(parsed.endpoint)
    if (
        found is not None
        and found.by != request.user
        and not await services.access.allows(request.user, "approve")
    ):
        raise UnlockDeniedError(
            messages.UNLOCK_DENIED.format(user=request.user, locker=mention(found.by))
        )
    lock = await services.locks.unlock(parsed.endpoint)
    text = messages.UNLOCKED_NOW.format(endpoint=parsed.endpoint, user=mention(request.user))
    await services.slack.post(request.channel, Reply(text=text, blocks=(section(text),)))
    return Outcome(result="unlocked", endpoint=parsed.endpoint, detail=lock.reason)


def register(app: AsyncApp, services: Services) -> None:
    """Listen to ``/traffic``."""
    register_command(app, services, "/traffic", run)
