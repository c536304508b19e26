"""The bot's side of Slack's Web API: post, update, answer privately, upload a file.

Replies are ``commands.reply.Reply`` values. Private answers go to the request's
``response_url`` (ephemeral) when there is one, else through ``chat.postEphemeral``.
A message that shows progress is posted once and then updated (``ProgressMessage``),
never re-posted, and its updates are spaced by ``interval`` seconds.

    ts = await slack.post("C1", reply)
    await slack.update("C1", ts, other_reply)
    await slack.ephemeral(origin, notice("Done."))
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import messages
from bot.errors import SlackError
from bot.policy.access import slack_error
from commands.reply import FileAttachment, Reply

__all__ = ["Origin", "ProgressMessage", "SlackIO"]

log = logging.getLogger(__name__)

#: Errors of chat.postMessage a user fixes by inviting the bot or picking another channel.
_CHANNEL_ERRORS = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}


@dataclass(frozen=True, kw_only=True)
class Origin:
    """Who asked, where, and where to answer privately."""

    user: str
    channel: str
    response_url: str | None = None


class SlackIO:
    """Posting the bot's replies through one ``AsyncWebClient``."""

    def __init__(self, *, client: AsyncWebClient) -> None:
        self.client = client

    async def post(self, channel: str, reply: Reply) -> str:
        """Post ``reply`` in ``channel``; the message's ts."""
        try:
            answer = await self.client.chat_postMessage(
                channel=channel, text=reply.fallback_text(), blocks=reply.block_dicts()
            )
        except SlackApiError as exc:
            if slack_error(exc) in _CHANNEL_ERRORS:
                raise SlackError(messages.NOT_IN_CHANNEL) from None
            raise
        if reply.file is not None:
            await self.upload(channel, reply.file)
        return str(answer["ts"])

    async def reply(
        self, channel: str, thread_ts: str, reply: Reply, *, broadcast: bool = False
    ) -> str:
        """Post ``reply`` in the thread of ``thread_ts`` (also in the channel with
        ``broadcast``); its file, if any, goes in the thread too. The reply's ts."""
        answer = await self.client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            reply_broadcast=broadcast,
            text=reply.fallback_text(),
            blocks=reply.block_dicts(),
        )
        if reply.file is not None:
            await self.upload(channel, reply.file, thread_ts=thread_ts)
        return str(answer["ts"])

    async def update(self, channel: str, ts: str, reply: Reply) -> None:
        """Replace the message ``ts`` with ``reply`` (its file, if any, is uploaded beside)."""
        await self.client.chat_update(
            channel=channel, ts=ts, text=reply.fallback_text(), blocks=reply.block_dicts()
        )
        if reply.file is not None:
            await self.upload(channel, reply.file)

    async def ephemeral(self, origin: Origin, reply: Reply) -> None:
        """Answer only the user who asked."""
        if origin.response_url:
            webhook = AsyncWebhookClient(origin.response_url)
            response = await webhook.send(
                text=reply.fallback_text(),
                blocks=reply.block_dicts(),
                response_type="ephemeral",
                replace_original=False,
            )
            if response.status_code == 200:
                return
            log.warning("response_url answered %s; posting ephemerally", response.status_code)
        await self.client.chat_postEphemeral(
            channel=origin.channel,
            user=origin.user,
            text=reply.fallback_text(),
            blocks=reply.block_dicts(),
        )

    async def upload(
        self, channel: str, file: FileAttachment, *, thread_ts: str | None = None
    ) -> None:
        """Share a file in ``channel`` (or a thread of it): files.getUploadURLExternal, the
        upload, files.completeUploadExternal."""
        await self.client.files_upload_v2(
            channel=channel,
            content=file.content,
            filename=file.filename,
            title=file.title,
            thread_ts=thread_ts,
        )


class ProgressMessage:
    """One message, posted at start and updated as progress lines arrive."""

    def __init__(
        self,
        *,
        slack: SlackIO,
        channel: str,
        render: Callable[[Sequence[str]], Reply],
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slack = slack
        self.channel = channel
        self._render = render
        self._interval = interval
        self._clock = clock
        self.lines: list[str] = []
        self.ts: str | None = None
        self._last = 0.0

    async def start(self) -> str:
        """Post the first version; its ts."""
        self.ts = await self._slack.post(self.channel, self._render(self.lines))
        self._last = self._clock()
        return self.ts

    async def line(self, text: str) -> None:
        """Add a line; update the message unless the last update is too recent."""
        self.lines.append(text)
        if self.ts is None or self._clock() - self._last < self._interval:
            return
        self._last = self._clock()
        try:
            await self._slack.update(self.channel, self.ts, self._render(self.lines))
        except SlackApiError as exc:
            # Progress is best effort: the final update says how it ended.
            log.warning("progress update failed: %s", slack_error(exc))

    async def finish(self, reply: Reply) -> None:
        """The final version."""
        if self.ts is None:
            await self._slack.post(self.channel, reply)
            return
        await self._slack.update(self.channel, self.ts, reply)
