"""Printing as ``az ml`` prints: indented JSON (snake_case keys) on stdout, progress on stderr.

print_json(endpoint)             # a domain dataclass, a list of them, or plain JSON values
await progress_line("Starting instance blue-1 ...")
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

from deploy.types import to_json

__all__ = ["json_text", "print_json", "print_text", "progress_line", "say"]


def json_text(value: Any) -> str:
    """``value`` as az ml's JSON: two-space indent, sorted keys."""
    if dataclasses.is_dataclass(value) or (
        isinstance(value, list) and any(dataclasses.is_dataclass(item) for item in value)
    ):
        value = to_json(value)
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def print_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout."""
    sys.stdout.write(json_text(value) + "\n")
    sys.stdout.flush()


def print_text(text: str) -> None:
    """Print text (logs, a scoring answer that is not JSON) as is on stdout."""
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    sys.stdout.flush()


def say(line: str) -> None:
    """A line of progress on stderr, at once."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


async def progress_line(line: str) -> None:
    """The ``progress`` callback of long backend operations: each line to stderr as it comes."""
    say(line)
