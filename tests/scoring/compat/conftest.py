"""Fixtures of the compatibility suite: one script, both servers, started once per module."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.scoring.compat.servers import ServerPair, start_pair

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def code_folder(tmp: Path, *names: str) -> Path:
    """A code folder holding copies of the named test scripts; returns the folder."""
    folder = tmp / "code"
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(SCRIPTS / name, folder / name)
    return folder


def serve_script(
    factory: pytest.TempPathFactory, name: str, model_dir: Path, **env: str
) -> ServerPair:
    """Both servers on a copy of ``scripts/<name>``."""
    tmp = factory.mktemp(name.removesuffix(".py"))
    script = code_folder(tmp, name) / name
    return start_pair(entry_script=script, model_dir=model_dir, tmp=tmp, env=env)


@pytest.fixture(scope="module")
def model_v1(sample_models: Path) -> Path:
    """A model folder holding the sample recommender's model.onnx."""
    return sample_models / "model-v1"
