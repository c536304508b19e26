"""The access policy: who may deploy, scale and request traffic shifts, and who may approve.

Entries in ``access.deployers`` / ``access.approvers``:

- ``U0123ABCD`` (or ``W...``): a Slack user;
- ``@ml-platform``: the members of the user group with that handle, and ``S0123ABCD``: of
  the user group with that id (``usergroups.list`` / ``usergroups.users.list``);
- ``C0123ABCD`` (or ``G...``): the members of that channel (``conversations.members``);
- ``"*"``: everyone.

Group and channel memberships are asked of Slack and cached for ``ttl`` seconds.
Read-only commands need no grant. Without an ``access`` section, write commands
are refused with a message saying how to grant them.

    policy = AccessPolicy(settings=settings.access, directory=SlackDirectory(client=client))
    await policy.require(user_id, "deploy")     # AccessDeniedError when not allowed
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.config import AccessSettings
from bot.errors import AccessDeniedError

__all__ = ["AccessPolicy", "Directory", "Role", "SlackDirectory"]

log = logging.getLogger(__name__)

Role = Literal["deploy", "approve"]


class Directory(Protocol):
    """Who is in a user group or a channel."""

    async def usergroup_members(self, group: str) -> frozenset[str]:
        """Members of a user group given as ``@handle`` or id."""
        ...

    async def channel_members(self, channel: str) -> frozenset[str]:
        """Members of a channel."""
        ...


class SlackDirectory:
    """``Directory`` through the Slack Web API, cached for ``ttl`` seconds."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    def _cached(self, key: str) -> frozenset[str] | None:
        hit = self._cache.get(key)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        return None

    def _store(self, key: str, members: frozenset[str]) -> frozenset[str]:
        self._cache[key] = (self._clock(), members)
        return members

    async def usergroup_members(self, group: str) -> frozenset[str]:
        """Members of ``@handle`` or ``S...``; empty (and logged) when Slack cannot tell."""
        key = f"group:{group}"
        cached = self._cached(key)
        if cached is not None:
            return cached
        try:
            group_id = group
            if group.startswith("@"):
                listing = await self._client.usergroups_list()
                ids = {g.get("handle"): g.get("id") for g in listing.get("usergroups") or []}
                found = ids.get(group[1:])
                if not found:
                    log.warning("user group %s not found in the workspace", group)
                    return self._store(key, frozenset())
                group_id = str(found)
            answer = await self._client.usergroups_users_list(usergroup=group_id)
            return self._store(key, frozenset(answer.get("users") or []))
        except SlackApiError as exc:
            log.warning("cannot read user group %s: %s", group, slack_error(exc))
            return frozenset()

    async def channel_members(self, channel: str) -> frozenset[str]:
        """Members of ``channel``; empty (and logged) when Slack cannot tell."""
        key = f"channel:{channel}"
        cached = self._cached(key)
        if cached is not None:
            return cached
        members: set[str] = set()
        cursor: str | None = None
        try:
            while True:
                answer = await self._client.conversations_members(
                    channel=channel, cursor=cursor, limit=1000
                )
                members.update(answer.get("members") or [])
                cursor = (answer.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except SlackApiError as exc:
            log.warning("cannot read channel %s members: %s", channel, slack_error(exc))
            return frozenset()
        return self._store(key, frozenset(members))


def slack_error(exc: SlackApiError) -> str:
    """The ``error`` code of a failed call (or its HTTP status when the answer was not JSON)."""
    data = exc.response.data
    if isinstance(data, dict):
        return str(data.get("error"))
    return f"HTTP {exc.response.status_code}"


_ROLE_KEYS: dict[Role, str] = {"deploy": "deployers", "approve": "approvers"}


class AccessPolicy:
    """Checks a user against ``access.deployers`` or ``access.approvers``."""

    def __init__(self, *, settings: AccessSettings | None, directory: Directory) -> None:
        self.settings = settings
        self._directory = directory

    @property
    def allow_self_approval(self) -> bool:
        """Whether a requester may approve their own request."""
        return bool(self.settings and self.settings.allow_self_approval)

    def entries(self, role: Role) -> tuple[str, ...]:
        """The configured entries for ``role``."""
        if self.settings is None:
            return ()
        return self.settings.deployers if role == "deploy" else self.settings.approvers

    async def allows(self, user: str, role: Role) -> bool:
        """True when ``user`` matches an entry of ``role``."""
        for entry in self.entries(role):
            if entry in ("*", user):
                return True
            if entry.startswith(("@", "S")) and user in await self._directory.usergroup_members(
                entry
            ):
                return True
            if entry.startswith(("C", "G")) and user in await self._directory.channel_members(
                entry
            ):
                return True
        return False

    async def require(self, user: str, role: Role) -> None:
        """Return when allowed; ``AccessDeniedError`` saying how to get the grant otherwise."""
        if self.settings is None:
            raise AccessDeniedError(messages.NO_POLICY.format(user=user))
        if await self.allows(user, role):
            return
        key = _ROLE_KEYS[role]
        entries = self.entries(role)
        if not entries:
            raise AccessDeniedError(messages.ROLE_EMPTY.format(key=key, user=user))
        what = messages.ROLE_WHAT[role]
        raise AccessDeniedError(
            messages.DENIED.format(
                user=user, what=what, key=key, entries=", ".join(f"`{e}`" for e in entries)
            )
        )
