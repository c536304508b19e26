"""``/scale``: the current scale for everyone; a count or an autoscale policy from deployers."""

from __future__ import annotations

from collections.abc import Sequence

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.edge import Outcome, tell
from bot.policy.locks import dry_run_notes, require_unlocked
from bot.services import Services
from bot.slack_io import ProgressMessage
from bot.slash import SlashRequest, register_command
from commands import scale
from commands.reply import Reply, notice
from deploy.errors import FlightdeckError

__all__ = ["register"]


async def run(services: Services, request: SlashRequest) -> Outcome:
    """Parse, check, then scale with one progress message."""
    parsed = scale.parse(request.text)
    if isinstance(parsed, scale.ScaleHelp):
        await tell(services, request.origin, notice(scale.HELP))
        return Outcome(result="help")
    if isinstance(parsed, scale.ShowScale):
        deployment = await scale.check(services.backend, parsed)
        await tell(services, request.origin, scale.render_show(deployment))
        return Outcome(result="ok", endpoint=parsed.endpoint)
    if parsed.dry_run:
        current = await scale.check(services.backend, parsed)
        notes = await dry_run_notes(
            services, parsed.endpoint, user=request.user, force=parsed.force, shifts_traffic=False
        )
        await tell(services, request.origin, scale.render_dry_run(parsed, current, notes=notes))
        return Outcome(result="dry-run", endpoint=parsed.endpoint)
    await services.access.require(request.user, "deploy")
    await require_unlocked(services, parsed.endpoint, user=request.user, force=parsed.force)
    await scale.check(services.backend, parsed)

    def progress_view(lines: Sequence[str]) -> Reply:
        return scale.render_progress(parsed, lines, user=request.mention)

    progress = ProgressMessage(
        slack=services.slack,
        channel=request.channel,
        render=progress_view,
        interval=services.progress_interval,
    )
    await progress.start()
    try:
        deployment = await scale.execute(services.backend, parsed, progress=progress.line)
    except FlightdeckError as exc:
        await progress.finish(scale.render_failed(parsed, exc.message, user=request.mention))
        return Outcome(result="failed", endpoint=parsed.endpoint, detail=exc.message)
    except Exception:
        failed = scale.render_failed(parsed, messages.GENERIC_ERROR, user=request.mention)
        await progress.finish(failed)
        raise
    await progress.finish(scale.render_done(parsed, deployment, user=request.mention))
    return Outcome(result="ok", endpoint=parsed.endpoint, detail=str(deployment.instance_count))


def register(app: AsyncApp, services: Services) -> None:
    """Listen to ``/scale``."""
    register_command(app, services, "/scale", run)
