"""The approval message: what is asked, Approve/Reject, then who decided, and how it went.

Every kind of request (a traffic shift, a rollout, a promotion) gives its title, intro and
body blocks (``ApprovalContent``); this module adds the expiry, the buttons with their
confirm dialog, and, once decided, the decision and its outcome.

    content = ApprovalContent(title=..., intro=..., body=(...), confirm_title=..., confirm_text=...)
    reply = render_approval(approval, content, expiry_minutes=30, self_approval=False)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import Block

from base.numbers import format_number
from bot import messages
from bot.approvals.store import Approval
from commands import actions
from commands.blocks import actions as actions_block
from commands.blocks import button, context, escape, header, section
from commands.reply import Reply

__all__ = ["ApprovalContent", "render_approval", "slack_time"]


def slack_time(when: datetime) -> str:
    """A time Slack shows in the reader's time zone (the fallback in UTC)."""
    fallback = when.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


@dataclass(frozen=True, kw_only=True)
class ApprovalContent:
    """What a request shows: its title, who asks what, the details, the confirm dialog."""

    title: str
    intro: str
    body: tuple[Block, ...]
    confirm_title: str
    confirm_text: str


def render_approval(
    approval: Approval,
    content: ApprovalContent,
    *,
    expiry_minutes: float,
    self_approval: bool,
    applying: bool = False,
    ask_again: bool = False,
) -> Reply:
    """The message for ``approval`` in its current state; ``ask_again`` adds the button that
    asks for the same change against today's state (a request refused as stale)."""
    title = content.title
    blocks: list[Block] = [header(title), section(content.intro), *content.body]
    if approval.status == "pending":
        pending = messages.APPROVAL_PENDING_SELF if self_approval else messages.APPROVAL_PENDING
        blocks.append(
            context(
                pending.format(
                    minutes=format_number(expiry_minutes), at=slack_time(approval.expires_at)
                )
            )
        )
        confirm = (content.confirm_title, content.confirm_text, messages.APPROVE)
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
        if ask_again:
            blocks.append(
                actions_block(
                    button(messages.ASK_AGAIN, action_id=actions.ASK_AGAIN, value=approval.id),
                    block_id=f"ask-again-{approval.id}",
                )
            )
    status = messages.STATUS_WORDS[approval.status]
    return Reply(text=f"{title}: {status}", blocks=tuple(blocks))
