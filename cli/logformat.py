"""How ``flightdeck serve`` writes its log: text for a terminal, or one JSON object a line
(``--log-format json``) for a log pipeline; either way through the redacting filter, so that
no Slack token, signing secret or database password reaches it.

    configure_logging("json", secrets=["xoxb-...", "signing-secret"])
    # {"time": "2026-12-06T18:30:00.123Z", "level": "INFO", "logger": "bot", "message": "..."}
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from deploy.local.logsafety import KnownSecrets, RedactingFilter

__all__ = ["LOG_FORMATS", "JsonFormatter", "LogFormat", "configure_logging"]

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and the
    traceback as ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        when = datetime.fromtimestamp(record.created, tz=UTC)
        line: dict[str, object] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def configure_logging(
    log_format: LogFormat, *, secrets: Iterable[str] = (), level: int = logging.INFO
) -> None:
    """The root logger writes to stderr in ``log_format``, every record redacted."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handler.addFilter(RedactingFilter(KnownSecrets([s for s in secrets if s])))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
