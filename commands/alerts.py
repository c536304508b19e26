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
from commands.blocks import context, escape, header, section, truncate
from commands.reply import FileAttachment, Reply
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


#: Blocks the listing may use (Slack's 50 a message, with room for the banner lines).
_LISTING_BLOCKS = 45
#: A section's text (Slack's 3000 characters, with room to spare).
_SECTION_ROOM = 2900


def _pack(lines: Sequence[str], room: int = _SECTION_ROOM) -> list[str]:
    """The lines joined into texts of at most ``room`` characters each, in order."""
    texts: list[str] = []
    current = ""
    for line in lines:
        line = truncate(line, room)
        if current and len(current) + 1 + len(line) > room:
            texts.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        texts.append(current)
    return texts


def _counts(alerts: Sequence[StoredAlert], now: datetime) -> dict[str, int]:
    counts = {"firing": 0, "pending": 0, "silenced": 0, "failing": 0}
    for alert in alerts:
        state = alert.state
        if is_source(alert.key):
            counts["failing"] += 1
        elif state.silenced(now):
            counts["silenced"] += 1
        elif state.status in ("firing", "pending"):
            counts[state.status] += 1
    return counts


def _summary(counts: dict[str, int]) -> str:
    parts = [
        messages.ALERTS_COUNT[name].format(count=count) for name, count in counts.items() if count
    ]
    return " · ".join(parts)


def _plain_time(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "?"


def _plain_row(alert: StoredAlert, now: datetime) -> str:
    """A row of the full list (a text file: no mrkdwn, times in UTC)."""
    state = alert.state
    if is_source(alert.key):
        return messages.ALERTS_FILE_SOURCE_ROW.format(
            since=_plain_time(state.since), detail=state.detail or ""
        )
    rule = alert_rule(alert)
    status: str = state.status
    if status == "firing" and state.acknowledged_by:
        status += messages.ALERTS_FILE_ACKED.format(user=state.acknowledged_by)
    if state.silenced(now):
        status += messages.ALERTS_FILE_SILENCED.format(until=_plain_time(state.silenced_until))
    return messages.ALERTS_FILE_ROW.format(
        deployment=alert.key.deployment,
        label=rule.label(),
        value=rule.format_value(state.value),
        threshold=rule.format_threshold(),
        status=status,
        since=_plain_time(state.fired_at or state.since),
    )


def _full_list(title: str, by_endpoint: dict[str, list[StoredAlert]], now: datetime) -> str:
    lines = [title, ""]
    for name, rows in sorted(by_endpoint.items()):
        lines.append(messages.SOURCE_ALL if name == SOURCE_ALL else name)
        lines.extend("  " + _plain_row(alert, now) for alert in rows)
        lines.append("")
    return "\n".join(lines)


def render_alerts(
    request: ListAlerts,
    alerts: Sequence[StoredAlert],
    *,
    settings: AlertSettings | None,
    now: datetime,
    banner: Sequence[str] = (),
) -> Reply:
    """The listing: one section per endpoint with a line per alert.

    ``banner``: lines (mrkdwn) shown first, such as an alerts channel Slack refuses.
    When the listing does not fit in a message (Slack's 50 blocks), a compact summary
    does: the counts, and a line per endpoint; the full list is the reply's file
    (``alerts.txt``), for the bot to share in the channel.
    """
    if settings is None or not settings.enabled:
        return Reply(text=messages.ALERTS_OFF, blocks=(section(messages.ALERTS_OFF),))
    endpoint = request.endpoint
    shown = [a for a in alerts if endpoint is None or a.key.endpoint in (endpoint, SOURCE_ALL)]
    shown = [a for a in shown if not is_source(a.key) or a.state.status == "firing"]
    title = (
        messages.ALERTS_TITLE_ONE.format(endpoint=endpoint) if endpoint else messages.ALERTS_TITLE
    )
    head: list[Block] = [header(title)]
    head.extend(section(text) for text in _pack(banner))
    by_endpoint: dict[str, list[StoredAlert]] = {}
    for alert in shown:
        by_endpoint.setdefault(alert.key.endpoint, []).append(alert)
    body: list[Block] = []
    for name, rows in sorted(by_endpoint.items()):
        label = messages.SOURCE_ALL if name == SOURCE_ALL else escape(name)
        lines = [f"*{label}*", *(_row(alert, now) for alert in rows)]
        body.extend(section(text) for text in _pack(lines))
    attachment = None
    if len(head) + len(body) + 1 > _LISTING_BLOCKS:
        counts = _counts(shown, now)
        lines = [
            messages.ALERTS_COMPACT.format(summary=_summary(counts), endpoints=len(by_endpoint))
        ]
        for name, rows in sorted(by_endpoint.items()):
            label = messages.SOURCE_ALL if name == SOURCE_ALL else escape(name)
            lines.append(
                messages.ALERTS_COMPACT_ROW.format(
                    endpoint=label, summary=_summary(_counts(rows, now))
                )
            )
        room = _LISTING_BLOCKS - len(head) - 1
        packed = _pack(lines)
        if len(packed) > room:
            packed = [*packed[: room - 1], messages.ALERTS_COMPACT_CUT]
        body = [section(text) for text in packed]
        attachment = FileAttachment(
            filename="alerts.txt", title=title, content=_full_list(title, by_endpoint, now)
        )
    if not by_endpoint:
        none = (
            messages.ALERTS_NONE_ONE.format(endpoint=endpoint) if endpoint else messages.ALERTS_NONE
        )
        body.append(section(escape(none)))
    footer = messages.ALERTS_FOOTER.format(
        poll=span(settings.poll_interval),
        repeat=span(settings.repeat_interval),
        channel=settings.channel_for(endpoint) if endpoint else settings.channel,
    )
    text = title if by_endpoint else messages.ALERTS_NONE
    if banner:
        text = f"{text} · {banner[0]}"
    return Reply(text=text, blocks=(*head, *body, context(footer)), file=attachment)
