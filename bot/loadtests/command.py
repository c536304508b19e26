"""``/loadtest``: deployers only (it puts load on the endpoint). Ack at once, then one message
updated every ``loadtest.progress_seconds`` (sent, ok, errors, P99 so far) with a Cancel
button, then the summary in that message and the latency chart as a PNG file."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import partial

from slack_sdk.errors import SlackApiError

from bot import messages
from bot.edge import Outcome, tell
from bot.loadtests.runs import LoadTestRuns
from bot.middleware import Listeners
from bot.policy.access import AccessPolicy
from bot.requests import SlashRequest
from bot.slack_io import SlackIO
from commands import loadtest
from commands.loadtest_view import render_failed, render_finished, render_running
from commands.reply import notice
from deploy.backend import Backend
from deploy.errors import ValidationError
from loadtest import Limits, LoadTestError, Progress, render_chart_png, run_load_test

__all__ = ["LoadTestDeps", "register"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class LoadTestDeps:
    """What ``/loadtest`` and its Cancel button use."""

    backend: Backend
    slack: SlackIO
    access: AccessPolicy
    #: The load tests running now.
    runs: LoadTestRuns
    #: The configured caps (loopback targets only when the backend says so).
    limits: Limits
    #: Seconds between two updates of the progress message.
    progress_seconds: float


async def run(deps: LoadTestDeps, request: SlashRequest) -> Outcome:
    """Parse, check access and the plan, run with progress, post the summary and chart."""
    parsed = loadtest.parse(request.text)
    if isinstance(parsed, loadtest.LoadtestHelp):
        await tell(deps.slack, request.origin, notice(loadtest.HELP))
        return Outcome(result="help")
    await deps.access.require(request.user, "deploy")
    limits = deps.limits
    plan = await loadtest.prepare(deps.backend, parsed, limits=limits)
    runs = deps.runs
    current = runs.start()
    try:
        ts = await deps.slack.post(
            request.channel,
            render_running(parsed, plan, None, run_id=current.id, user=request.mention),
        )

        async def show(progress: Progress) -> None:
            reply = render_running(parsed, plan, progress, run_id=current.id, user=request.mention)
            try:
                await deps.slack.update(request.channel, ts, reply)
            except SlackApiError as exc:  # progress is best effort; the summary says how it ended
                log.warning("load-test progress update failed: %s", exc.response.get("error"))

        try:
            result = await run_load_test(
                plan,
                limits=limits,
                progress=show,
                progress_interval=deps.progress_seconds,
                cancel=current.cancel,
            )
        except LoadTestError as exc:
            await _fail(deps, request, parsed, ts, str(exc))
            raise ValidationError(str(exc)) from None
        except Exception:
            await _fail(deps, request, parsed, ts, messages.GENERIC_ERROR)
            raise
    finally:
        runs.finish(current.id)
    chart = await asyncio.to_thread(render_chart_png, result) if result.completed else None
    cancelled_by = f"<@{current.cancelled_by}>" if current.cancelled_by else None
    await deps.slack.update(
        request.channel,
        ts,
        render_finished(
            parsed, result, chart=chart, user=request.mention, cancelled_by=cancelled_by
        ),
    )
    p99 = f"P99 {result.latency.p99:.1f} ms" if result.latency is not None else "no responses"
    detail = f"{result.completed} responses, {result.errors} errors, {p99}"
    return Outcome(
        result="cancelled" if result.cancelled else "ok", endpoint=parsed.endpoint, detail=detail
    )


async def _fail(
    deps: LoadTestDeps, request: SlashRequest, parsed: loadtest.LoadtestRequest, ts: str, error: str
) -> None:
    """Replace the progress message (and its Cancel button) by the failure; best effort."""
    try:
        reply = render_failed(parsed, error, user=request.mention)
        await deps.slack.update(request.channel, ts, reply)
    except Exception:
        log.exception("could not show the failed load test in %s", request.channel)


def register(listeners: Listeners, deps: LoadTestDeps) -> None:
    """Listen to ``/loadtest``."""
    listeners.command("/loadtest", partial(run, deps))
