"""The Block Kit of ``/capacity``: the plan (dry run), the live-traffic confirmation, one
progress message updated per step (with Cancel), then the answer, the table and the chart.

reply = render_running(request, steps, now, run_id="ab12", user="<@U1>")
reply = render_finished(report, chart=png, user="<@U1>")
"""

from __future__ import annotations

from capacity import CapacityReport, Step, answer, render_all_steps, render_steps
from capacity.report import details
from commands import actions, messages
from commands.blocks import actions as actions_row
from commands.blocks import button, code_block, context, escape, header, section
from commands.capacity import CapacityRequest, Prepared
from commands.reply import FileAttachment, Reply

__all__ = [
    "render_confirm",
    "render_dry_run",
    "render_failed",
    "render_finished",
    "render_running",
]


def _title(request: CapacityRequest) -> str:
    return messages.CAPACITY_TITLE.format(deployment=request.deployment, endpoint=request.endpoint)


def _objective(request: CapacityRequest, user: str) -> str:
    return messages.CAPACITY_OBJECTIVE.format(
        p99=request.max_p99_ms, errors=request.max_error_rate * 100, user=user
    )


def render_dry_run(prepared: Prepared) -> Reply:
    """The plan of steps, its most load and time; the live-traffic warning if any."""
    from capacity import render_plan

    request = prepared.request
    title = messages.CAPACITY_DRY_RUN_TITLE.format(
        deployment=request.deployment, endpoint=request.endpoint
    )
    text = render_plan(prepared.plan)
    if prepared.live_weight:
        text += "\n" + prepared.live_warning()
    elif prepared.request.scaling:
        text += "\n" + prepared.scaling_note()
    return Reply(text=title, blocks=(section(escape(title)), section(escape(text))))


def render_confirm(prepared: Prepared, *, pending_id: str) -> Reply:
    """The warning for a deployment with live traffic, and a button to go ahead."""
    text = prepared.live_warning()
    blocks = (
        section(escape(text)),
        actions_row(
            button(
                messages.CAPACITY_CONFIRM,
                action_id=actions.CAPACITY_CONFIRM,
                value=pending_id,
                style="danger",
            )
        ),
    )
    return Reply(text=text, blocks=blocks)


def render_running(
    request: CapacityRequest, steps: list[Step], now: str | None, *, run_id: str, user: str
) -> Reply:
    """The progress message: the steps so far, the running one, a Cancel button."""
    title = _title(request)
    body = messages.CAPACITY_RUNNING.format(
        steps=render_steps(steps), now=now or messages.CAPACITY_STARTING
    )
    blocks = (
        header(title),
        context(_objective(request, user)),
        code_block(body),
        actions_row(
            button(
                messages.CAPACITY_CANCEL,
                action_id=actions.CAPACITY_CANCEL,
                value=run_id,
                style="danger",
            )
        ),
    )
    return Reply(text=f"{title}: {now or messages.CAPACITY_STARTING}", blocks=blocks)


def render_finished(
    request: CapacityRequest,
    report: CapacityReport,
    *,
    chart: bytes | None,
    user: str,
    cancelled_by: str | None = None,
) -> Reply:
    """The answer in a sentence, its details, the table of steps; the chart as a file."""
    template = (
        messages.CAPACITY_CANCELLED_TITLE
        if report.outcome.cancelled
        else messages.CAPACITY_DONE_TITLE
    )
    title = template.format(title=_title(request))
    notes = [_objective(request, user)]
    if cancelled_by:
        notes.append(messages.CAPACITY_CANCELLED_BY.format(user=cancelled_by))
    attachment = None
    if chart is not None:
        notes.append(messages.CAPACITY_CHART_NOTE)
        attachment = FileAttachment(
            filename=f"capacity-{request.endpoint}-{request.deployment}.png",
            title=messages.CAPACITY_CHART_TITLE.format(
                deployment=request.deployment, endpoint=request.endpoint
            ),
            content=chart,
        )
    sentence = answer(report)
    blocks = (
        header(title),
        section(escape(sentence)),
        context(" ".join(notes)),
        code_block("\n".join([*details(report), "", render_all_steps(report)])),
    )
    return Reply(text=sentence, blocks=blocks, file=attachment)


def render_failed(request: CapacityRequest, error: str, *, user: str) -> Reply:
    """The progress message when the search could not finish (no button left)."""
    title = messages.CAPACITY_FAILED_TITLE.format(title=_title(request))
    blocks = (
        header(title),
        context(messages.REQUESTED_BY.format(user=user)),
        section(messages.CAPACITY_FAILED.format(error=escape(error))),
    )
    return Reply(text=title, blocks=blocks)
