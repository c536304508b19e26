"""The base error of Flightdeck, under every package's own errors.

Two tiers, everywhere: a ``FlightdeckError`` carries a message a user can act on and is
shown as is (in Slack, in the CLI); anything else is a bug, logged once with its traceback
at the edge, and the user gets a short generic message. Each package derives its own
errors from it (``deploy.errors``, ``bot.errors``, ``alerts.errors``, ...), each with its
tree drawn in its docstring.

    raise SomeDomainError("Endpoint 'x' does not exist.")   # a FlightdeckError subclass
"""

from __future__ import annotations

__all__ = ["FlightdeckError"]


class FlightdeckError(Exception):
    """A known failure whose message is meant for the user."""

    #: A short machine-readable code, used on the control API's wire.
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
