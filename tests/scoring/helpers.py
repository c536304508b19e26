"""Helpers shared by the scoring tests: paths, a copy of scoring/, Azure's model layout, HTTP."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCORING_DIR = REPO / "scoring"
EXAMPLES_DIR = REPO / "examples" / "product-recommender"


def copy_scoring_alone(destination: Path) -> Path:
    """Copy scoring/ (and nothing else of the repo) to ``destination``; return its score.py."""
    shutil.copytree(SCORING_DIR, destination, ignore=shutil.ignore_patterns("__pycache__"))
    return destination / "score.py"


def azure_model_dir(root: Path, files: dict[str, Path]) -> Path:
    """An AZUREML_MODEL_DIR holding ``{relative path: source file}``, e.g. model-v1/model.onnx."""
    for relative, source in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return root


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, content type and body."""

    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def post(url: str, body: bytes | None, content_type: str | None = "application/json") -> Answer:
    """POST ``body`` as is (no Content-Type header if ``content_type`` is None)."""
    request = urllib.request.Request(url, data=body if body is not None else b"", method="POST")
    if content_type is not None:
        request.add_header("Content-Type", content_type)
    return _send(request)


def post_json(url: str, payload: Any) -> Answer:
    """POST ``payload`` encoded as JSON."""
    return post(url, json.dumps(payload).encode())


def get(url: str) -> Answer:
    """GET ``url``."""
    return _send(urllib.request.Request(url, method="GET"))


def _send(request: urllib.request.Request) -> Answer:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, response.headers.get_content_type(), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers.get_content_type(), error.read())
