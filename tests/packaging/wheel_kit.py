"""Build Flightdeck's wheel from a copy of the repository and install it into a fresh virtual
environment outside the repository, as a user (or the Containerfile) does.

    wheel = build_wheel(tmp / "dist")          # python -m build --wheel --no-isolation
    venv = fresh_venv(tmp / "venv", wheel)     # python -m venv; pip install the wheel + deps
    venv.run("--version", cwd=elsewhere)       # its own `flightdeck`, no PYTHONPATH

The build runs without isolation (this environment's setuptools, no download); the install
is a real one: every dependency resolved by pip into an empty environment (pip's cache and
the local index make it take about a minute), so a module or data file missing from the
wheel fails here as it would for a user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.flightdeck_cli import REPO, CliResult

__all__ = ["InstalledVenv", "build_wheel", "clean_environ", "fresh_venv"]

#: What the copy of the repository leaves out (nothing a build reads).
_IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    "build", "dist", "*.egg-info", ".flightdeck", "tests", "bench",
)  # fmt: skip


def build_wheel(outdir: Path) -> Path:
    """``python -m build --wheel`` on a copy of the repository (the tree stays clean)."""
    source = outdir.parent / "source"
    shutil.copytree(REPO, source, ignore=_IGNORED, symlinks=True)
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(outdir)],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = outdir.glob("flightdeck-*.whl")
    return wheel


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without anything pointing at the repository or its venv."""
    dropped = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in dropped and not key.startswith("FLIGHTDECK_")
    }
    path = [p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO))]
    path = [p for p in path if Path(p) != Path(sys.executable).parent]
    env["PATH"] = os.pathsep.join(path)
    env.update(extra)
    return env


@dataclass(frozen=True)
class InstalledVenv:
    """A virtual environment with the wheel installed."""

    root: Path

    @property
    def bin(self) -> Path:
        """Its scripts folder."""
        return self.root / "bin"

    @property
    def flightdeck(self) -> Path:
        """Its ``flightdeck`` console script."""
        return self.bin / "flightdeck"

    def run(
        self, *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 120
    ) -> CliResult:
        """``flightdeck *args`` from ``cwd`` with a clean environment plus ``env``."""
        done = subprocess.run(
            [str(self.flightdeck), *args],
            cwd=cwd,
            env=clean_environ(**(env or {})),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
        return CliResult(code=done.returncode, stdout=done.stdout, stderr=done.stderr)


def fresh_venv(root: Path, wheel: Path) -> InstalledVenv:
    """``python -m venv root`` (no system site-packages) and ``pip install wheel``."""
    subprocess.run(
        [sys.executable, "-m", "venv", str(root)], check=True, capture_output=True, timeout=120
    )
    done = subprocess.run(
        [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"pip install of the wheel failed:\n{done.stderr[-4000:]}"
    return InstalledVenv(root=root)
