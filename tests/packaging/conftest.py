"""One wheel, built and installed once for the session (the packaging tests share it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging.wheel_kit import InstalledVenv, build_wheel, fresh_venv


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``python -m build`` makes of a copy of the repository."""
    return build_wheel(tmp_path_factory.mktemp("wheel") / "dist")


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> InstalledVenv:
    """A fresh virtual environment outside the repository with the wheel installed."""
    return fresh_venv(tmp_path_factory.mktemp("installed") / "venv", wheel)
