"""fastserve's domain errors: what stops the server from starting, with a message to act on.

::

    FastserveError
     ├── ConfigError    a flag or environment variable has a bad value (exit code 2)
     └── StartupError   the scoring script cannot be loaded or its init() failed (exit code 3,
                        as azmlinfsrv: gunicorn treats 3 as a boot error)

Errors while answering a request are not raised to the caller: they become HTTP answers
(400, 415, 500) exactly as azmlinfsrv gives them, and a bug is logged once with its traceback.
"""

from __future__ import annotations

EXIT_CONFIG = 2
EXIT_STARTUP = 3


class FastserveError(Exception):
    """Base of fastserve's domain errors; ``str(error)`` is the message for the user."""

    exit_code = 1


class ConfigError(FastserveError):
    """A flag or environment variable has a bad value."""

    exit_code = EXIT_CONFIG


class StartupError(FastserveError):
    """The scoring script cannot be served (missing, fails to import, bad run(), init() fails)."""

    exit_code = EXIT_STARTUP
