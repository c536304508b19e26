"""An undecorated scoring script: run() gets the body as a string."""

from __future__ import annotations

import json


def init() -> None:
    pass


def run(raw_data: str) -> dict[str, object]:
    try:
        parsed = json.loads(raw_data)
    except ValueError:
        parsed = None
    return {"type": type(raw_data).__name__, "raw": raw_data, "parsed": parsed}
