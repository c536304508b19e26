"""``/capacity``: deployers only (it loads the deployment). Ack at once; ``--dry-run`` answers
privately with the plan; a deployment with live traffic first gets a private warning with a
"Run on live traffic" button (only the requester's click starts it). Then one message updated
per step (rate, P50/P99, errors, pass or fail) with a Cancel button, and at the end the answer,
the table of steps and the chart in the message's thread."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from functools import partial

from slack_sdk.errors import SlackApiError

from bot import messages
from bot.edge import Outcome, tell
from bot.loadtests.runs import LoadTestRuns
from bot.middleware import Listeners
from bot.policy.access import AccessPolicy
from bot.requests import ButtonClick, SlashRequest
from bot.slack_io import SlackIO
from capacity import PriceTable, Step, StepProgress, render_capacity_chart, render_step_progress
from commands import actions
from commands import capacity as command
from commands import messages as command_messages
from commands.capacity_view import (
    render_confirm,
    render_dry_run,
    render_failed,
    render_finished,
    render_running,
)
from commands.reply import Reply, notice
from deploy.backend import Backend
from deploy.errors import ValidationError
from loadtest import Limits

__all__ = ["CapacityDeps", "register"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Pending:
    """A search waiting for its requester's confirmation (live traffic)."""

    user: str
    channel: str
    mention: str
    prepared: command.Prepared


@dataclass(frozen=True, kw_only=True)
class CapacityDeps:
    """What ``/capacity`` and its buttons use."""

    backend: Backend
    slack: SlackIO
    access: AccessPolicy
    #: The load running now (shared with ``/loadtest``: one Cancel registry for all load).
    runs: LoadTestRuns
    limits: Limits
    headroom: float
    prices: PriceTable
    progress_seconds: float
    pending: dict[str, Pending] = field(default_factory=dict)


async def run(deps: CapacityDeps, request: SlashRequest) -> Outcome:
    """Parse, check access and the plan; dry run, confirmation, or the search."""
    parsed = command.parse(request.text)
    if isinstance(parsed, command.CapacityHelp):
        await tell(deps.slack, request.origin, notice(command.HELP))
        return Outcome(result="help")
    await deps.access.require(request.user, "deploy")
    prepared = await command.prepare(deps.backend, parsed, limits=deps.limits)
    if parsed.dry_run:
        await tell(deps.slack, request.origin, render_dry_run(prepared))
        return Outcome(result="dry-run", endpoint=parsed.endpoint)
    if prepared.live_weight:
        pending_id = secrets.token_hex(8)
        deps.pending[pending_id] = Pending(
            user=request.user,
            channel=request.channel,
            mention=request.mention,
            prepared=prepared,
        )
        await tell(deps.slack, request.origin, render_confirm(prepared, pending_id=pending_id))
        return Outcome(result="confirm", endpoint=parsed.endpoint)
    return await _search(deps, prepared, channel=request.channel, mention=request.mention)


async def confirm(deps: CapacityDeps, click: ButtonClick) -> Outcome:
    """The requester's "Run on live traffic": start the search (once)."""
    await deps.access.require(click.user, "deploy")
    pending = deps.pending.get(click.value)
    if pending is None:
        raise ValidationError(command_messages.CAPACITY_CONFIRM_GONE)
    if pending.user != click.user:
        raise ValidationError(command_messages.CAPACITY_CONFIRM_NOT_YOURS)
    del deps.pending[click.value]
    return await _search(deps, pending.prepared, channel=pending.channel, mention=pending.mention)


async def cancel(deps: CapacityDeps, click: ButtonClick) -> Outcome:
    """Deployers (who may start a search) may stop one."""
    await deps.access.require(click.user, "deploy")
    if not deps.runs.cancel(click.value, user=click.user):
        raise ValidationError(messages.LOADTEST_NOT_RUNNING)
    return Outcome(result="cancelled", detail=click.value)


async def _search(
    deps: CapacityDeps, prepared: command.Prepared, *, channel: str, mention: str
) -> Outcome:
    parsed = prepared.request
    current = deps.runs.start()
    steps: list[Step] = []
    try:
        ts = await deps.slack.post(
            channel, render_running(parsed, steps, None, run_id=current.id, user=mention)
        )

        async def show(progress: StepProgress) -> None:
            reply = render_running(
                parsed, steps, render_step_progress(progress), run_id=current.id, user=mention
            )
            await _update(deps, channel, ts, reply)

        async def done(step: Step) -> None:
            steps.append(step)
            reply = render_running(parsed, steps, None, run_id=current.id, user=mention)
            await _update(deps, channel, ts, reply)

        try:
            report = await command.measure(
                deps.backend,
                prepared,
                headroom=deps.headroom,
                prices=deps.prices,
                progress=show,
                progress_interval=deps.progress_seconds,
                cancel=current.cancel,
                on_step=done,
            )
        except ValidationError as exc:
            await _fail(deps, channel, ts, parsed, str(exc), mention)
            raise
        except Exception:
            await _fail(deps, channel, ts, parsed, messages.GENERIC_ERROR, mention)
            raise
    finally:
        deps.runs.finish(current.id)
    chart = await asyncio.to_thread(render_capacity_chart, report) if report.outcome.steps else None
    cancelled_by = f"<@{current.cancelled_by}>" if current.cancelled_by else None
    final = render_finished(parsed, report, chart=None, user=mention, cancelled_by=cancelled_by)
    await deps.slack.update(channel, ts, final)
    if chart is not None:
        with_chart = render_finished(parsed, report, chart=chart, user=mention)
        assert with_chart.file is not None
        await deps.slack.upload(channel, with_chart.file, thread_ts=ts)
    detail = f"{report.outcome.capacity_rps:.1f} req/s, limited by {report.outcome.limited_by}"
    return Outcome(
        result="cancelled" if report.outcome.cancelled else "ok",
        endpoint=parsed.endpoint,
        detail=detail,
    )


async def _update(deps: CapacityDeps, channel: str, ts: str, reply: Reply) -> None:
    try:
        await deps.slack.update(channel, ts, reply)
    except SlackApiError as exc:  # progress is best effort; the answer says how it ended
        log.warning("capacity progress update failed: %s", exc.response.get("error"))


async def _fail(
    deps: CapacityDeps,
    channel: str,
    ts: str,
    parsed: command.CapacityRequest,
    error: str,
    mention: str,
) -> None:
    try:
        await deps.slack.update(channel, ts, render_failed(parsed, error, user=mention))
    except Exception:
        log.exception("could not show the failed capacity search in %s", channel)


def register(listeners: Listeners, deps: CapacityDeps) -> None:
    """Listen to ``/capacity`` and its two buttons."""
    listeners.command("/capacity", partial(run, deps))
    listeners.action(actions.CAPACITY_CONFIRM, partial(confirm, deps))
    listeners.action(actions.CAPACITY_CANCEL, partial(cancel, deps))
