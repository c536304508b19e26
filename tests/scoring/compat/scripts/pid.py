"""A scoring script that answers with the process that ran it (for multi-process tests)."""

from __future__ import annotations

import os


def init() -> None:
    pass


def run(raw_data: str) -> dict[str, int]:
    return {"pid": os.getpid()}
