"""A plain HTTP exchange (any method, headers and body; one connection each) and comparison.

azmlinfsrv (gunicorn's sync worker) closes every connection, so each request opens its own.
:func:`assert_same` checks what a client relies on: status, body (after an optional
normalisation, e.g. dropping a measured latency), and the key headers.
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.support.azmlinfsrv import HOST, AzmlinfsrvProcess

KEY_HEADERS = (
    "content-type",
    "x-ms-run-function-failed",
    "x-ms-request-id",
    "x-ms-client-request-id",
    "traceid",
    "x-custom",
)


@dataclass(frozen=True)
class Answer:
    """Status, headers (lower-cased names; repeats joined with ", ") and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def exchange(
    server: AzmlinfsrvProcess,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """Send one request on a new connection and read the whole answer."""
    connection = http.client.HTTPConnection(HOST, server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        received: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            received[key] = f"{received[key]}, {value}" if key in received else value
        return Answer(response.status, received, response.read())
    finally:
        connection.close()


def post_json(server: AzmlinfsrvProcess, payload: Any, **headers: str) -> Answer:
    """POST ``payload`` as JSON to /score."""
    sent = {"Content-Type": "application/json", **headers}
    return exchange(server, "POST", "/score", body=json.dumps(payload).encode(), headers=sent)


def assert_same(
    azml: Answer, fast: Answer, *, normalise: Callable[[bytes], Any] | None = None
) -> None:
    """Both answers agree on status, body and key headers; run time reported by both or none."""
    assert fast.status == azml.status, (fast, azml)
    if normalise is None:
        assert fast.body == azml.body, (fast.body, azml.body)
    else:
        assert normalise(fast.body) == normalise(azml.body), (fast.body, azml.body)
    for name in KEY_HEADERS:
        assert _key_header(fast, name) == _key_header(azml, name), (name, fast, azml)
    assert ("x-ms-run-fn-exec-ms" in fast.headers) == ("x-ms-run-fn-exec-ms" in azml.headers)
    for answer in (azml, fast):
        if "x-ms-run-fn-exec-ms" in answer.headers:
            assert float(answer.headers["x-ms-run-fn-exec-ms"]) >= 0
    if "x-request-id" in azml.headers:
        assert "x-request-id" in fast.headers


def _key_header(answer: Answer, name: str) -> str | None:
    """The header's value, with a server-generated request id (a UUID4) written as a token."""
    value = answer.headers.get(name)
    generated = answer.headers.get("x-request-id")
    if value is None or generated is None or value != generated:
        return value
    try:
        is_uuid4 = uuid.UUID(generated).version == 4
    except ValueError:
        is_uuid4 = False
    return "<generated x-request-id>" if is_uuid4 else value


def without(*keys: str) -> Callable[[bytes], Any]:
    """A normaliser: the JSON body without ``keys`` (values that are measured, not computed)."""

    def normalise(body: bytes) -> Any:
        try:
            document = json.loads(body)
        except ValueError:
            return body
        if isinstance(document, dict):
            return {key: value for key, value in document.items() if key not in keys}
        return document

    return normalise
