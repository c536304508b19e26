"""``/scale``: the current scale for everyone; a count or an autoscale policy from deployers."""

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
from commands import scale
from commands.reply import Reply, notice
from deploy.errors import FlightdeckError

__all__ = ["register"]


async def run(deps: DeploymentDeps, request: SlashRequest) -> Outcome:
    """Parse, check, then scale with one progress message."""
    parsed = scale.parse(request.text)
    if isinstance(parsed, scale.ScaleHelp):
        await tell(deps.slack, request.origin, notice(scale.HELP))
        return Outcome(result="help")
    if isinstance(parsed, scale.ShowScale):
        deployment = await scale.check(deps.backend, parsed)
        await tell(deps.slack, request.origin, scale.render_show(deployment))
        return Outcome(result="ok", endpoint=parsed.endpoint)
    if parsed.dry_run:
        current = await scale.check(deps.backend, parsed)
        notes = await dry_run_notes(
            deps, parsed.endpoint, user=request.user, force=parsed.force, shifts_traffic=False
        )
        await tell(deps.slack, request.origin, scale.render_dry_run(parsed, current, notes=notes))
        return Outcome(result="dry-run", endpoint=parsed.endpoint)
    await deps.access.require(request.user, "deploy")
    await require_unlocked(deps, parsed.endpoint, user=request.user, force=parsed.force)
    await scale.check(deps.backend, parsed)

    def progress_view(lines: Sequence[str]) -> Reply:
        return scale.render_progress(parsed, lines, user=request.mention)

    progress = ProgressMessage(
        slack=deps.slack,
        channel=request.channel,
        render=progress_view,
        interval=deps.progress_interval,
    )
    await progress.start()
    try:
        deployment = await scale.execute(deps.backend, parsed, progress=progress.line)
    except FlightdeckError as exc:
        await progress.finish(scale.render_failed(parsed, exc.message, user=request.mention))
        return Outcome(result="failed", endpoint=parsed.endpoint, detail=exc.message)
    except Exception:
        failed = scale.render_failed(parsed, messages.GENERIC_ERROR, user=request.mention)
        await progress.finish(failed)
        raise
    await progress.finish(scale.render_done(parsed, deployment, user=request.mention))
    return Outcome(result="ok", endpoint=parsed.endpoint, detail=str(deployment.instance_count))


def register(listeners: Listeners, deps: DeploymentDeps) -> None:
    """Listen to ``/scale``."""
    listeners.command("/scale", partial(run, deps))
