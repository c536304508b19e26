"""The stand-in's workspace: channels, messages, files, and the Web API methods on them.

Each method answers as its page on api.slack.com/methods documents, errors included:

- ``chat.postMessage`` (https://api.slack.com/methods/chat.postMessage#errors):
  ``channel_not_found``, ``not_in_channel`` (the bot was not invited; the manifest has no
  ``chat:write.public``), ``is_archived``, ``no_text``, ``msg_too_long``,
  ``invalid_blocks``, ``invalid_blocks_format``.
- ``chat.update``: ``message_not_found``, ``cant_update_message`` (an ephemeral),
  ``no_text``, the block errors; ``invalid_arguments`` without ``channel`` or ``ts``.
- ``chat.postEphemeral``: ``user_not_in_channel`` when the user is not a member.
- ``conversations.members`` pages by ``cursor`` and ``limit`` (default 100, at most
  1000) with ``response_metadata.next_cursor``; ``usergroups.users.list`` pages the
  same way here; ``invalid_cursor`` for a cursor it did not give.
- ``conversations.info``: ``is_member``, ``is_archived``, ``is_private`` of a channel.
- files_upload_v2's ``files.getUploadURLExternal`` (``invalid_arguments`` without
  ``filename`` or ``length``; ``file_size_exceeded`` above 1 GB, Slack's limit per file:
  https://slack.com/help/articles/201330736) and ``files.completeUploadExternal``.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from bot.offline.slackstub.checks import Refusal, check_blocks, check_text
from bot.offline.slackstub.state import (
    Directory,
    Event,
    EventKind,
    StubChannel,
    StubFile,
    StubMessage,
)
from bot.offline.slackstub.wire import message_json

__all__ = ["MAX_FILE_BYTES", "Answer", "Workspace"]

Answer = dict[str, Any]

#: Slack's limit for one file (1 GB).
MAX_FILE_BYTES = 1_000_000_000


def _cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _page(items: Sequence[str], body: dict[str, Any], *, default: int) -> tuple[list[str], str]:
    """One page of ``items`` for ``cursor``/``limit`` and the next cursor ("" at the end)."""
    try:
        limit = min(int(body.get("limit") or default), 1000)
    except ValueError:
        raise Refusal("invalid_limit") from None
    offset = 0
    cursor = str(body.get("cursor") or "")
    if cursor:
        try:
            offset = int(base64.b64decode(cursor).decode().removeprefix("offset:"))
        except ValueError:
            raise Refusal("invalid_cursor") from None
    end = offset + max(limit, 1)
    return list(items[offset:end]), _cursor(end) if end < len(items) else ""


class Workspace:
    """Channels, messages, ephemerals and files, and the methods that change them."""

    def __init__(
        self,
        *,
        directory: Directory,
        bot_user_id: str,
        base_url: Callable[[], str],
        invited: bool = True,
        page_size: int = 100,
        keep_bytes: int = 16 * 2**20,
    ) -> None:
        self.directory = directory
        self.bot_user_id = bot_user_id
        self.page_size = page_size
        self.keep_bytes = keep_bytes
        self._base_url = base_url
        self.events: list[Event] = []
        self.messages: dict[tuple[str, str], StubMessage] = {}
        self.files: dict[str, StubFile] = {}
        self.pending_files: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, StubChannel] = {}
        self._ts = itertools.count(1)
        for channel_id, members in directory.channels.items():
            self.add_channel(channel_id, members=members, bot=invited)

    # ------------------------------------------------------------ channels

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        members: Sequence[str] = (),
        bot: bool = True,
        private: bool = False,
    ) -> StubChannel:
        """A channel (replacing one with the same id); the bot is a member when ``bot``."""
        people = list(members) + ([self.bot_user_id] if bot else [])
        channel = StubChannel(
            id=channel_id,
            name=name or channel_id.lower(),
            members=list(dict.fromkeys(people)),
            is_private=private,
        )
        self.channels[channel_id] = channel
        return channel

    def dm_channel(self, user: str) -> str:
        """The id of the bot's direct-message channel with ``user``."""
        return "D" + user[1:]

    def _channel(self, channel_id: str) -> StubChannel:
        """The channel the bot may post in; a DM when given a user id."""
        if channel_id[:1] in ("U", "W") and channel_id in self.directory.users:
            dm = self.dm_channel(channel_id)
            if dm not in self.channels:
                self.add_channel(dm, name=channel_id, members=[channel_id], private=True)
            channel_id = dm
        channel = self.channels.get(channel_id)
        if channel is None or (channel.is_private and self.bot_user_id not in channel.members):
            raise Refusal("channel_not_found")
        if channel.is_archived:
            raise Refusal("is_archived")
        if self.bot_user_id not in channel.members:
            raise Refusal("not_in_channel")
        return channel

    # ------------------------------------------------------------ events

    def event(self, kind: EventKind, **fields: Any) -> None:
        """Record something a user would see appear."""
        self.events.append(Event(index=len(self.events), kind=kind, **fields))

    def next_ts(self) -> str:
        """A fresh message ts, increasing."""
        return f"{int(time.time())}.{next(self._ts):06d}"

    def new_message(
        self, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None
    ) -> StubMessage:
        """A message posted in ``channel`` (in the thread of ``thread_ts``)."""
        ts = self.next_ts()
        message = StubMessage(
            channel=channel,
            ts=ts,
            text=text,
            blocks=blocks,
            user=self.bot_user_id,
            thread_ts=thread_ts,
        )
        self.messages[(channel, ts)] = message
        self.event("posted", channel=channel, ts=ts, message=message)
        return message

    def ephemeral(
        self, channel: str, user: str, text: str, blocks: list[dict[str, Any]]
    ) -> StubMessage:
        """A message only ``user`` sees."""
        message = StubMessage(
            channel=channel,
            ts=self.next_ts(),
            text=text,
            blocks=blocks,
            user=self.bot_user_id,
            ephemeral_to=user,
        )
        self.event("ephemeral", channel=channel, user=user, message=message)
        return message

    def change(self, message: StubMessage, *, text: str, blocks: list[dict[str, Any]]) -> None:
        """An update of ``message``."""
        message.text = text
        message.blocks = blocks
        message.version += 1
        self.event("updated", channel=message.channel, ts=message.ts, message=message)

    # ------------------------------------------------------------ methods

    def post_message(self, body: dict[str, Any]) -> Answer:
        """chat.postMessage."""
        channel = self._channel(str(body.get("channel") or ""))
        text, blocks = str(body.get("text") or ""), check_blocks(body.get("blocks"))
        check_text(text, blocks)
        thread = str(body.get("thread_ts") or "") or None
        message = self.new_message(channel.id, text, blocks, thread)
        return {
            "ok": True,
            "channel": channel.id,
            "ts": message.ts,
            "message": message_json(message),
        }

    def update(self, body: dict[str, Any]) -> Answer:
        """chat.update."""
        if not body.get("channel") or not body.get("ts"):
            raise Refusal("invalid_arguments", messages=["[ERROR] missing required field: ts"])
        key = (str(body["channel"]), str(body["ts"]))
        found = self.messages.get(key)
        if found is None:
            raise Refusal("message_not_found")
        if self.channels.get(key[0]) and self.channels[key[0]].is_archived:
            raise Refusal("is_archived")
        text, blocks = str(body.get("text") or ""), check_blocks(body.get("blocks"))
        check_text(text, blocks)
        self.change(found, text=text, blocks=blocks)
        return {"ok": True, "channel": key[0], "ts": key[1], "text": found.text}

    def post_ephemeral(self, body: dict[str, Any]) -> Answer:
        """chat.postEphemeral."""
        user = str(body.get("user") or "")
        if not user:
            raise Refusal("invalid_arguments", messages=["[ERROR] missing required field: user"])
        channel = self._channel(str(body.get("channel") or ""))
        if user not in channel.members:
            raise Refusal("user_not_in_channel")
        text, blocks = str(body.get("text") or ""), check_blocks(body.get("blocks"))
        check_text(text, blocks)
        message = self.ephemeral(channel.id, user, text, blocks)
        return {"ok": True, "message_ts": message.ts}

    def get_upload_url(self, body: dict[str, Any]) -> Answer:
        """files.getUploadURLExternal."""
        try:
            length = int(body.get("length") or 0)
        except ValueError:
            length = 0
        if not body.get("filename") or length <= 0:
            raise Refusal("invalid_arguments")
        if length > MAX_FILE_BYTES:
            raise Refusal("file_size_exceeded")
        file_id = "F" + secrets.token_hex(5).upper()
        self.pending_files[file_id] = {"filename": str(body["filename"]), "length": length}
        return {"ok": True, "upload_url": f"{self._base_url()}upload/{file_id}", "file_id": file_id}

    def complete_upload(self, body: dict[str, Any]) -> Answer:
        """files.completeUploadExternal (shared in ``channel_id`` when given)."""
        raw = body.get("files")
        try:
            items = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            items = None
        if not isinstance(items, list) or not items:
            raise Refusal("invalid_arguments")
        channel_id = str(body.get("channel_id") or body.get("channels") or "") or None
        channel = self._channel(channel_id) if channel_id else None
        thread = str(body.get("thread_ts") or "") or None
        done = []
        for item in items:
            pending = self.pending_files.pop(str(item.get("id")), None)
            if pending is None or "size" not in pending:
                raise Refusal("file_not_found")
            stub_file = StubFile(
                id=str(item["id"]),
                filename=pending["filename"],
                title=str(item.get("title") or pending["filename"]),
                content=pending["content"],
                size=pending["size"],
                channel=channel.id if channel else None,
                thread_ts=thread,
            )
            self.files[stub_file.id] = stub_file
            if channel is not None:
                self.event("file", channel=channel.id, ts=thread, file=stub_file)
            done.append({"id": stub_file.id, "title": stub_file.title, "name": stub_file.filename})
        return {"ok": True, "files": done}

    def usergroups_list(self, body: dict[str, Any]) -> Answer:
        """usergroups.list."""
        return {"ok": True, "usergroups": self.directory.usergroup_list()}

    def usergroups_users(self, body: dict[str, Any]) -> Answer:
        """usergroups.users.list, paged by cursor."""
        users = self.directory.usergroup_users(str(body.get("usergroup") or ""))
        if users is None:
            raise Refusal("no_such_subteam")
        page, cursor = _page(users, body, default=self.page_size)
        return {"ok": True, "users": page, "response_metadata": {"next_cursor": cursor}}

    def conversation(self, body: dict[str, Any]) -> StubChannel:
        """The channel a conversations.* call names (a private one only to a member)."""
        channel = self.channels.get(str(body.get("channel") or ""))
        if channel is None or (channel.is_private and self.bot_user_id not in channel.members):
            raise Refusal("channel_not_found")
        return channel

    def conversation_members(self, body: dict[str, Any]) -> Answer:
        """conversations.members, paged by cursor."""
        channel = self.conversation(body)
        page, cursor = _page(channel.members, body, default=self.page_size)
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}

    def conversation_info(self, body: dict[str, Any]) -> Answer:
        """conversations.info."""
        channel = self.conversation(body)
        return {
            "ok": True,
            "channel": {
                "id": channel.id,
                "name": channel.name,
                "is_channel": not channel.is_private,
                "is_group": channel.is_private,
                "is_private": channel.is_private,
                "is_archived": channel.is_archived,
                "is_member": self.bot_user_id in channel.members,
                "num_members": len(channel.members),
            },
        }
