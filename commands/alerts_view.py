"""Block Kit for alerts: the alert message (firing, acknowledged, silenced, resolved), the
replies in its thread (reminder, resolved), and a failing metrics source's message.

The alert message is rendered from the stored alert alone, so a click (acknowledge,
silence) or the resolution re-renders it the same way with ``chat.update``.

    reply = render_alert_message(alert)              # the channel message, as it is now
    reply = render_alert_reply("reminder", alert)    # a reply in its thread
    reply = render_alert_group(alerts)               # several alerts in one message
    reply = render_alert_group_reply("resolved", alerts)

A grouped message shows each alert as a section and its own row of buttons (the
buttons' value names the alert), so a click acts on one alert of the group.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from slack_sdk.models.blocks import Block

from alerts.rules import Rule
from alerts.source import SOURCE_ALL, is_source
from alerts.state import AlertState, Notice
from alerts.store import StoredAlert
from base.numbers import format_number
from commands import actions, messages
from commands.blocks import actions as actions_block
from commands.blocks import button, context, escape, header, section, truncate
from commands.reply import Reply

__all__ = [
    "ACTIONS_BLOCK",
    "actions_block_id",
    "alert_rule",
    "render_alert_group",
    "render_alert_group_reply",
    "render_alert_message",
    "render_alert_reply",
    "slack_time",
    "span",
]

#: The block_id of an alert message's buttons.
ACTIONS_BLOCK = "alert-actions"


def slack_time(when: datetime) -> str:
    """A time Slack shows in the reader's time zone (the fallback in UTC)."""
    fallback = when.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} at {{time_secs}}|{fallback}>"


def span(duration: timedelta) -> str:
    """A duration for people: ``45s``, ``14m``, ``4h``, ``1h 5m``."""
    exact = max(0.0, duration.total_seconds())
    if exact < 10 and exact != int(exact):
        return f"{format_number(exact, digits=2)}s"
    seconds = round(exact)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m" + (f" {seconds}s" if seconds and minutes < 10 else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h" + (f" {minutes}m" if minutes else "")


def alert_rule(alert: StoredAlert) -> Rule:
    """The rule the alert was judged with."""
    return alert.rule or Rule(kind=alert.key.rule)  # type: ignore[arg-type]


def _share(alert: StoredAlert) -> str:
    return messages.ALERT_SHARE.format(share=alert.traffic_share or 0)


def _since(state: AlertState) -> datetime:
    return state.since or state.fired_at or datetime.fromtimestamp(0)


def _firing_for(state: AlertState) -> str:
    end = state.resolved_at or state.last_notified_at or state.fired_at
    start = state.fired_at or end
    return span(end - start) if end and start else span(timedelta(0))


def _fields(alert: StoredAlert) -> dict[str, str]:
    rule, state = alert_rule(alert), alert.state
    return {
        "endpoint": escape(alert.key.endpoint),
        "deployment": escape(alert.key.deployment),
        "label": rule.label(),
        "label_lower": rule.label().lower(),
        "value": rule.format_value(state.value),
        "peak": rule.format_value(state.peak),
        "threshold": rule.format_threshold(),
        "share": _share(alert),
        "rule": rule.describe(),
    }


def actions_block_id(alert: StoredAlert) -> str:
    """The block_id of an alert's buttons in a grouped message (unique in the message)."""
    return f"{ACTIONS_BLOCK}:{alert.key.as_id()}"[:255]


