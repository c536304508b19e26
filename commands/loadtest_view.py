"""The Block Kit of ``/loadtest``: the progress message (with Cancel), then the summary and chart.

reply = render_running(request, plan, progress, run_id="ab12", user="<@U1>")
reply = render_finished(request, result, chart=png, user="<@U1>")
"""

from __future__ import annotations

from base.numbers import format_number
from commands import actions, messages
from commands.blocks import actions as actions_row
from commands.blocks import button, code_block, context, escape, header, section
from commands.loadtest import LoadtestRequest
from commands.reply import FileAttachment, Reply
from loadtest import LoadTestPlan, LoadTestResult, Mode, Progress, render_progress, render_text

__all__ = ["render_failed", "render_finished", "render_running"]


def _title(request: LoadtestRequest) -> str:
    if request.deployment:
        return messages.LOADTEST_TITLE_DEPLOYMENT.format(
            deployment=request.deployment, endpoint=request.endpoint
        )
    return messages.LOADTEST_TITLE.format(endpoint=request.endpoint)


def _plan_line(plan: LoadTestPlan, user: str) -> str:
    if plan.mode is Mode.OPEN:
        return messages.LOADTEST_PLAN_OPEN.format(
            rate=format_number(plan.rate or 0),
            duration=format_number(plan.duration or 0),
            user=user,
        )
    return messages.LOADTEST_PLAN_CLOSED.format(
        requests=plan.requests, concurrency=plan.concurrency, user=user
    )


def render_running(
    request: LoadtestRequest,
    plan: LoadTestPlan,
    progress: Progress | None,
    *,
    run_id: str,
    user: str,
) -> Reply:
    """The progress message: the plan, sent / ok / errors / P99 so far, a Cancel button."""
    title = _title(request)
    now = messages.LOADTEST_STARTING if progress is None else render_progress(progress)
    blocks = (
        header(title),
        context(_plan_line(plan, user)),
        code_block(messages.LOADTEST_RUNNING.format(progress=now)),
        actions_row(
            button(
                messages.LOADTEST_CANCEL,
                action_id=actions.LOADTEST_CANCEL,
                value=run_id,
                style="danger",
            )
        ),
    )
    return Reply(text=f"{title}: {now}", blocks=blocks)


def render_finished(
    request: LoadtestRequest,
    result: LoadTestResult,
    *,
    chart: bytes | None,
    user: str,
    cancelled_by: str | None = None,
) -> Reply:
    """The summary in a code block; the chart (PNG) as a file beside it."""
    template = (
        messages.LOADTEST_CANCELLED_TITLE if result.cancelled else messages.LOADTEST_DONE_TITLE
    )
    title = template.format(title=_title(request))
    notes = [_plan_line(result.plan, user)]
    if cancelled_by:
        notes.append(messages.LOADTEST_CANCELLED_BY.format(user=cancelled_by))
    attachment = None
    if chart is not None:
        notes.append(messages.LOADTEST_CHART_NOTE)
        attachment = FileAttachment(
            filename=f"loadtest-{request.endpoint}.png",
            title=messages.LOADTEST_CHART_TITLE.format(endpoint=request.endpoint),
            content=chart,
        )
    blocks = (header(title), context(" ".join(notes)), code_block(render_text(result)))
    return Reply(text=title, blocks=blocks, file=attachment)


def render_failed(request: LoadtestRequest, error: str, *, user: str) -> Reply:
    """The progress message when the run could not finish (no button left)."""
    title = messages.LOADTEST_FAILED_TITLE.format(title=_title(request))
    blocks = (
        header(title),
        context(messages.REQUESTED_BY.format(user=user)),
        section(messages.LOADTEST_FAILED.format(error=escape(error))),
    )
    return Reply(text=title, blocks=blocks)
