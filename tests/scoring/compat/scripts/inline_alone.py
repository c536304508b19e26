"""A script that declares ``FASTSERVE_INLINE = "alone"``: run() says which thread called it.

``hold:<folder>`` makes run() write ``<folder>/holding`` and wait (up to 30 s) until the test
writes ``<folder>/release``: while it holds the event loop, the test's other requests arrive
together and are read in one turn of the loop.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

FASTSERVE_INLINE = "alone"


def init() -> None:
    pass


def run(raw_data: str) -> dict[str, object]:
    if raw_data.startswith("hold:"):
        folder = Path(raw_data.removeprefix("hold:"))
        (folder / "holding").write_text("")
        deadline = time.monotonic() + 30
        while not (folder / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.005)  # the script's own work, standing in for a long run()
    return {"thread": threading.current_thread().name, "raw": raw_data}
