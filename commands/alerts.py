"""``/alerts``: what is firing, acknowledged, pending and silenced, per endpoint.

    /alerts [<endpoint>]

Read-only: everyone may look. The rows come from the alert store (``alerts.store``);
an alert shows while it is pending or firing, or while a silence is on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from slack_sdk.models.blocks import Block

from alerts.settings import AlertSettings
from alerts.source import SOURCE_ALL, is_source
from alerts.store import StoredAlert
from commands import messages
from commands.alerts_view import alert_rule, slack_time, span
from commands.args import is_help, parse_args
from commands.blocks import context, escape, header, section
from commands.reply import Reply
from deploy.errors import ValidationError
from deploy.rules import validate_name

__all__ = ["HELP", "AlertsHelp", "ListAlerts", "parse", "render_alerts"]

HELP = messages.ALERTS_HELP


@dataclass(frozen=True, kw_only=True)
class AlertsHelp:
    """``/alerts help``."""

    writes: ClassVar[bool] = False


@dataclass(frozen=True, kw_only=True)
class ListAlerts:
    """``/alerts [<endpoint>]``."""

    writes: ClassVar[bool] = False
    endpoint: str | None = None


def parse(text: str) -> AlertsHelp | ListAlerts:
    """The typed request for ``text``; ``UsageError`` naming what is wrong."""
    if is_help(text):
        return AlertsHelp()
    args = parse_args(text, help_text=HELP, options=set())
    if len(args.positionals) > 1:
        raise args.usage(messages.UNEXPECTED.format(words=" ".join(args.positionals[1:])))
    if not args.positionals:
        return ListAlerts()
    try:
        validate_name("endpoint", args.positionals[0])
    except ValidationError as exc:
        raise args.usage(exc.message) from None
    return ListAlerts(endpoint=args.positionals[0])


def _status(alert: StoredAlert, now: datetime) -> tuple[str, str]:
    """(icon, words) for a row."""
    state = alert.state
    words: list[str] = []
    if state.status == "firing":
        fired = state.fired_at or state.since or now
        words.append(messages.ALERTS_FIRING_SINCE.format(since=slack_time(fired)))
    elif state.status == "pending":
        duration = span(alert_rule(alert).duration)
        since = slack_time(state.since or now)
        words.append(messages.ALERTS_PENDING_SINCE.format(since=since, duration=duration))
    elif state.status == "resolved" and state.resolved_at:
        words.append(messages.ALERTS_STATUS_RESOLVED.format(at=slack_time(state.resolved_at)))
    else:
        words.append(messages.ALERTS_STATUS_OK)
    icon = messages.ALERTS_ICONS.get(state.status, "")
    if state.status == "firing" and state.acknowledged_by:
        words.append(messages.ALERTS_ACKED.format(user=state.acknowledged_by))
        icon = messages.ALERTS_ICONS["acknowledged"]
    if state.silenced(now) and state.silenced_until:
        user = state.silenced_by or "?"
        until = slack_time(state.silenced_until)
        words.append(messages.ALERTS_SILENCED.format(user=user, until=until))
        icon = messages.ALERTS_ICONS["silenced"]
    return icon, " · ".join(words)


def _row(alert: StoredAlert, now: datetime) -> str:
    state = alert.state
    if is_source(alert.key):
        since = slack_time(state.since or now)
        return messages.ALERTS_SOURCE_ROW.format(since=since, detail=escape(state.detail or ""))
    rule = alert_rule(alert)
    icon, status = _status(alert, now)
    return messages.ALERTS_ROW.format(
        icon=icon,
        deployment=escape(alert.key.deployment),
        label=rule.label(),
        value=rule.format_value(state.value),
        threshold=rule.format_threshold(),
        status=status,
    )


def render_alerts(
    request: ListAlerts,
    alerts: Sequence[StoredAlert],
    *,
    settings: AlertSettings | None,
    now: datetime,
) -> Reply:
    """The listing: one section per endpoint with a line per alert."""
    if settings is None or not settings.enabled:
        return Reply(text=messages.ALERTS_OFF, blocks=(section(messages.ALERTS_OFF),))
    endpoint = request.endpoint
    shown = [a for a in alerts if endpoint is None or a.key.endpoint in (endpoint, SOURCE_ALL)]
    shown = [a for a in shown if not is_source(a.key) or a.state.status == "firing"]
    title = (
        messages.ALERTS_TITLE_ONE.format(endpoint=endpoint) if endpoint else messages.ALERTS_TITLE
    )
    blocks: list[Block] = [header(title)]
    lines_by_endpoint: dict[str, list[str]] = {}
    for alert in shown:
        name = alert.key.endpoint
        lines_by_endpoint.setdefault(name, []).append(_row(alert, now))
    for name, lines in sorted(lines_by_endpoint.items()):
        label = messages.SOURCE_ALL if name == SOURCE_ALL else escape(name)
        blocks.append(section(f"*{label}*\n" + "\n".join(lines)))
    if not lines_by_endpoint:
        none = (
            messages.ALERTS_NONE_ONE.format(endpoint=endpoint) if endpoint else messages.ALERTS_NONE
        )
        blocks.append(section(escape(none)))
    footer = messages.ALERTS_FOOTER.format(
        poll=span(settings.poll_interval),
        repeat=span(settings.repeat_interval),
        channel=settings.channel_for(endpoint) if endpoint else settings.channel,
    )
    blocks.append(context(footer))
    text = title if lines_by_endpoint else messages.ALERTS_NONE
    return Reply(text=text, blocks=tuple(blocks))
