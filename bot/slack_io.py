"""The bot's side of Slack's Web API: post, update, answer privately, upload a file.

Replies are ``commands.reply.Reply`` values. Private answers go to the request's
``response_url`` (ephemeral) when there is one, else through ``chat.postEphemeral``.
A message that shows progress is posted once and then updated (``ProgressMessage``),
never re-posted, and its updates are spaced by ``interval`` seconds. Writes to a
channel are paced per channel (``bot.pacing``); a file Slack refuses leaves a line
in its message saying which file and why; channels Slack refuses are recorded
(``bot.channel_health``) and said once to people who can act (``tell_once``).

    ts = await slack.post("C1", reply)
    await slack.update("C1", ts, other_reply)
    await slack.ephemeral(origin, notice("Done."))
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import messages
from bot.channel_health import UNDELIVERABLE, ChannelHealth
from bot.deliveries import DeliveryLog
from bot.errors import SlackError, SlackUnavailableError
from bot.pacing import ChannelPacer
from bot.policy.access import slack_error
from bot.slack_retries import slack_outage
from commands.blocks import MAX_BLOCKS, context, escape, section
from commands.reply import FileAttachment, Reply

__all__ = ["Origin", "ProgressMessage", "SlackIO"]

log = logging.getLogger(__name__)

#: The ``deliveries`` keys of the undeliverable channels already said (``tell_once``).
_TOLD = "undeliverable:"

#: Errors of chat.postMessage a user fixes by inviting the bot or picking another channel.
_CHANNEL_ERRORS = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}


@dataclass(frozen=True, kw_only=True)
class Origin:
    """Who asked, where, and where to answer privately."""

    user: str
    channel: str
    response_url: str | None = None


class SlackIO:
    """Posting the bot's replies through one ``AsyncWebClient``.

    Posts, thread replies, updates and file shares in a channel go through the
    channel's lane of ``pacer`` (Slack's rate, Retry-After, order kept); refusals that
    mean the channel is undeliverable are recorded in ``health``, and ``once`` (the bot's
    ``deliveries`` table) remembers which of them were said, across restarts and replicas.
    """

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        pacer: ChannelPacer | None = None,
        health: ChannelHealth | None = None,
        once: DeliveryLog | None = None,
    ) -> None:
        self.client = client
        self.pacer = pacer or ChannelPacer()
        self.health = health or ChannelHealth()
        self.once = once

    async def _send(
        self, channel: str, call: Callable[[], Awaitable[Any]], *, cost: float = 1.0
    ) -> Any:
        """``call`` in the channel's lane; an undeliverable channel is recorded, a post (not an
        update: ``cost`` 0) that goes through clears it."""
        try:
            answer = await self.pacer.send(channel, call, cost=cost)
        except SlackApiError as exc:
            error = slack_error(exc)
            if error in UNDELIVERABLE:
                needed = (
                    exc.response.data.get("needed") if isinstance(exc.response.data, dict) else None
                )
                self.health.record(channel, error, scope=str(needed) if needed else None)
            raise
        # An update of a message already there goes through where new posts do not (a bot
        # removed from the channel may still edit its messages): only a post clears.
        if cost > 0 and self.health.clear(channel) is not None:
            await self.channel_works(channel)
        return answer

    async def channel_works(self, channel: str) -> None:
        """``channel`` takes the bot's posts (again): a later refusal is news, said again."""
        if self.once is not None:
            await self.once.forget(f"{_TOLD}{channel}:")

    async def tell_once(
        self, channel: str, *, what: str, where: str, to: Sequence[str | None]
    ) -> bool:
        """Say that ``channel`` refuses the bot's posts (its problem in ``health``) and what to
        do, once: to the first of ``to`` (a channel, or a user id: a direct message) that takes
        it. True when said now.

        Once per channel and problem, across restarts and replicas (``once``; a problem
        that lasts is said again a day later), until a post to the channel goes through.
        ``what`` names what was not delivered; ``where`` the setting naming the channel.
        With no one to tell, it is logged (``/alerts`` shows it as a banner); when everyone
        refuses it, it is logged and said again next time.
        """
        problem = self.health.get(channel)
        if problem is None:
            return False
        key = f"{_TOLD}{channel}:{problem.error}:{problem.scope or ''}"
        if self.once is not None and not await self.once.first_time(key):
            return False
        text = messages.CHANNEL_ANNOUNCE.format(
            what=what, channel=channel, advice=problem.advice(where=where)
        )
        targets = [target for target in dict.fromkeys(to) if target and target != channel]
        for target in targets:
            try:
                await self.send_message(target, Reply(text=text, blocks=(section(text),)))
                log.info("said in %s that %s refuses posts (%s)", target, channel, problem.error)
                return True
            except SlackApiError as exc:
                log.warning("could not tell %s about %s: %s", target, channel, slack_error(exc))
            except (TimeoutError, OSError, aiohttp.ClientError, SlackRequestError) as exc:
                log.warning("could not tell %s about %s: %s", target, channel, _kind(exc))
        log.warning("%s refuses the bot's posts (%s); no one told in Slack", channel, problem.error)
        if targets and self.once is not None:
            await self.once.forget(key)
        return False

    async def send_message(
        self, channel: str, reply: Reply, *, thread_ts: str | None = None, broadcast: bool = False
    ) -> str:
        """``chat.postMessage`` of ``reply`` (its file is not sent); the new message's ts."""
        options: dict[str, Any] = {}
        if thread_ts is not None:
            options = {"thread_ts": thread_ts, "reply_broadcast": broadcast}
        answer = await self._send(
            channel,
            lambda: self.client.chat_postMessage(
                channel=channel, text=reply.fallback_text(), blocks=reply.block_dicts(), **options
            ),
        )
        return str(answer["ts"])

    async def post(self, channel: str, reply: Reply) -> str:
        """Post ``reply`` in ``channel``; the message's ts. A file that cannot be attached is
        named in the message with the reason (``attach``)."""
        try:
            ts = await self.send_message(channel, reply)
        except SlackApiError as exc:
            if slack_error(exc) in _CHANNEL_ERRORS:
                raise SlackError(messages.NOT_IN_CHANNEL) from None
            raise
        if reply.file is not None:
            await self.attach(channel, ts, reply)
        return ts

    async def reply(
        self, channel: str, thread_ts: str, reply: Reply, *, broadcast: bool = False
    ) -> str:
        """Post ``reply`` in the thread of ``thread_ts`` (also in the channel with
        ``broadcast``); its file, if any, goes in the thread too. The reply's ts."""
        ts = await self.send_message(channel, reply, thread_ts=thread_ts, broadcast=broadcast)
        if reply.file is not None:
            await self.attach(channel, ts, reply, thread_ts=thread_ts)
        return ts

    async def update(self, channel: str, ts: str, reply: Reply) -> None:
        """Replace the message ``ts`` with ``reply`` (its file, if any, is uploaded beside)."""
        await self.edit(channel, ts, reply)
        if reply.file is not None:
            await self.attach(channel, ts, reply)

    async def edit(self, channel: str, ts: str, reply: Reply) -> None:
        """``chat.update`` of the message ``ts`` (in the channel's lane, not rate-paced)."""
        await self._send(
            channel,
            lambda: self.client.chat_update(
                channel=channel, ts=ts, text=reply.fallback_text(), blocks=reply.block_dicts()
            ),
            cost=0,
        )

    async def attach(
        self, channel: str, ts: str, reply: Reply, *, thread_ts: str | None = None
    ) -> bool:
        """Upload ``reply.file`` beside the message ``ts``; when it is not shared, the message is
        updated to say which file is missing and why. True if shared."""
        file = reply.file
        assert file is not None
        why = await self.share(channel, file, thread_ts=thread_ts)
        if why is None:
            return True
        note = messages.FILE_NOT_ATTACHED.format(filename=escape(file.filename), why=why)
        noted = Reply(text=reply.text, blocks=(*reply.blocks[: MAX_BLOCKS - 1], context(note)))
        await self.edit_quietly(channel, ts, noted)
        return False

    async def share(
        self, channel: str, file: FileAttachment, *, thread_ts: str | None = None
    ) -> str | None:
        """``upload``, and ``None``; or, when Slack refuses it or cannot be reached, why (for
        people: mrkdwn, one sentence). Logged either way."""
        try:
            await self.upload(channel, file, thread_ts=thread_ts)
            return None
        except SlackApiError as exc:
            error = slack_error(exc)
            log.warning("the file %s was not attached in %s: %s", file.filename, channel, error)
            return messages.FILE_WHY.get(error, messages.FILE_WHY_OTHER.format(error=error))
        except (TimeoutError, OSError, aiohttp.ClientError, SlackRequestError) as exc:
            # The byte upload is not a Web API call: slack_sdk raises SlackRequestError for
            # its error status, and the transport's own errors for the rest.
            kind = _kind(exc)
            log.warning("the file %s was not attached in %s: %s", file.filename, channel, kind)
            return messages.FILE_WHY_NETWORK.format(kind=kind)

    async def edit_quietly(self, channel: str, ts: str, reply: Reply) -> bool:
        """``edit``; a refusal is logged, not raised. True if it went through."""
        try:
            await self.edit(channel, ts, reply)
            return True
        except SlackApiError as exc:
            log.warning("could not update the message %s in %s: %s", ts, channel, slack_error(exc))
            return False

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
        upload, files.completeUploadExternal (in the channel's lane: a share is a message)."""
        await self._send(
            channel,
            lambda: self.client.files_upload_v2(
                channel=channel,
                content=file.content,
                filename=file.filename,
                title=file.title,
                thread_ts=thread_ts,
            ),
        )


def _kind(exc: BaseException) -> str:
    """A transport failure for people: ``files_upload_v2``'s byte upload answered with an
    error status (``SlackRequestError``, "Failed to upload a file (status: 500, ...)"), a
    dropped connection, a timeout, a network error."""
    if isinstance(exc, SlackRequestError):
        status = re.search(r"status: (\d{3})", str(exc))
        if status is None:
            return messages.FILE_KIND_REFUSED
        return messages.FILE_KIND_STATUS.format(status=status.group(1))
    if isinstance(exc, aiohttp.ServerDisconnectedError | ConnectionResetError):
        return messages.FILE_KIND_DROPPED
    if isinstance(exc, TimeoutError):
        return messages.FILE_KIND_TIMEOUT
    return messages.FILE_KIND_NETWORK


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
        """The final version. When Slack fails even after the retries, a
        ``SlackUnavailableError`` says how the work ended (shown to the user privately)."""
        try:
            if self.ts is None:
                await self._slack.post(self.channel, reply)
            else:
                await self._slack.update(self.channel, self.ts, reply)
        except Exception as exc:
            why = slack_outage(exc)
            if why is None:
                raise
            outcome = reply.text  # shown through notice(), which escapes it
            text = messages.SLACK_UNAVAILABLE_UPDATE.format(why=why, outcome=outcome)
            raise SlackUnavailableError(text) from exc
