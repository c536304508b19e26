"""Errors of the capacity search.

Two tiers, as everywhere in Flightdeck: a ``CapacityError`` carries a message a user can
act on and is shown as is; anything else is a bug, logged once at the edge. Load-test
errors (``loadtest.LoadTestError``: a cap exceeded, a target not allowed) pass through
unchanged.

    CapacityError
     ├── InvalidSearchError   the options make no search: --max-p99 missing, --step 0, ...
     └── NotServingError      the deployment answers the search's requests with 400/401/404:
                              no rate can pass, so the search stops at the first step
"""

from __future__ import annotations

__all__ = ["CapacityError", "InvalidSearchError", "NotServingError"]


class CapacityError(Exception):
    """A known failure whose message is meant for the user."""

    code = "capacity_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidSearchError(CapacityError):
    """The search's options are inconsistent; ``field`` names the option."""

    code = "invalid_search"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class NotServingError(CapacityError):
    """The deployment refuses the requests themselves (not the load): no capacity to find."""

    code = "not_serving"
