"""Errors raised by deploy/ and the backends.

Two tiers, as everywhere in Flightdeck: a ``FlightdeckError`` carries a message a
user can act on and is shown as is (in Slack, in the CLI); anything else is a bug,
logged once with its traceback at the edge, and the user gets a short generic
message.

    FlightdeckError            (base.errors: the root of every package's errors)
     ├── SpecError              a YAML spec is invalid: names the file, the key, the reason
     ├── ValidationError        a request is invalid (names, weights, counts)
     ├── NotFoundError          an endpoint, deployment or model does not exist
     ├── ConflictError          exists already, or another operation is in progress
     ├── DeploymentFailedError  provisioning failed; carries the instances' last log lines
     ├── BackendUnavailableError the backend cannot be reached (daemon down, auth failed)
     │    └── OutcomeUnknownError  it went away while an accepted change was under way
     └── PermissionDeniedError  the backend refused the caller (Azure RBAC, bad token)
"""

from __future__ import annotations

from base.errors import FlightdeckError

__all__ = [
    "BackendUnavailableError",
    "ConflictError",
    "DeploymentFailedError",
    "FlightdeckError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "SpecError",
    "ValidationError",
]


class SpecError(FlightdeckError):
    """A spec file is invalid. The message names the file, the key and the reason."""

    code = "invalid_spec"

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        prefix = f"{file}: " if file else ""
        where = f"{key}: " if key else ""
        super().__init__(f"{prefix}{where}{message}")
        self.file = file
        self.key = key


class ValidationError(FlightdeckError):
    """A request is invalid: bad names, weights that do not sum to 100, and so on."""

    code = "invalid_request"


class NotFoundError(FlightdeckError):
    """The named endpoint, deployment or model does not exist."""

    code = "not_found"


class ConflictError(FlightdeckError):
    """The resource exists already, or another operation on it is in progress."""

    code = "conflict"


class DeploymentFailedError(FlightdeckError):
    """Provisioning failed. ``log_lines`` holds the instance's last log lines."""

    code = "deployment_failed"

    def __init__(self, message: str, *, log_lines: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.log_lines = log_lines


class BackendUnavailableError(FlightdeckError):
    """The backend cannot be reached or did not accept our credentials."""

    code = "backend_unavailable"


class OutcomeUnknownError(BackendUnavailableError):
    """The backend went away while a change it had accepted was under way: it may have taken
    effect or not; reading the resource again tells."""

    code = "outcome_unknown"


class PermissionDeniedError(FlightdeckError):
    """The backend refused the operation for this caller."""

    code = "permission_denied"


ERRORS_BY_CODE: dict[str, type[FlightdeckError]] = {
    cls.code: cls
    for cls in (
        FlightdeckError,
        SpecError,
        ValidationError,
        NotFoundError,
        ConflictError,
        DeploymentFailedError,
        BackendUnavailableError,
        PermissionDeniedError,
    )
}
