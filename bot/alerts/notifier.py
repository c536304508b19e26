"""Alerts in Slack: the ``Notifier`` that posts them with the bot's Web API client.

- ``firing``: a message in the alert's channel (``chat.postMessage``, with the buttons),
  then a PNG chart of the last minutes in its thread (``files_upload_v2``);
- ``reminder``: a reply in the message's thread;
- ``resolved``: the message updated (``chat.update``, buttons gone) and a reply in its thread.

An alert whose message is unknown gets a new message instead of a reply. A call
Slack refuses raises ``NotDelivered`` (nothing was posted: the watcher tries again);
a chart that cannot be made or uploaded is logged and left out.

    notifier = SlackNotifier(client=services.slack.client)
    ts = await notifier.send(notice)
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from alerts import messages as alert_messages
from alerts.chart import render_alert_chart
from alerts.notifier import AlertNotice, NotDelivered, Notifier
from alerts.source import is_source
from alerts.store import StoredAlert
from bot.policy.access import slack_error
from commands.alerts_view import render_alert_message, render_alert_reply
from commands.reply import Reply

__all__ = ["SlackNotifier"]

log = logging.getLogger(__name__)


class SlackNotifier(Notifier):
    """Posts alert notices through an ``AsyncWebClient``."""

    def __init__(self, *, client: AsyncWebClient, charts: bool = True) -> None:
        self._client = client
        self._charts = charts

    async def send(self, notice: AlertNotice) -> str | None:
        alert, channel = notice.alert, notice.channel
        thread = alert.state.message_ts
        try:
            if notice.in_thread and thread is not None:
                if notice.notice == "resolved":
                    await self._update_quietly(channel, thread, render_alert_message(alert))
                await self._post(channel, render_alert_reply(notice.notice, alert), thread=thread)
                return None
            ts = await self._post(channel, render_alert_message(alert))
        except SlackApiError as exc:
            raise NotDelivered(slack_error(exc)) from None
        if self._charts and notice.chart and alert.rule is not None and not is_source(alert.key):
            await self._chart(notice, ts)
        return ts

    async def refresh(self, alert: StoredAlert, *, now: datetime) -> None:
        """Show the alert message as the alert is now (after a click); logged if it fails."""
        state = alert.state
        if state.channel and state.message_ts:
            await self._update_quietly(
                state.channel, state.message_ts, render_alert_message(alert, now=now)
            )

    async def _post(self, channel: str, reply: Reply, *, thread: str | None = None) -> str:
        answer = await self._client.chat_postMessage(
            channel=channel,
            text=reply.fallback_text(),
            blocks=reply.block_dicts(),
            thread_ts=thread,
        )
        return str(answer["ts"])

    async def _update_quietly(self, channel: str, ts: str, reply: Reply) -> None:
        try:
            await self._client.chat_update(
                channel=channel, ts=ts, text=reply.fallback_text(), blocks=reply.block_dicts()
            )
        except SlackApiError as exc:
            log.warning("could not update the alert message %s in %s: %s", ts, channel, exc)

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
            await self._client.files_upload_v2(
                channel=notice.channel,
                thread_ts=ts,
                content=png,
                filename=f"{key.endpoint}-{key.deployment}-{key.rule}.png",
                title=alert_messages.CHART_TITLE.format(
                    label=rule.label(), deployment=key.deployment, endpoint=key.endpoint
                ),
            )
        except Exception:
            log.warning("the chart of alert %s was not posted", key.as_id(), exc_info=True)
