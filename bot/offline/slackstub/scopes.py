"""The OAuth scopes the stand-in's app was installed with, and what each method needs.

Slack answers ``{"ok": false, "error": "missing_scope", "needed": ..., "provided": ...}``
when the token lacks a method's scope (https://api.slack.com/scopes, each method's page
on api.slack.com/methods lists its scopes). The stand-in is installed with the scopes of
``slack/manifest.yml`` (``MANIFEST_SCOPES``; tests/bot/test_manifest.py keeps the two
equal), so a method the manifest forgets fails here as it would in a workspace.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["MANIFEST_SCOPES", "METHOD_SCOPES", "needed_scope"]

#: oauth_config.scopes.bot of slack/manifest.yml.
MANIFEST_SCOPES: frozenset[str] = frozenset(
    {"commands", "chat:write", "files:write", "usergroups:read", "channels:read", "groups:read"}
)

#: The scope each method needs (for a public channel; private ones need ``groups:read``).
METHOD_SCOPES: Mapping[str, str] = MappingProxyType(
    {
        "chat.postMessage": "chat:write",
        "chat.update": "chat:write",
        "chat.postEphemeral": "chat:write",
        "files.getUploadURLExternal": "files:write",
        "files.completeUploadExternal": "files:write",
        "usergroups.list": "usergroups:read",
        "usergroups.users.list": "usergroups:read",
        "conversations.members": "channels:read",
        "conversations.info": "channels:read",
    }
)

_PRIVATE_SCOPES = {"channels:read": "groups:read"}


def needed_scope(method: str, *, private: bool = False) -> str | None:
    """The scope ``method`` needs (on a private channel when ``private``); None for none."""
    scope = METHOD_SCOPES.get(method)
    if scope is not None and private:
        return _PRIVATE_SCOPES.get(scope, scope)
    return scope