def _buttons(alert: StoredAlert, *, block_id: str = ACTIONS_BLOCK) -> Block:
    alert_id = alert.key.as_id()
    elements = []
    if alert.state.acknowledged_by is None:
        elements.append(
            button(messages.ALERT_ACK_BUTTON, action_id=actions.ALERT_ACK, value=alert_id)
        )
    for action_id, hours in actions.ALERT_SILENCE.items():
        text = messages.ALERT_SILENCE_BUTTON.format(hours=hours)
        elements.append(button(text, action_id=action_id, value=alert_id))
    if (alert.traffic_share or 0) > 0:
        confirm = messages.ALERT_SHIFT_CONFIRM.format(
            deployment=alert.key.deployment, endpoint=alert.key.endpoint
        )
        elements.append(
            button(
                messages.ALERT_SHIFT_BUTTON,
                action_id=actions.ALERT_SHIFT_AWAY,
                value=alert_id,
                style="danger",
                confirm=(
                    messages.ALERT_SHIFT_CONFIRM_TITLE,
                    confirm,
                    messages.ALERT_SHIFT_CONFIRM_OK,
                ),
            )
        )
    return actions_block(*elements, block_id=block_id)


def _body(alert: StoredAlert, now: datetime | None) -> tuple[str, list[str], str]:
    """(the section's text, the notes under it, the fallback text) of an alert's message."""
    state, rule, fields = alert.state, alert_rule(alert), _fields(alert)
    if state.status == "resolved":
        at = slack_time(state.resolved_at or _since(state))
        if rule.kind == "no_traffic":
            text = messages.ALERT_RESOLVED_TRAFFIC.format(at=at, span=_firing_for(state), **fields)
        elif state.value is None:
            text = messages.ALERT_RESOLVED_QUIET.format(at=at, span=_firing_for(state), **fields)
        else:
            text = messages.ALERT_RESOLVED.format(at=at, span=_firing_for(state), **fields)
        fallback = messages.ALERT_TEXT_RESOLVED.format(**fields)
    else:
        since = slack_time(_since(state))
        template = (
            messages.ALERT_FIRING_NO_TRAFFIC if rule.kind == "no_traffic" else messages.ALERT_FIRING
        )
        text = template.format(since=since, **fields)
        fallback = messages.ALERT_TEXT_FIRING.format(**fields)
    notes = [
        messages.ALERT_RULE.format(**fields)
        if state.peak is not None
        else messages.ALERT_RULE_ONLY.format(**fields)
    ]
    if state.acknowledged_by and state.acknowledged_at:
        notes.append(
            messages.ALERT_ACKNOWLEDGED.format(
                user=state.acknowledged_by, at=slack_time(state.acknowledged_at)
            )
        )
    if state.silenced_by and state.silenced_until and (now is None or state.silenced(now)):
        notes.append(
            messages.ALERT_SILENCED.format(
                user=state.silenced_by, until=slack_time(state.silenced_until)
            )
        )
    return text, notes, fallback


def render_alert_message(alert: StoredAlert, *, now: datetime | None = None) -> Reply:
    """The alert's channel message as its state is now."""
    if is_source(alert.key):
        return _source_message(alert)
    rule = alert_rule(alert)
    title = messages.ALERT_TITLE.format(label=rule.label(), endpoint=alert.key.endpoint)
    text, notes, fallback = _body(alert, now)
    blocks: list[Block] = [header(title), section(text), context("\n".join(notes))]
    if alert.state.status == "firing":
        blocks.append(_buttons(alert))
    return Reply(text=fallback, blocks=tuple(blocks))


