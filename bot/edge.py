"""The edge where work after ``ack()`` ends: errors shown or logged, and the audit entry written.

Two tiers: a ``FlightdeckError`` is the user's to act on, shown to them alone as is;
anything else is a bug, logged once here with its traceback, and the user gets a
short generic message. Never a traceback in Slack. Either way the audit log gets
one entry (who, what, where, when, result).

    await guarded(slack=slack, audit=audit, origin=origin, action="/scale", text=text,
                  work=lambda: run(...))

``bot.middleware`` runs every listener's work through ``guarded``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot import messages
from bot.errors import AccessDeniedError, AlertStateError, ApprovalStateError
from bot.policy.audit import AuditLog
from bot.slack_io import Origin, SlackIO
from bot.slack_retries import slack_outage
from commands.blocks import section
from commands.errors import UsageError
from commands.reply import Reply, notice
from deploy.errors import FlightdeckError, NotFoundError, SpecError, ValidationError
from rollouts import EndpointLockedError, RolloutConflictError, RolloutStateError

__all__ = ["Outcome", "error_reply", "guarded", "result_for", "tell"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """How a piece of work ended, for the audit log."""

    result: str
    detail: str | None = None
    endpoint: str | None = None
    approval_id: str | None = None


def result_for(error: FlightdeckError) -> str:
    """The audit result for a known failure."""
    if isinstance(error, AccessDeniedError):
        return "denied"
    if isinstance(error, EndpointLockedError):
        return "locked"
    if isinstance(
        error,
        UsageError
        | ValidationError
        | NotFoundError
        | SpecError
        | ApprovalStateError
        | AlertStateError
        | RolloutConflictError
        | RolloutStateError,
    ):
        return "invalid"
    return "failed"


def error_reply(error: FlightdeckError) -> Reply:
    """A known failure's message for the user (escaped, unless it is mrkdwn already)."""
    if getattr(error, "mrkdwn", False):
        return Reply(text=error.message, blocks=(section(error.message),))
    return notice(error.message)


async def tell(slack: SlackIO, origin: Origin, reply: Reply) -> None:
    """Answer the user privately; a failure to do so is logged, not raised."""
    try:
        await slack.ephemeral(origin, reply)
    except Exception:
        log.exception("could not answer %s in %s", origin.user, origin.channel)


async def guarded(
    *,
    slack: SlackIO,
    audit: AuditLog,
    origin: Origin,
    action: str,
    text: str,
    work: Callable[[], Awaitable[Outcome]],
) -> None:
    """Run ``work``; show known errors, log unknown ones once; audit the outcome."""
    try:
        outcome = await work()
    except FlightdeckError as exc:
        outcome = Outcome(result=result_for(exc), detail=exc.message)
        await tell(slack, origin, error_reply(exc))
    except Exception as exc:
        why = slack_outage(exc)
        if why is not None:
            # Slack's outage, not a bug: one line, no traceback; the user learns what failed.
            log.warning("%s %r by %s: Slack failed: %s (%s)", action, text, origin.user, why, exc)
            outcome = Outcome(result="failed", detail=f"Slack: {why}")
            await tell(slack, origin, notice(messages.SLACK_UNAVAILABLE.format(why=why)))
        else:
            log.exception("%s %r by %s failed", action, text, origin.user)
            outcome = Outcome(result="error", detail=f"{type(exc).__name__}")
            await tell(slack, origin, notice(messages.GENERIC_ERROR))
    try:
        await audit.record(
            user=origin.user,
            channel=origin.channel,
            action=action,
            text=text,
            result=outcome.result,
            detail=outcome.detail,
            endpoint=outcome.endpoint,
            approval_id=outcome.approval_id,
        )
    except Exception:
        log.exception("could not write the audit entry for %s by %s", action, origin.user)
