"""Errors raised by the slash commands.

Two tiers, as everywhere in Flightdeck: a ``FlightdeckError`` (from ``deploy.errors``
or here) carries a message the user can act on and is shown as is, ephemeral;
anything else is a bug, logged once with its traceback by the bot, and the user
gets a short generic message.

    FlightdeckError (deploy.errors)
     └── UsageError     bad arguments: names what is wrong, followed by the command's help
"""

from __future__ import annotations

from deploy.errors import FlightdeckError

__all__ = ["UsageError"]


class UsageError(FlightdeckError):
    """The command's text is wrong. ``problem`` names what; ``help_text`` is the command's help."""

    code = "usage"

    def __init__(self, problem: str, *, help_text: str) -> None:
        super().__init__(f"{problem}\n\n{help_text}")
        self.problem = problem
        self.help_text = help_text
