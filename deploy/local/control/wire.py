"""The control API's wire format, shared by the server (api.py) and LocalBackend (client.py).

Errors travel as ``{"error": {"code": <FlightdeckError.code>, "message": ...}}``
(plus ``log_lines`` for a failed deployment, ``file``/``key`` for a spec error)
and come back as the same exception class::

    exc = decode_error(encode_error(NotFoundError("no such endpoint")))
    assert isinstance(exc, NotFoundError)
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from deploy.errors import (
    ERRORS_BY_CODE,
    DeploymentFailedError,
    FlightdeckError,
    SpecError,
)
from deploy.types import InvokeResult

__all__ = [
    "INTERNAL_ERROR_CODE",
    "decode_error",
    "decode_invoke",
    "encode_error",
    "encode_invoke",
    "status_for",
]

#: The code of an unexpected failure inside the daemon (a bug, logged there).
INTERNAL_ERROR_CODE = "internal"

_STATUS_BY_CODE: dict[str, int] = {
    "invalid_spec": 400,
    "invalid_request": 400,
    "not_found": 404,
    "conflict": 409,
    "deployment_failed": 422,
    "backend_unavailable": 503,
    "permission_denied": 403,
    INTERNAL_ERROR_CODE: 500,
}


def status_for(code: str) -> int:
    """The HTTP status the control API answers an error ``code`` with."""
    return _STATUS_BY_CODE.get(code, 400)


def encode_error(exc: FlightdeckError) -> dict[str, Any]:
    """``exc`` as the body of an error answer."""
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if isinstance(exc, DeploymentFailedError):
        error["log_lines"] = list(exc.log_lines)
    if isinstance(exc, SpecError):
        error["file"] = exc.file
        error["key"] = exc.key
    return {"error": error}


def decode_error(body: Mapping[str, Any]) -> FlightdeckError:
    """The exception an error answer's body stands for (``FlightdeckError`` if unknown)."""
    error = body.get("error")
    if not isinstance(error, Mapping):
        return FlightdeckError("The local platform gave a malformed error answer.")
    code = str(error.get("code", ""))
    message = str(error.get("message", "")) or "The local platform reported an error."
    cls = ERRORS_BY_CODE.get(code, FlightdeckError)
    if cls is DeploymentFailedError:
        lines = error.get("log_lines") or []
        return DeploymentFailedError(message, log_lines=tuple(str(line) for line in lines))
    if cls is SpecError:
        # The message already names the file and key: keep it as is, restore the fields.
        spec_error = SpecError(message)
        spec_error.file = error.get("file")
        spec_error.key = error.get("key")
        return spec_error
    return cls(message)


def encode_invoke(result: InvokeResult) -> dict[str, Any]:
    """A scoring answer as JSON (the body base64-encoded: it may be any bytes)."""
    return {
        "status": result.status,
        "headers": dict(result.headers),
        "body_b64": base64.b64encode(result.body).decode("ascii"),
    }


def decode_invoke(data: Mapping[str, Any]) -> InvokeResult:
    """Rebuild ``encode_invoke``'s output."""
    return InvokeResult(
        status=int(data["status"]),
        headers={str(k): str(v) for k, v in dict(data["headers"]).items()},
        body=base64.b64decode(str(data["body_b64"])),
    )
