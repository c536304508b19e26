"""Errors raised by alerts/.

FlightdeckError (deploy.errors)
 └── AlertConfigError   the config file's ``alerts:`` section is invalid: names the key
"""

from __future__ import annotations

from deploy.errors import FlightdeckError

__all__ = ["AlertConfigError"]


class AlertConfigError(FlightdeckError):
    """The ``alerts:`` section of the config file is invalid; the message names the key."""

    code = "invalid_config"
