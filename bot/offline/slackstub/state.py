"""What the Slack stand-in records and remembers: calls, messages, ephemerals, files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ApiCall", "Directory", "Event", "StubChannel", "StubFile", "StubMessage"]


@dataclass(frozen=True, kw_only=True)
class ApiCall:
    """One request to the stand-in: a Web API method, an upload, or a response_url post."""

    index: int
    method: str
    body: Mapping[str, Any]
    token: str | None = None


@dataclass(kw_only=True)
class StubMessage:
    """A message as the channel shows it now; ``version`` counts its updates."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    user: str
    ephemeral_to: str | None = None
    version: int = 0
    thread_ts: str | None = None


@dataclass(frozen=True, kw_only=True)
class StubFile:
    """A file shared through files_upload_v2."""

    id: str
    filename: str
    title: str
    content: bytes
    channel: str | None = None
    #: Bytes received (``content`` keeps at most the stand-in's ``keep_bytes`` of them).
    size: int = 0
    thread_ts: str | None = None


@dataclass(kw_only=True)
class StubChannel:
    """A conversation: its members (the bot among them when invited), archived or not."""

    id: str
    name: str
    members: list[str]
    is_private: bool = False
    is_archived: bool = False


EventKind = Literal["posted", "updated", "ephemeral", "file"]


@dataclass(frozen=True, kw_only=True)
class Event:
    """Something a Slack user would see appear, in order."""

    index: int
    kind: EventKind
    channel: str
    ts: str | None = None
    user: str | None = None
    message: StubMessage | None = None
    file: StubFile | None = None


@dataclass(kw_only=True)
class Directory:
    """The workspace's people: user names, user groups by handle, channel members."""

    users: Mapping[str, str] = field(default_factory=dict)
    usergroups: Mapping[str, Sequence[str]] = field(default_factory=dict)
    channels: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def group_id(self, handle: str) -> str:
        """A stable user group id for ``handle`` (with or without ``@``)."""
        return "S" + "".join(c for c in handle.upper() if c.isalnum())[:10].ljust(8, "0")

    def usergroup_list(self) -> list[dict[str, Any]]:
        """``usergroups.list``'s answer."""
        return [
            {"id": self.group_id(h), "handle": h.lstrip("@"), "name": h.lstrip("@")}
            for h in self.usergroups
        ]

    def usergroup_users(self, group_id: str) -> list[str] | None:
        """Members of a user group by id; ``None`` when there is no such group."""
        for handle, members in self.usergroups.items():
            if self.group_id(handle) == group_id:
                return list(members)
        return None
