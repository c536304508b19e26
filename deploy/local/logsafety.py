"""What keeps the platform's logs small and free of credentials.

- ``RedactingFilter``: the last line of defence. Put on every handler the platform
  writes through; it rewrites each record's text so that no ``Authorization`` value,
  bearer credential, aml token or known secret (endpoint keys, token secrets, the
  admin token) reaches a file, tracebacks included.
- ``rotating_handler``: a size-based ``RotatingFileHandler`` (a few files kept),
  created owner-only, carrying the filter.
- ``Throttle``: at most one line a second for a repeated event, with the count of
  those it held back (accept failures, bad requests).

    secrets = KnownSecrets()
    handler = rotating_handler(home.daemon_log, secrets=secrets)
    secrets.add("the-primary-key")
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from deploy.local import messages as msg

__all__ = [
    "LOG_BACKUPS",
    "LOG_MAX_BYTES",
    "REDACTED",
    "BadRequestLog",
    "KnownSecrets",
    "RedactingFilter",
    "Throttle",
    "redact",
    "rotating_handler",
]

#: A platform log rotates past this size; this many older files are kept.
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 3
REDACTED = "[REDACTED]"

# "Authorization: <value>" or "'Authorization': '<value>'" up to the end of the line or quote.
_AUTHORIZATION = re.compile(r"(?i)(\bauthorization['\"]?\s*[:=,]\s*['\"]?)[^\r\n'\"]*")
_BEARER = re.compile(r"(?i)(\bbearer\s+)[^\s'\"\\]+")
# aml tokens: <endpoint>.<expiry unix seconds>.<hex HMAC-SHA256>
_AML_TOKEN = re.compile(r"\b([a-z0-9][a-z0-9-]*)\.(\d{9,11})\.[0-9a-f]{64}\b")
# Secrets shorter than this are not searched for (they would redact ordinary words).
_MIN_SECRET = 8


class KnownSecrets:
    """The secrets the redaction looks for by value: fixed ones and live sources.

    A source (``add_source``) is asked at every record, so keys made or regenerated
    after the logging was set up are redacted too (the router's keys, say).
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._fixed: frozenset[str] = frozenset()
        self._sources: list[Callable[[], Iterable[str]]] = []
        self.add(*values)

    def add(self, *values: str) -> None:
        """Redact these values from now on (short or empty ones are ignored)."""
        with self._lock:
            self._fixed = self._fixed | {value for value in values if len(value) >= _MIN_SECRET}

    def add_source(self, source: Callable[[], Iterable[str]]) -> None:
        """Also redact whatever ``source()`` returns at the time of each record."""
        with self._lock:
            self._sources.append(source)

    @property
    def values(self) -> list[str]:
        """Every known secret, longest first."""
        found = set(self._fixed)
        for source in list(self._sources):
            try:
                found.update(value for value in source() if len(value) >= _MIN_SECRET)
            except Exception:
                continue
        return sorted(found, key=len, reverse=True)


def redact(text: str, secrets: KnownSecrets | None = None) -> str:
    """``text`` with credentials replaced by ``[REDACTED]``."""
    if secrets is not None:
        for value in secrets.values:
            if value in text:
                text = text.replace(value, REDACTED)
    text = _AUTHORIZATION.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    return _AML_TOKEN.sub(lambda m: f"{m.group(1)}.{m.group(2)}.{REDACTED}", text)


class RedactingFilter(logging.Filter):
    """Rewrites a record (message, arguments, traceback) with its credentials redacted."""

    def __init__(self, secrets: KnownSecrets | None = None) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record; redact it in place."""
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None  # the text below is what gets written
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        record.msg = redact(message, self.secrets)
        record.args = None
        return True


class _OwnerOnlyRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Opens every file (the first, each after a rotation) mode 0600, whatever the umask."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def rotating_handler(
    path: Path,
    *,
    secrets: KnownSecrets | None = None,
    max_bytes: int = LOG_MAX_BYTES,
    backups: int = LOG_BACKUPS,
) -> logging.Handler:
    """A size-rotated log file at ``path`` (owner-only), redacting credentials."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    handler = _OwnerOnlyRotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    return handler


class Throttle:
    """Lets one occurrence of an event through per ``interval`` seconds, counting the rest.

    throttle = Throttle()
    held = throttle.due()
    if held is not None:
        logger.warning("accept failed (%d more since the last line)", held)
    """

    def __init__(self, *, interval: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self._held = 0

    def due(self) -> int | None:
        """``None`` when this occurrence is held back; else how many were held since."""
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            self._held += 1
            return None
        held, self._held, self._last = self._held, 0, now
        return held


def held_back(held: int) -> str:
    """`` (N more since the last line)`` when some were held back, else ""."""
    return msg.HELD_BACK.format(held=held) if held else ""


class BadRequestLog:
    """Stands in for aiohttp's server logger (``logger=`` of ``web.Server``/``AppRunner``).

    aiohttp logs a malformed request with a traceback that quotes the raw header
    line (which may carry a key); this logs one line with the error's kind and
    status only, at most once a second with a count, and drops the debug chatter.
    """

    def __init__(self, target: logging.Logger) -> None:
        self._target = target
        self._throttle = Throttle()

    def debug(self, *args: Any, **kwargs: Any) -> None:
        """aiohttp's debug chatter (premature disconnections): dropped."""

    def warning(self, message: str, *args: Any, **kwargs: Any) -> None:
        """Passed on, without a traceback."""
        self._target.warning(message, *args)

    def exception(self, *args: Any, exc_info: Any = None, **kwargs: Any) -> None:
        """A bad request or an unexpected error: its kind only, never its text."""
        held = self._throttle.due()
        if held is None:
            return
        kind = type(exc_info).__name__ if isinstance(exc_info, BaseException) else "error"
        status = getattr(exc_info, "code", None) or getattr(exc_info, "status", None)
        self._target.warning(
            msg.BAD_REQUEST_LOGGED.format(
                kind=kind, status=f" {status}" if status else "", more=held_back(held)
            )
        )
