"""The approval message: current and proposed split, Approve/Reject, then who decided, and how."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import Block

from bot import messages
from bot.approvals import Approval
from commands import actions
from commands.blocks import actions as actions_block
from commands.blocks import button, context, escape, header, section
from commands.reply import Reply
from commands.traffic import TrafficPlan
from commands.traffic_view import format_split, plan_blocks

__all__ = ["render_approval", "slack_time"]


def slack_time(when: datetime) -> str:
    """A time Slack shows in the reader's time zone (the fallback in UTC)."""
    fallback = when.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _intro(approval: Approval, plan: TrafficPlan) -> tuple[str, str]:
    if plan.rollback_of is not None:
        title = messages.APPROVAL_ROLLBACK_TITLE.format(endpoint=plan.endpoint)
        text = messages.APPROVAL_ROLLBACK_ASK.format(
            user=approval.requester, endpoint=plan.endpoint
        )
    else:
        title = messages.APPROVAL_TITLE.format(endpoint=plan.endpoint)
        text = messages.APPROVAL_ASK.format(user=approval.requester, endpoint=plan.endpoint)
    return title, text


def render_approval(
    approval: Approval, plan: TrafficPlan, *, expiry_minutes: float, applying: bool = False
) -> Reply:
    """The message for ``approval`` in its current state."""
    title, intro = _intro(approval, plan)
    blocks: list[Block] = [header(title), section(intro), *plan_blocks(plan)]
    if approval.status == "pending":
        blocks.append(
            context(
                messages.APPROVAL_PENDING.format(
                    minutes=f"{expiry_minutes:g}", at=slack_time(approval.expires_at)
                )
            )
        )
        confirm = (
            messages.CONFIRM_TITLE,
            messages.CONFIRM_TEXT.format(
                endpoint=plan.endpoint, split=format_split(plan.traffic, plan.mirror)
            ),
            messages.APPROVE,
        )
        blocks.append(
            actions_block(
                button(
                    messages.APPROVE,
                    action_id=actions.APPROVE,
                    value=approval.id,
                    style="primary",
                    confirm=confirm,
                ),
                button(
                    messages.REJECT, action_id=actions.REJECT, value=approval.id, style="danger"
                ),
                block_id=f"approval-{approval.id}",
            )
        )
        return Reply(text=f"{title}: {messages.APPROVAL_WAITING}", blocks=tuple(blocks))
    decided_at = slack_time(approval.decided_at or approval.expires_at)
    if approval.status == "expired":
        blocks.append(context(messages.APPROVAL_EXPIRED.format(at=decided_at)))
        return Reply(text=f"{title}: {messages.STATUS_EXPIRED}", blocks=tuple(blocks))
    line = messages.APPROVAL_DECIDED[approval.status].format(
        user=approval.decided_by, at=decided_at
    )
    blocks.append(section(line))
    if applying:
        blocks.append(context(messages.APPLYING))
    elif approval.outcome is not None:
        mark = messages.OUTCOME_OK if approval.outcome_ok else messages.OUTCOME_FAILED
        blocks.append(section(f"{mark} {escape(approval.outcome)}"))
    status = messages.STATUS_WORDS[approval.status]
    return Reply(text=f"{title}: {status}", blocks=tuple(blocks))
