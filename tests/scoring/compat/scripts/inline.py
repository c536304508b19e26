"""A script that declares itself fast and thread-safe: run() says which thread called it."""

from __future__ import annotations

import threading

FASTSERVE_INLINE = True


def init() -> None:
    pass


def run(raw_data: str) -> dict[str, object]:
    return {"thread": threading.current_thread().name, "raw": raw_data}
