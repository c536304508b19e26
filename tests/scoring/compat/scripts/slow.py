"""A scoring script whose run() waits for a release file: slow requests on demand.

run() writes ``started-<tag>`` in FLIGHTDECK_TEST_SIGNALS, then polls for ``release-<tag>``
(in short sleeps, so azmlinfsrv's SIGALRM timeout can interrupt it) for at most 60 s.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

SIGNALS = Path(os.environ["FLIGHTDECK_TEST_SIGNALS"])


def init() -> None:
    pass


def run(raw_data: str) -> dict[str, str]:
    tag = raw_data.strip() or "default"
    (SIGNALS / f"started-{tag}").touch()
    deadline = time.monotonic() + 60
    while not (SIGNALS / f"release-{tag}").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"released": tag}
