"""Pieces cut from the product brief (../shared/seed/) at test time.

The brief is the users' reference: tests use its YAML and its score.py as they
stand. Where the shared folder is absent, the tests that need it are skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "seed"
SEED_FILE = SEED / "azure-ml-managed-online-endpoints.txt"


def seed_text() -> str:
    """The brief's text, or a skip saying why it is missing."""
    if not SEED_FILE.is_file():
        # The brief lives beside the repository, not in it: a checkout without it is normal.
        pytest.skip(f"the product brief is not at {SEED_FILE} (../shared/seed does not ship here)")
    return SEED_FILE.read_text(encoding="utf-8")


def seed_block(start: str, end: str) -> str:
    """The brief's text from the line starting with ``start`` up to the line ``end``."""
    lines = seed_text().splitlines()
    begin = next(i for i, line in enumerate(lines) if line.strip().startswith(start))
    stop = next(i for i in range(begin + 1, len(lines)) if lines[i].strip().startswith(end))
    return "\n".join(lines[begin:stop]).rstrip() + "\n"


def seed_endpoint_yaml() -> str:
    """The brief's endpoint.yml."""
    return seed_block("# endpoint.yml", "# deployment.yml")


def seed_deployment_yaml() -> str:
    """The brief's deployment.yml."""
    return seed_block("# deployment.yml", "Deploying via CLI")


def seed_score_py() -> str:
    """The brief's score.py."""
    return seed_block("# score.py", "Auto-Scaling Configuration")
