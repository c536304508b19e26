"""Requests as Slack sends them to the app: slash commands and ``block_actions``, signed.

The console and the tests build their requests here, in the shapes Slack documents:
a slash command is form-encoded fields; a click is a form field ``payload`` holding
JSON. ``signed_headers`` signs a raw body as Slack does
(``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the signing secret).

    body = encode_form(slash_command(command="/traffic", text="pr", user_id="U1", ...))
    headers = signed_headers(secret, body)
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

__all__ = [
    "block_actions",
    "encode_form",
    "encode_payload",
    "signed_headers",
    "slash_command",
]


def slash_command(
    *,
    command: str,
    text: str,
    user_id: str,
    user_name: str,
    channel_id: str,
    channel_name: str,
    response_url: str,
    team_id: str = "T0FLIGHTDK",
    api_app_id: str = "A0FLIGHTDK",
) -> dict[str, str]:
    """The form fields of a slash command."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": "flightdeck",
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{int(time.time())}.{secrets.token_hex(6)}",
    }


def block_actions(
    *,
    user_id: str,
    user_name: str,
    channel_id: str,
    channel_name: str,
    message: Mapping[str, Any],
    block_id: str,
    action: Mapping[str, Any],
    response_url: str,
    is_ephemeral: bool = False,
    team_id: str = "T0FLIGHTDK",
    api_app_id: str = "A0FLIGHTDK",
    action_ts: str | None = None,
) -> dict[str, Any]:
    """The ``payload`` of a button click on ``message`` (its ``ts`` and ``blocks``)."""
    clicked = {
        "type": "button",
        "block_id": block_id,
        "action_id": action["action_id"],
        "text": action.get("text", {"type": "plain_text", "text": ""}),
        "value": action.get("value", ""),
        "action_ts": action_ts or f"{time.time():.6f}",
    }
    if "style" in action:
        clicked["style"] = action["style"]
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message.get("ts"),
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": f"{int(time.time())}.{secrets.token_hex(6)}",
        "team": {"id": team_id, "domain": "flightdeck"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "message": dict(message),
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [clicked],
    }


def encode_form(fields: Mapping[str, str]) -> str:
    """``application/x-www-form-urlencoded``."""
    return urlencode(fields)


def encode_payload(payload: Mapping[str, Any]) -> str:
    """A ``block_actions`` payload as Slack posts it: form field ``payload`` holding JSON."""
    return urlencode({"payload": json.dumps(payload)})


def signed_headers(
    signing_secret: str, body: str, *, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's request headers for ``body``: content type, timestamp, signature."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    verifier = SignatureVerifier(signing_secret)
    signature = verifier.generate_signature(timestamp=stamp, body=body) or ""
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }
