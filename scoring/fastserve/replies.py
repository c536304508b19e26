"""What the server answers: a :class:`Reply`, and run()'s return value turned into one.

run() may return any JSON-serialisable value (answered as ``application/json``, status 200),
or a flask/werkzeug response such as azmlinfsrv's ``AMLResponse`` (answered as it is, with
``x-ms-run-function-failed: True`` added when its status is 500 or more), exactly as
azmlinfsrv does.

Usage::

    reply = from_output(run_output)             # TypeError if the value is not JSON-able
    reply = error_reply(400, "POST body should be a JSON dictionary.")
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json"
TEXT_TYPE = "text/html; charset=utf-8"
FAILED_HEADER = "x-ms-run-function-failed"
EXEC_MS_HEADER = "x-ms-run-fn-exec-ms"


@dataclass(kw_only=True, slots=True)
class Reply:
    """An answer: status, content type, body and extra headers (in order, repeats allowed)."""

    status: int
    body: bytes
    content_type: str | None = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_reply(value: Any, status: int = 200, *, run_failed: bool = False) -> Reply:
    """``value`` as JSON, with azmlinfsrv's ``x-ms-run-function-failed`` header."""
    return Reply(
        status=status,
        body=json.dumps(value).encode(),
        headers=[(FAILED_HEADER, "True" if run_failed else "False")],
    )


def error_reply(status: int, message: str, *, run_failed: bool = False) -> Reply:
    """azmlinfsrv's error answer: ``{"message": ...}``."""
    return json_reply({"message": message}, status, run_failed=run_failed)


def from_output(output: Any) -> Reply:
    """run()'s return value as an answer; TypeError/ValueError if it cannot be JSON."""
    response_type = _werkzeug_response_type()
    if response_type is not None and isinstance(output, response_type):
        return _from_response(output)
    return json_reply(output)


def _werkzeug_response_type() -> type[Any] | None:
    """werkzeug's Response class, if a script imported it (AMLResponse derives from it)."""
    module = sys.modules.get("werkzeug.wrappers.response")
    response_type = getattr(module, "Response", None)
    return response_type if isinstance(response_type, type) else None


def _from_response(response: Any) -> Reply:
    headers: list[tuple[str, str]] = []
    content_type: str | None = None
    for name, value in response.headers.items():
        lowered = name.lower()
        if lowered == "content-type":
            content_type = str(value)
        elif lowered != "content-length":
            headers.append((name, str(value)))
    status = int(response.status_code)
    if status >= 500:
        headers = [(name, value) for name, value in headers if name.lower() != FAILED_HEADER]
        headers.append((FAILED_HEADER, "True"))
    return Reply(
        status=status, body=bytes(response.get_data()), content_type=content_type, headers=headers
    )
