"""``/deploy``: check, then one progress message updated until the deployment serves or fails."""

from __future__ import annotations

from collections.abc import Sequence

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.edge import Outcome, tell
from bot.policy.locks import dry_run_notes, require_unlocked
from bot.services import Services
from bot.slack_io import ProgressMessage
from bot.slash import SlashRequest, register_command
from commands import deploy
from commands.deploy_view import render_done, render_dry_run, render_failed, render_progress
from commands.reply import Reply, notice
from deploy.errors import FlightdeckError

__all__ = ["register"]


async def run(services: Services, request: SlashRequest) -> Outcome:
    """Parse, check access and the plan, then deploy with progress."""
    parsed = deploy.parse(request.text)
    if isinstance(parsed, deploy.DeployHelp):
        await tell(services, request.origin, notice(deploy.HELP))
        return Outcome(result="help")
    if not parsed.dry_run:
        await services.access.require(request.user, "deploy")
    plan = await deploy.plan(services.backend, parsed, spec_folder=services.settings.specs.folder)
    endpoint = plan.spec.endpoint_name
    if parsed.dry_run:
        notes = await dry_run_notes(
            services, endpoint, user=request.user, force=parsed.force, shifts_traffic=False
        )
        found = await services.backend.get_endpoint(endpoint)
        reply = render_dry_run(plan, found, user=request.mention, notes=notes)
        await tell(services, request.origin, reply)
        return Outcome(result="dry-run", endpoint=endpoint, detail=plan.spec.name)
    await require_unlocked(services, endpoint, user=request.user, force=parsed.force)

    def progress_view(lines: Sequence[str]) -> Reply:
        return render_progress(plan, lines, user=request.mention)

    progress = ProgressMessage(
        slack=services.slack,
        channel=request.channel,
        render=progress_view,
        interval=services.progress_interval,
    )
    await progress.start()
    try:
        deployment, found = await deploy.execute(services.backend, plan, progress=progress.line)
    except FlightdeckError as exc:
        await progress.finish(render_failed(plan, exc, user=request.mention))
        return Outcome(result="failed", detail=exc.message, endpoint=endpoint)
    except Exception:
        generic = FlightdeckError(messages.GENERIC_ERROR)
        await progress.finish(render_failed(plan, generic, user=request.mention))
        raise
    await progress.finish(render_done(plan, deployment, found, user=request.mention))
    return Outcome(result="ok", endpoint=endpoint, detail=plan.spec.name)


def register(app: AsyncApp, services: Services) -> None:
    """Listen to ``/deploy``."""
    register_command(app, services, "/deploy", run)
