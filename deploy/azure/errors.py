"""Azure SDK exceptions as Flightdeck's domain errors.

    Azure                                         Flightdeck
    ClientAuthenticationError (401, no login)  -> BackendUnavailableError (how to sign in)
    403 AuthorizationFailed                    -> PermissionDeniedError (the roles needed)
    404 / ResourceNotFoundError                -> NotFoundError (what is missing)
    quota (OutOfQuota, "Not enough quota")     -> ValidationError (ask for quota, go smaller)
    409 / ResourceExistsError                  -> ConflictError
    429 (throttled past the SDK's retries)     -> BackendUnavailableError (try again later)
    other 4xx, SDK ValidationException         -> ValidationError (the service's message)
    an operation that ended "Failed"           -> FlightdeckError (the service's message)
    5xx, connection errors                     -> BackendUnavailableError

Anything else is a bug and propagates with its traceback to the edge.
"""

from __future__ import annotations

from typing import Any

from azure.ai.ml.exceptions import MlException
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from deploy.azure import messages
from deploy.errors import (
    BackendUnavailableError,
    ConflictError,
    FlightdeckError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)

__all__ = ["error_code", "error_detail", "is_quota", "translate"]

_QUOTA_CODES = {"outofquota", "quotaexceeded", "outofcapacity", "subscriptionquotaexceeded"}


def translate(exc: BaseException, *, not_found: str | None) -> FlightdeckError | None:
    """The domain error for ``exc``, or ``None`` when it is not a known Azure failure.

    ``not_found`` is the message for a 404 (it names what the caller looked for);
    without one, the service's message is used.
    """
    if isinstance(exc, FlightdeckError):
        return exc
    if isinstance(exc, ClientAuthenticationError):
        return BackendUnavailableError(messages.AUTH_FAILED.format(detail=error_detail(exc)))
    if isinstance(exc, HttpResponseError):
        return _from_status(exc, not_found)
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return BackendUnavailableError(messages.UNREACHABLE.format(detail=error_detail(exc)))
    if isinstance(exc, MlException):
        return ValidationError(messages.REFUSED.format(detail=error_detail(exc)))
    return None


def _from_status(exc: HttpResponseError, not_found: str | None) -> FlightdeckError:
    status = exc.status_code or 0
    detail = error_detail(exc)
    if status < 400:
        # A long-running operation that ended "Failed" (its status call answered 200).
        return FlightdeckError(messages.OPERATION_FAILED.format(detail=detail))
    if status == 403:
        return PermissionDeniedError(messages.FORBIDDEN.format(detail=detail))
    if status == 404 or isinstance(exc, ResourceNotFoundError):
        return NotFoundError(not_found or detail)
    if is_quota(exc):
        return ValidationError(messages.QUOTA.format(detail=detail))
    if status == 429:
        return BackendUnavailableError(messages.THROTTLED.format(detail=detail))
    if status == 409 or isinstance(exc, ResourceExistsError):
        return ConflictError(messages.CONFLICT.format(detail=detail))
    if 400 <= status < 500:
        return ValidationError(messages.REFUSED.format(detail=detail))
    return BackendUnavailableError(messages.UNREACHABLE.format(detail=detail))


def is_quota(exc: BaseException) -> bool:
    """True when Azure refused for lack of quota or capacity."""
    code = (error_code(exc) or "").lower()
    return code in _QUOTA_CODES or "quota" in error_detail(exc).lower()


def error_code(exc: BaseException) -> str | None:
    """The ARM error code (``AuthorizationFailed``, ``BadArgument``...), if any."""
    error: Any = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    return str(code) if code else None


def error_detail(exc: BaseException) -> str:
    """The service's message without the SDK's decorations: one or two lines."""
    error: Any = getattr(exc, "error", None)
    message = getattr(error, "message", None)
    if not message:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    # The SDK formats errors as "(Code) message\nCode: ...\nMessage: ..."; keep the first.
    text = lines[0] if lines else type(exc).__name__
    if text.startswith("(") and ") " in text:
        text = text.split(") ", 1)[1]
    return text if text.endswith((".", "!", "?")) else f"{text}."
