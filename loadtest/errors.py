"""Errors raised by the load-test engine.

Two tiers, as everywhere in Flightdeck: a ``LoadTestError`` carries a message a
user can act on and is shown as is (in Slack, in the CLI); anything else is a
bug, logged once with its traceback at the edge. ``loadtest`` imports nothing of
ours, so this tree stands alone; the edge catches it next to ``FlightdeckError``.

    LoadTestError
     ├── InvalidPlanError      the plan itself is wrong: bad URL, missing rate, header with CR/LF
     ├── LimitExceededError    the plan asks for more than the configured caps allow
     ├── TargetNotAllowedError the target is not a loopback address where only loopback is allowed
     └── PayloadError          the request file or the swagger sample cannot be used as a body
"""

from __future__ import annotations

__all__ = [
    "InvalidPlanError",
    "LimitExceededError",
    "LoadTestError",
    "PayloadError",
    "TargetNotAllowedError",
]


class LoadTestError(Exception):
    """A known failure whose message is meant for the user."""

    #: A short machine-readable code (for JSON output).
    code = "loadtest_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidPlanError(LoadTestError):
    """The plan is inconsistent or malformed. ``field`` names the offending option."""

    code = "invalid_plan"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class LimitExceededError(LoadTestError):
    """The plan exceeds a configured cap. ``field`` names the option, ``limit`` the cap."""

    code = "limit_exceeded"

    def __init__(self, message: str, *, field: str, limit: float) -> None:
        super().__init__(message)
        self.field = field
        self.limit = limit


class TargetNotAllowedError(LoadTestError):
    """The target host is not allowed (only loopback targets with the local backend)."""

    code = "target_not_allowed"


class PayloadError(LoadTestError):
    """The request body could not be made from the request file or the swagger."""

    code = "invalid_payload"
