"""Block Kit for canary rollouts: the plan (for approval and ``--dry-run``), the progress
message updated at each step, and the lines ``/traffic <endpoint>`` adds about a rollout
or a lock.

    reply = render_rollout(rollout, now=now)       # header, steps table, checks, buttons
    blocks = plan_blocks(plan)                     # what each step will set
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from slack_sdk.models.blocks import Block

from base.numbers import format_number
from commands import actions, messages
from commands.alerts_view import slack_time, span
from commands.blocks import actions as actions_block
from commands.blocks import (
    button,
    code_block,
    context,
    escape,
    format_split,
    header,
    section,
    text_table,
)
from commands.reply import Reply
from rollouts import IntervalResult, Lock, Rollout, RolloutPlan, RolloutSpec, sparkline
from rollouts import mention as who
from rollouts.machine import target_weights, weights_at

__all__ = [
    "checks_line",
    "lock_line",
    "plan_blocks",
    "render_canary_dry_run",
    "render_rollout",
    "render_rollout_finished",
    "rollout_line",
]

_MARK = {"pass": "✓", "fail": "✗", "inconclusive": "?"}
_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]+)&gt;")


def _escape_keep_mentions(text: str) -> str:
    """Escape text of our own making that may quote others (errors), keeping its mentions."""
    return _MENTION.sub(r"<@\1>", escape(text))


def checks_line(spec: RolloutSpec) -> str:
    """``P99 ≤ 500 ms · errors ≤ 1% · at least 100 requests · every 5m · rollback after 2``."""
    parts = [
        messages.ROLLOUT_CHECK_P99.format(limit=format_number(spec.max_p99_ms)),
        messages.ROLLOUT_CHECK_ERRORS.format(limit=format_number(spec.max_error_rate)),
    ]
    if spec.max_p99_increase is not None:
        parts.append(
            messages.ROLLOUT_CHECK_BASELINE.format(limit=format_number(spec.max_p99_increase))
        )
    parts.append(messages.ROLLOUT_CHECK_REQUESTS.format(count=spec.min_requests))
    text = " · ".join(parts)
    text = messages.ROLLOUT_CHECKS.format(
        checks=text, interval=span(spec.interval), threshold=spec.threshold
    )
    if spec.confirm_promotion:
        text += " " + messages.ROLLOUT_CONFIRMS
    if spec.with_load is not None:
        text += " " + messages.ROLLOUT_WITH_LOAD.format(rate=format_number(spec.with_load))
    return text


def _weights_rows(
    canary: str, others: Sequence[str], steps: Sequence[Mapping[str, int]]
) -> list[list[str]]:
    rows = [[messages.ROLLOUT_STEP_COLUMN, canary, *others]]
    for number, weights in enumerate(steps, start=1):
        rows.append(
            [str(number), f"{weights.get(canary, 0)}%", *(f"{weights.get(n, 0)}%" for n in others)]
        )
    return rows


def plan_blocks(plan: RolloutPlan) -> list[Block]:
    """The split at each step, the checks, and what a rollback returns to."""
    others = sorted(n for n in plan.current if n != plan.spec.canary)
    rows = _weights_rows(plan.spec.canary, others, plan.step_weights)
    now = format_split(plan.current)
    back = format_split(plan.rollback_weights)
    shortest = plan.spec.interval * (len(plan.spec.steps) - 1)
    return [
        section(messages.ROLLOUT_PLAN_NOW.format(split=escape(now))),
        code_block(text_table(rows, right_percent=True)),
        section(checks_line(plan.spec)),
        context(
            messages.ROLLOUT_PLAN_FOOTER.format(
                rollback=escape(back), baseline=plan.primary, shortest=span(shortest)
            )
        ),
    ]


def render_canary_dry_run(plan: RolloutPlan, *, notes: Sequence[str] = ()) -> Reply:
    """``--dry-run``: what the rollout would do, what would stand in its way (``notes``),
    and that nothing changed."""
    title = messages.ROLLOUT_DRY_RUN_TITLE.format(canary=plan.spec.canary, endpoint=plan.endpoint)
    blocks: list[Block] = [header(title), *plan_blocks(plan)]
    blocks.extend(section(note) for note in notes)
    blocks.append(context(messages.ROLLOUT_DRY_RUN_FOOTER))
    return Reply(text=title, blocks=tuple(blocks))


def _result_text(result: IntervalResult) -> str:
    return f"{_MARK[result.verdict]} {result.summary()}"


def _step_cells(rollout: Rollout, step: int) -> str:
    results = [r for r in rollout.results if r.step == step]
    if rollout.active and step == rollout.step and rollout.status == "running":
        if not rollout.applied:
            return messages.ROLLOUT_APPLYING
        last = _MARK[results[-1].verdict] + " " if results else ""
        return last + messages.ROLLOUT_JUDGING
    if not results:
        return ""
    marks = "".join(_MARK[r.verdict] for r in results)
    return f"{marks} {results[-1].summary()}" if len(results) == 1 else marks


def _status(rollout: Rollout, now: datetime) -> str:
    split = format_split(target_weights(rollout))
    steps = len(rollout.spec.steps)
    if rollout.status == "running":
        text = messages.ROLLOUT_RUNNING.format(step=rollout.step + 1, steps=steps, split=split)
        if rollout.interval_start is not None:
            due = rollout.interval_start + rollout.spec.interval
            text += " " + messages.ROLLOUT_NEXT_CHECK.format(at=slack_time(max(due, now)))
        return text
    if rollout.status == "paused":
        return messages.ROLLOUT_PAUSED.format(step=rollout.step + 1, steps=steps, split=split)
    if rollout.status == "awaiting_promotion":
        return messages.ROLLOUT_AWAITING.format(canary=rollout.canary, split=split)
    if rollout.status == "finishing":
        return messages.ROLLOUT_FINISHING[rollout.outcome or "aborted"].format(split=split)
    return messages.ROLLOUT_DONE[rollout.outcome or "aborted"].format(split=split)


def _buttons(rollout: Rollout) -> Block | None:
    if rollout.status not in ("running", "paused", "awaiting_promotion"):
        return None
    value = rollout.id
    elements = []
    if rollout.status == "running":
        elements.append(
            button(messages.ROLLOUT_PAUSE, action_id=actions.ROLLOUT_PAUSE, value=value)
        )
    elif rollout.status == "paused":
        elements.append(
            button(messages.ROLLOUT_RESUME, action_id=actions.ROLLOUT_RESUME, value=value)
        )
    elements.append(
        button(
            messages.ROLLOUT_PROMOTE,
            action_id=actions.ROLLOUT_PROMOTE,
            value=value,
            style="primary",
        )
    )
    confirm = (
        messages.ROLLOUT_ABORT_CONFIRM_TITLE,
        messages.ROLLOUT_ABORT_CONFIRM.format(canary=rollout.canary, endpoint=rollout.endpoint),
        messages.ROLLOUT_ABORT,
    )
    elements.append(
        button(
            messages.ROLLOUT_ABORT,
            action_id=actions.ROLLOUT_ABORT,
            value=value,
            style="danger",
            confirm=confirm,
        )
    )
    return actions_block(*elements, block_id=f"rollout-{rollout.id}")


def render_rollout(rollout: Rollout, *, now: datetime) -> Reply:
    """The progress message: status, steps with their checks, the latest numbers, buttons."""
    title = messages.ROLLOUT_TITLE.format(canary=rollout.canary, endpoint=rollout.endpoint)
    others = sorted(n for n in rollout.baseline if n != rollout.canary)
    weights = [weights_at(rollout, step) for step in range(len(rollout.spec.steps))]
    rows = _weights_rows(rollout.canary, others, weights)
    rows[0].append(messages.ROLLOUT_CHECKS_COLUMN)
    for step, row in enumerate(rows[1:]):
        here = "▸" if rollout.active and step == rollout.step else " "
        row[0] = here + row[0]
        row.append(_step_cells(rollout, step))
    rows[0][0] = " " + rows[0][0]
    blocks: list[Block] = [
        header(title),
        section(_status(rollout, now)),
        code_block(text_table(rows, right_percent=True)),
        section(checks_line(rollout.spec)),
    ]
    if rollout.results:
        last = rollout.results[-1]
        blocks.append(
            section(
                messages.ROLLOUT_LAST_INTERVAL.format(
                    step=last.step + 1,
                    start=last.start.strftime("%H:%M:%S"),
                    end=last.end.strftime("%H:%M:%S"),
                    result=escape(_result_text(last)),
                    failures=rollout.failures,
                    threshold=rollout.spec.threshold,
                )
            )
        )
        p99 = [r.p99_ms for r in rollout.results]
        line = sparkline(p99, top=rollout.spec.max_p99_ms)
        blocks.append(
            context(
                messages.ROLLOUT_CHART.format(
                    chart=line,
                    limit=format_number(rollout.spec.max_p99_ms),
                    weights=sparkline([float(r.weight) for r in rollout.results], top=100),
                )
            )
        )
    if rollout.reason:
        blocks.append(
            section(messages.ROLLOUT_REASON.format(reason=_escape_keep_mentions(rollout.reason)))
        )
    recent = rollout.events[-4:]
    if recent:
        history = " · ".join(f"{e.at.strftime('%H:%M:%S')} {e.text}" for e in recent)
        blocks.append(context(_escape_keep_mentions(history)))
    people = messages.ROLLOUT_PEOPLE.format(
        requester=who(rollout.requested_by),
        approver=who(rollout.approved_by) if rollout.approved_by else messages.NONE,
        id=rollout.id,
    )
    blocks.append(context(people))
    buttons = _buttons(rollout)
    if buttons is not None:
        blocks.append(buttons)
    return Reply(text=f"{title}: {_plain_status(rollout)}", blocks=tuple(blocks))


def _plain_status(rollout: Rollout) -> str:
    if rollout.status == "done":
        return messages.OUTCOME_TEXT[rollout.outcome or "aborted"]
    return messages.ROLLOUT_STATUS_TEXT[rollout.status].format(
        step=rollout.step + 1, steps=len(rollout.spec.steps), weight=rollout.weight
    )


def render_rollout_finished(rollout: Rollout) -> Reply:
    """The reply in the progress message's thread when the rollout is done."""
    split = format_split(target_weights(rollout))
    text = messages.ROLLOUT_FINISHED[rollout.outcome or "aborted"].format(
        canary=rollout.canary, endpoint=rollout.endpoint, split=split
    )
    if rollout.reason:
        text += "\n" + messages.ROLLOUT_REASON.format(reason=_escape_keep_mentions(rollout.reason))
    judged = [r for r in rollout.results if r.verdict != "inconclusive"]
    if judged:
        text += "\n" + messages.ROLLOUT_FINISHED_INTERVALS.format(
            count=len(rollout.results),
            failed=sum(1 for r in rollout.results if r.verdict == "fail"),
            inconclusive=sum(1 for r in rollout.results if r.verdict == "inconclusive"),
        )
    return Reply(text=text, blocks=(section(text),))


def rollout_line(rollout: Rollout) -> str:
    """For ``/traffic <endpoint>``: the rollout running there, in a line."""
    return messages.ROLLOUT_LINE.format(
        canary=rollout.canary,
        status=_plain_status(rollout),
        id=rollout.id,
        requester=who(rollout.requested_by),
    )


def lock_line(lock: Lock) -> str:
    """For ``/traffic <endpoint>``: who locked it, when and why."""
    return messages.LOCK_LINE.format(
        user=who(lock.by), at=slack_time(lock.at), reason=escape(lock.reason)
    )
