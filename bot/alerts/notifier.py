"""Alerts in Slack: the ``Notifier`` that posts them through the bot's ``SlackIO``.

- ``firing``: a message in the alert's channel (``chat.postMessage``, with the buttons),
  then a PNG chart of the last minutes in its thread (``files_upload_v2``);
- ``reminder``: a reply in the message's thread;
- ``resolved``: the message updated (``chat.update``, buttons gone) and a reply in its thread.

Groups (``send_group``): the alerts that fire in one poll on one endpoint (or in the
whole poll, ``alerts.group_by: poll``) share one message, with a section and a row of
buttons per alert and each alert's chart in its thread; reminders and resolutions of
one message share one reply. A click re-renders the whole message (every alert it shows).

Posts go through ``SlackIO``, so they are paced per channel (Slack's rate and
Retry-After) and a channel Slack refuses is recorded in ``SlackIO.health`` (shown by
``/alerts``) and said once (``SlackIO.tell_once``) in the endpoint's deploy channel
(where its latest slash command ran, from the audit log), else in ``alerts.channel``.
An alert whose message is unknown gets a new message instead of a reply. A call Slack
refuses raises ``NotDelivered`` (nothing was posted: the watcher tries again); a chart
that cannot be made or uploaded is logged and left out.

    notifier = SlackNotifier(slack=services.slack, store=services.alert_store,
                             audit=services.audit, settings=services.alert_settings)
    ts = await notifier.send(notice)
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from slack_sdk.errors import SlackApiError

from alerts import messages as alert_messages
from alerts.chart import render_alert_chart
from alerts.notifier import AlertNotice, NotDelivered, NoticeGroup, Notifier
from alerts.settings import AlertSettings
from alerts.source import is_source
from alerts.store import AlertStore, StoredAlert
from bot import messages
from bot.channel_health import UNDELIVERABLE, setting_for
from bot.policy.access import slack_error
from bot.policy.audit import AuditLog
from bot.slack_io import SlackIO
from commands.alerts_view import (
    render_alert_group,
    render_alert_group_reply,
    render_alert_message,
)
from commands.reply import FileAttachment

__all__ = ["SlackNotifier"]

log = logging.getLogger(__name__)


class SlackNotifier(Notifier):
    """Posts alert notices, alone or grouped, through ``SlackIO``.

    ``store`` lets a click re-render a grouped message with every alert it shows; ``audit``
    and ``settings`` say where to tell people once that an alerts channel refuses posts.
    """

    groups = True

    def __init__(
        self,
        *,
        slack: SlackIO,
        store: AlertStore | None = None,
        charts: bool = True,
        audit: AuditLog | None = None,
        settings: AlertSettings | None = None,
    ):
        self._slack = slack
        self._store = store
        self._charts = charts
        self._audit = audit
        self._settings = settings

    async def send(self, notice: AlertNotice) -> str | None:
        return await self.send_group(NoticeGroup(notices=(notice,)))

    async def send_group(self, group: NoticeGroup) -> str | None:
        alerts = [notice.alert for notice in group.notices]
        channel, thread = group.channel, group.thread
        try:
            if thread is not None:
                if group.notice == "resolved":
                    await self._refresh_message(channel, thread, alerts)
                reply = render_alert_group_reply(group.notice, alerts)
                await self._slack.send_message(channel, reply, thread_ts=thread)
                return None
            ts = await self._slack.send_message(channel, render_alert_group(alerts))
        except SlackApiError as exc:
            error = slack_error(exc)
            if error in UNDELIVERABLE:
                await self._tell_once(group)
            raise NotDelivered(error) from None
        for notice in group.notices:
            alert = notice.alert
            if (
                self._charts
                and notice.chart
                and alert.rule is not None
                and not is_source(alert.key)
            ):
                await self._chart(notice, ts)
        return ts

    async def _tell_once(self, group: NoticeGroup) -> None:
        """Say once, where people work on these endpoints, that their alerts do not arrive."""
        channel = group.channel
        endpoints = sorted({notice.alert.key.endpoint for notice in group.notices})
        try:
            targets: list[str | None] = []
            if self._audit is not None:
                for endpoint in endpoints:
                    targets.append(await self._audit.last_channel(endpoint, besides=channel))
            if self._settings is not None:
                targets.append(self._settings.channel)
            what = messages.CHANNEL_WHAT_ALERTS.format(endpoints=", ".join(endpoints))
            await self._slack.tell_once(
                channel, what=what, where=setting_for(channel, self._settings), to=targets
            )
        except Exception:
            log.warning("could not say that %s refuses the alerts", channel, exc_info=True)

    async def refresh(self, alert: StoredAlert, *, now: datetime) -> None:
        """Show the alert's message as it is now (after a click); logged if it fails."""
        state = alert.state
        if state.channel and state.message_ts:
            await self._refresh_message(state.channel, state.message_ts, [alert], now=now)

    async def _refresh_message(
        self, channel: str, ts: str, alerts: list[StoredAlert], *, now: datetime | None = None
    ) -> None:
        """Re-render the message ``ts`` with every alert it shows (these ones as given)."""
        shown = list(alerts)
        if self._store is not None:
            given = {alert.key: alert for alert in alerts}
            stored = await self._store.by_message(channel, ts)
            shown = [given.pop(a.key, a) for a in stored] + list(given.values())
        reply = render_alert_group(shown, now=now) if len(shown) > 1 else None
        if reply is None:
            reply = render_alert_message(shown[0], now=now)
        await self._slack.edit_quietly(channel, ts, reply)

    async def _chart(self, notice: AlertNotice, ts: str) -> None:
        alert = notice.alert
        key, rule = alert.key, alert.rule
        assert rule is not None
        try:
            png = await asyncio.to_thread(
                render_alert_chart,
                notice.chart,
                rule=rule,
                endpoint=key.endpoint,
                deployment=key.deployment,
            )
            title = alert_messages.CHART_TITLE.format(
                label=rule.label(), deployment=key.deployment, endpoint=key.endpoint
            )
            attachment = FileAttachment(
                filename=f"{key.endpoint}-{key.deployment}-{key.rule}.png", title=title, content=png
            )
            why = await self._slack.share(notice.channel, attachment, thread_ts=ts)
            if why is not None:
                log.warning("the chart of alert %s was not posted: %s", key.as_id(), why)
        except Exception:
            log.warning("the chart of alert %s was not posted", key.as_id(), exc_info=True)