def render_alert_group(alerts: Sequence[StoredAlert], *, now: datetime | None = None) -> Reply:
    """One message for several alerts (of one endpoint, or of a poll): a section per alert
    with its own buttons while it fires. One alert renders as ``render_alert_message``."""
    if len(alerts) == 1:
        return render_alert_message(alerts[0], now=now)
    endpoints = sorted({alert.key.endpoint for alert in alerts})
    firing = sum(1 for alert in alerts if alert.state.status == "firing")
    if len(endpoints) == 1:
        title = messages.ALERT_GROUP_TITLE.format(count=len(alerts), endpoint=endpoints[0])
    else:
        title = messages.ALERT_GROUP_TITLE_MANY.format(count=len(alerts), endpoints=len(endpoints))
    blocks: list[Block] = [header(title)]
    fallbacks: list[str] = []
    for alert in alerts:
        text, notes, fallback = _body(alert, now)
        where = ""
        if len(endpoints) > 1:
            where = messages.ALERT_GROUP_ENDPOINT.format(endpoint=escape(alert.key.endpoint))
        label = alert_rule(alert).label()
        body = f"{where}*{label}* · {text}\n" + "\n".join(notes)
        blocks.append(section(truncate(body, 3000)))
        if alert.state.status == "firing":
            blocks.append(_buttons(alert, block_id=actions_block_id(alert)))
        fallbacks.append(fallback)
    blocks.append(
        context(messages.ALERT_GROUP_FOOTER.format(firing=firing, resolved=len(alerts) - firing))
    )
    fallback = messages.ALERT_GROUP_TEXT.format(title=title, alerts="; ".join(fallbacks))
    return Reply(text=fallback, blocks=tuple(blocks))


def render_alert_group_reply(notice: Notice, alerts: Sequence[StoredAlert]) -> Reply:
    """One reply in a grouped message's thread for several alerts' reminders or resolutions."""
    if len(alerts) == 1:
        return render_alert_reply(notice, alerts[0])
    lines = []
    for alert in alerts:
        fields = _fields(alert)
        what = messages.ALERT_GROUP_REPLY_LINE.format(
            deployment=fields["deployment"], label=fields["label"]
        )
        lines.append(what + render_alert_reply(notice, alert).text)
    text = "\n".join(lines)
    return Reply(text=truncate(text, 3000), blocks=(section(truncate(text, 3000)),))


def render_alert_reply(notice: Notice, alert: StoredAlert) -> Reply:
    """A reply in the alert message's thread: a reminder, or the resolution."""
    if is_source(alert.key):
        return _source_reply(alert)
    state, rule, fields = alert.state, alert_rule(alert), _fields(alert)
    if notice == "resolved":
        if state.value is None or rule.kind == "no_traffic":
            what = messages.ALERT_RESOLVED_NO_DATA if rule.kind != "no_traffic" else fields["value"]
        else:
            what = messages.ALERT_RESOLVED_VALUE.format(**fields)
        at = slack_time(state.resolved_at or _since(state))
        text = messages.ALERT_RESOLVED_REPLY.format(at=at, span=_firing_for(state), what=what)
    else:
        template = (
            messages.ALERT_REMINDER_NO_TRAFFIC
            if rule.kind == "no_traffic"
            else messages.ALERT_REMINDER
        )
        text = template.format(span=_firing_for(state), **fields)
    return Reply(text=text, blocks=(section(text),))


def _what(alert: StoredAlert) -> str:
    endpoint = alert.key.endpoint
    return messages.SOURCE_ALL if endpoint == SOURCE_ALL else escape(endpoint)


def _source_message(alert: StoredAlert) -> Reply:
    state, what = alert.state, _what(alert)
    if state.status == "resolved":
        title = messages.SOURCE_TITLE_BACK.format(what=what)
        at = slack_time(state.resolved_at or _since(state))
        text = messages.SOURCE_RECOVERED.format(at=at, span=_firing_for(state))
        fallback = messages.SOURCE_TEXT_BACK.format(what=what)
    else:
        title = messages.SOURCE_TITLE.format(what=what)
        detail = escape(state.detail or "")
        text = messages.SOURCE_FAILING.format(since=slack_time(_since(state)), detail=detail)
        fallback = messages.SOURCE_TEXT_FAILING.format(what=what, detail=detail)
    return Reply(text=fallback, blocks=(header(title), section(text)))


def _source_reply(alert: StoredAlert) -> Reply:
    state = alert.state
    at = slack_time(state.resolved_at or _since(state))
    text = messages.SOURCE_RECOVERED.format(at=at, span=_firing_for(state))
    return Reply(text=text, blocks=(section(text),))
