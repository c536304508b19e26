"""``/loadtest``: deployers only (it puts load on the endpoint). Ack at once, then one message
updated every ``loadtest.progress_seconds`` (sent, ok, errors, P99 so far) with a Cancel
button, then the summary in that message and the latency chart as a PNG file."""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.edge import Outcome, tell
from bot.loadtests.runs import limits_for
from bot.services import Services
from bot.slash import SlashRequest, register_command
from commands import loadtest
from commands.loadtest_view import render_failed, render_finished, render_running
from commands.reply import notice
from deploy.errors import ValidationError
from loadtest import LoadTestError, Progress, render_chart_png, run_load_test

__all__ = ["register"]

log = logging.getLogger(__name__)


async def run(services: Services, request: SlashRequest) -> Outcome:
    """Parse, check access and the plan, run with progress, post the summary and chart."""
    parsed = loadtest.parse(request.text)
    if isinstance(parsed, loadtest.LoadtestHelp):
        await tell(services, request.origin, notice(loadtest.HELP))
        return Outcome(result="help")
    await services.access.require(request.user, "deploy")
    limits = limits_for(services.settings.loadtest, loopback_only=services.backend.loopback_only)
    plan = await loadtest.prepare(services.backend, parsed, limits=limits)
    runs = services.loadtests
    current = runs.start()
    try:
        ts = await services.slack.post(
            request.channel,
            render_running(parsed, plan, None, run_id=current.id, user=request.mention),
        )

        async def show(progress: Progress) -> None:
            reply = render_running(parsed, plan, progress, run_id=current.id, user=request.mention)
            try:
                await services.slack.update(request.channel, ts, reply)
            except SlackApiError as exc:  # progress is best effort; the summary says how it ended
                log.warning("load-test progress update failed: %s", exc.response.get("error"))

        try:
            result = await run_load_test(
                plan,
                limits=limits,
                progress=show,
                progress_interval=services.settings.loadtest.progress_seconds,
                cancel=current.cancel,
            )
        except LoadTestError as exc:
            await _fail(services, request, parsed, ts, str(exc))
            raise ValidationError(str(exc)) from None
        except Exception:
            await _fail(services, request, parsed, ts, messages.GENERIC_ERROR)
            raise
    finally:
        runs.finish(current.id)
    chart = await asyncio.to_thread(render_chart_png, result) if result.completed else None
    cancelled_by = f"<@{current.cancelled_by}>" if current.cancelled_by else None
    await services.slack.update(
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
    services: Services, request: SlashRequest, parsed: loadtest.LoadtestRequest, ts: str, error: str
) -> None:
    """Replace the progress message (and its Cancel button) by the failure; best effort."""
    try:
        reply = render_failed(parsed, error, user=request.mention)
        await services.slack.update(request.channel, ts, reply)
    except Exception:
        log.exception("could not show the failed load test in %s", request.channel)


def register(app: AsyncApp, services: Services) -> None:
    """Listen to ``/loadtest``."""
    register_command(app, services, "/loadtest", run)
