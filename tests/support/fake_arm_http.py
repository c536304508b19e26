"""Wire-level pieces of the fake Azure services: requests, replies, a credential.

The Azure SDK clients under test send ``azure.core`` requests to a transport;
these types turn them into something a fake service can route on, and turn the
fake's answers back into ``azure.core`` responses.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.utils import case_insensitive_dict

__all__ = ["Call", "FakeCredential", "FakeResponse", "Reply", "arm_error", "system_data"]


@dataclass(frozen=True)
class Call:
    """One request the SDK sent, as the fake (and the tests) see it."""

    method: str
    url: str
    host: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any

    @classmethod
    def from_request(cls, request: Any) -> Call:
        """Parse an ``azure.core`` request (rest or legacy)."""
        parts = urlsplit(request.url)
        raw = getattr(request, "content", None)
        if raw is None:
            raw = getattr(request, "body", None)
        if isinstance(raw, str):
            raw = raw.encode()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        return cls(
            method=request.method.upper(),
            url=request.url,
            host=parts.hostname or "",
            path=unquote(parts.path),
            query={k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)},
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )

    def path_endswith(self, suffix: str) -> bool:
        """True when the path ends with ``suffix`` (case-insensitive, as ARM is)."""
        return self.path.lower().endswith(suffix.lower())


@dataclass
class Reply:
    """A fake service's answer: status, JSON body (or None), headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def arm_error(status: int, code: str, message: str) -> Reply:
    """An error in ARM's shape: ``{"error": {"code", "message"}}``."""
    return Reply(status, {"error": {"code": code, "message": message}})


def system_data() -> dict[str, str]:
    """ARM's ``systemData`` of a resource made now (the SDK reads its dates)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    who = "flightdeck@example.com"
    return {
        "createdAt": now,
        "createdBy": who,
        "createdByType": "User",
        "lastModifiedAt": now,
        "lastModifiedBy": who,
        "lastModifiedByType": "User",
    }


class _Closable:
    def close(self) -> None:
        pass


class FakeResponse(HttpResponseImpl):
    """An ``azure.core`` response whose body is already in memory."""

    def __init__(self, request: Any, reply: Reply) -> None:
        headers = case_insensitive_dict(reply.headers)
        content = b""
        if isinstance(reply.body, bytes):
            content = reply.body  # e.g. Blob Storage's XML errors and blob contents
        elif reply.body is not None:
            content = json.dumps(reply.body).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        headers["Content-Length"] = str(len(content))
        headers.setdefault("x-ms-request-id", "00000000-0000-0000-0000-000000000000")
        super().__init__(
            request=request,
            internal_response=_Closable(),
            status_code=reply.status,
            reason="OK" if reply.status < 400 else "Error",
            content_type=headers.get("Content-Type"),
            headers=headers,
            stream_download_generator=None,
        )
        self._content = content


class FakeCredential:
    """A token credential that always has a valid token (the SDK only needs one)."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken("fake-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        self.scopes.extend(scopes)
        return AccessTokenInfo("fake-token", int(time.time()) + 3600)
