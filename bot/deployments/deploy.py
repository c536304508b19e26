"""``/deploy``: check, then one progress message updated until the deployment serves or fails.

A deploy onto a deployment that takes live (or mirrored) traffic follows the endpoint's
``approvals.deploy_live``: posted for an approver's click (``require``, the default),
refused with the blue/green way (``refuse``), or done at once (``allow``). ``--dry-run``
says which applies."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from bot import messages
from bot.approvals.flow import request_approval
from bot.deployments.deps import DeploymentDeps
from bot.deployments.kinds import DeployLiveKind, live_payload, share_text
from bot.edge import Outcome, tell
from bot.middleware import Listeners
from bot.policy.locks import dry_run_notes, require_unlocked
from bot.requests import SlashRequest
from bot.slack_io import ProgressMessage
from commands import deploy
from commands.blocks import escape
from commands.deploy_view import render_done, render_dry_run, render_failed, render_progress
from commands.reply import Reply, notice
from deploy.errors import FlightdeckError, ValidationError
from deploy.types import Endpoint

__all__ = ["register"]


async def run(deps: DeploymentDeps, request: SlashRequest) -> Outcome:
    """Parse, check access and the plan, then deploy with progress."""
    parsed = deploy.parse(request.text)
    if isinstance(parsed, deploy.DeployHelp):
        await tell(deps.slack, request.origin, notice(deploy.HELP))
        return Outcome(result="help")
    if not parsed.dry_run:
        await deps.access.require(request.user, "deploy")
    plan = await deploy.plan(deps.backend, parsed, spec_folder=deps.spec_folder)
    endpoint = plan.spec.endpoint_name
    found = await deps.backend.get_endpoint(endpoint)
    policy = deps.approvals.deploy_live_for(endpoint)
    if parsed.dry_run:
        notes = await dry_run_notes(
            deps, endpoint, user=request.user, force=parsed.force, shifts_traffic=False
        )
        notes.append(_live_note(plan, found, policy))
        reply = render_dry_run(plan, found, user=request.mention, notes=notes)
        await tell(deps.slack, request.origin, reply)
        return Outcome(result="dry-run", endpoint=endpoint, detail=plan.spec.name)
    await require_unlocked(deps, endpoint, user=request.user, force=parsed.force)
    if any(deploy.live_share(plan, found)) and policy != "allow":
        if policy == "refuse":
            raise ValidationError(_refusal(plan, found))
        payload = await live_payload(deps.backend, plan, force=parsed.force)
        approval = await request_approval(
            deps.desk,
            kind=DeployLiveKind.kind,
            endpoint=endpoint,
            payload=payload,
            origin=request.origin,
        )
        return Outcome(
            result="requested", endpoint=endpoint, detail=plan.spec.name, approval_id=approval.id
        )

    def progress_view(lines: Sequence[str]) -> Reply:
        return render_progress(plan, lines, user=request.mention)

    progress = ProgressMessage(
        slack=deps.slack,
        channel=request.channel,
        render=progress_view,
        interval=deps.progress_interval,
    )
    await progress.start()
    try:
        deployment, found = await deploy.execute(deps.backend, plan, progress=progress.line)
    except FlightdeckError as exc:
        await progress.finish(render_failed(plan, exc, user=request.mention))
        return Outcome(result="failed", detail=exc.message, endpoint=endpoint)
    except Exception:
        generic = FlightdeckError(messages.GENERIC_ERROR)
        await progress.finish(render_failed(plan, generic, user=request.mention))
        raise
    await progress.finish(render_done(plan, deployment, found, user=request.mention))
    return Outcome(result="ok", endpoint=endpoint, detail=plan.spec.name)


def _refusal(plan: deploy.DeployPlan, endpoint: Endpoint) -> str:
    spec = plan.spec
    return messages.DEPLOY_LIVE_REFUSED.format(
        deployment=spec.name,
        share=share_text(*deploy.live_share(plan, endpoint)),
        endpoint=endpoint.name,
        model=spec.model.display() if spec.model else "<name>:<version>",
    )


def _live_note(plan: deploy.DeployPlan, endpoint: Endpoint, policy: str) -> str:
    """Which way the deploy would go without ``--dry-run``."""
    share = deploy.live_share(plan, endpoint)
    name = plan.spec.name
    if not any(share):
        return messages.DEPLOY_IDLE_APPLIES.format(deployment=name)
    if policy == "refuse":
        return messages.DEPLOY_LIVE_WILL_REFUSE.format(reason=escape(_refusal(plan, endpoint)))
    if policy == "allow":
        return messages.DEPLOY_LIVE_WILL_APPLY.format(
            deployment=name, share=share_text(*share), endpoint=endpoint.name
        )
    return messages.DEPLOY_LIVE_WILL_ASK.format(deployment=name, share=share_text(*share))


def register(listeners: Listeners, deps: DeploymentDeps) -> None:
    """Listen to ``/deploy``."""
    listeners.command("/deploy", partial(run, deps))
