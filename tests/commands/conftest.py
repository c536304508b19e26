"""Fixtures for the commands' tests: the seeded in-memory backend."""

from __future__ import annotations

import pytest

from deploy.memory import MemoryBackend as FakeBackend
from tests.bot.harness import seeded_backend


@pytest.fixture
async def backend() -> FakeBackend:
    """product-recommender: blue (model 1) at 100%, green (model 2) at 0%."""
    return await seeded_backend()
