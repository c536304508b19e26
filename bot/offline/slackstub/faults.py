"""Failures a test (or the console) injects into the stand-in: what Slack does on a bad day.

Slack answers 429 with ``Retry-After`` when rate limited, sometimes 500/502/503/504 and
HTML error pages from its edge instead of JSON, answers slowly, or drops the connection
(https://api.slack.com/docs/rate-limits, https://status.slack.com/). Each fault applies
to the next calls of one method (``chat.postMessage``, ...), of ``upload`` (the
files_upload_v2 byte upload) or of ``response_url``.

    stub.inject("chat.postMessage", Fault.server_error(503), times=2)
    stub.inject("chat.update", Fault.html(502))
    stub.inject("files.completeUploadExternal", Fault.drop())
    stub.inject("chat.postMessage", Fault.ratelimited(retry_after=3))
    stub.inject("auth.test", Fault.slow(2.0))
    stub.inject("chat.postMessage", Fault.error("not_in_channel"))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["HTML_ERROR_PAGE", "Fault", "FaultKind"]

FaultKind = Literal["error", "ratelimited", "status", "html", "slow", "drop"]

#: What Slack's edge sends instead of JSON when it is in trouble.
HTML_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>Slack</title></head><body>"
    "<h1>Server Error</h1><p>Slack is having trouble. Please try again.</p></body></html>"
)


@dataclass(frozen=True, kw_only=True)
class Fault:
    """One injected failure; build with the class methods."""

    kind: FaultKind
    error: str = ""
    status: int = 200
    retry_after: int = 1
    seconds: float = 0.0

    @classmethod
    def error_code(cls, error: str) -> Fault:
        """HTTP 200 with ``{"ok": false, "error": error}``."""
        return cls(kind="error", error=error)

    @classmethod
    def ratelimited(cls, *, retry_after: int = 1) -> Fault:
        """HTTP 429, ``Retry-After: retry_after``, ``{"ok": false, "error": "ratelimited"}``."""
        return cls(kind="ratelimited", status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        """A 5xx with a JSON body ``{"ok": false, "error": "fatal_error"}``."""
        return cls(kind="status", status=status, error="fatal_error")

    @classmethod
    def html(cls, status: int = 503) -> Fault:
        """A ``text/html`` error page with this status, as Slack's edge sends."""
        return cls(kind="html", status=status)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, ``seconds`` late."""
        return cls(kind="slow", seconds=seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without answering."""
        return cls(kind="drop")
