"""The target server the engine's tests load: where it is, and a handle on a running one."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

SERVER = Path(__file__).with_name("target_server.py")


class Target:
    """The running target server: its base URL and its bookkeeping routes."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url(path), timeout=5) as response:
            return json.loads(response.read())
