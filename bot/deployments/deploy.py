"""``/deploy``: check, then one progress message updated until the deployment serves or fails."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from bot import messages
from bot.deployments.deps import DeploymentDeps
from bot.edge import Outcome, tell
from bot.middleware import Listeners
from bot.policy.locks import dry_run_notes, require_unlocked
from bot.requests import SlashRequest
from bot.slack_io import ProgressMessage
from commands import deploy
from commands.deploy_view import render_done, render_dry_run, render_failed, render_progress
from commands.reply import Reply, notice
from deploy.errors import FlightdeckError

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
    if parsed.dry_run:
        notes = await dry_run_notes(
            deps, endpoint, user=request.user, force=parsed.force, shifts_traffic=False
        )
        found = await deps.backend.get_endpoint(endpoint)
        reply = render_dry_run(plan, found, user=request.mention, notes=notes)
        await tell(deps.slack, request.origin, reply)
        return Outcome(result="dry-run", endpoint=endpoint, detail=plan.spec.name)
    await require_unlocked(deps, endpoint, user=request.user, force=parsed.force)

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


def register(listeners: Listeners, deps: DeploymentDeps) -> None:
    """Listen to ``/deploy``."""
    listeners.command("/deploy", partial(run, deps))
