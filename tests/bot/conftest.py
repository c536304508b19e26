"""Fixtures for the bot's tests: a seeded in-memory backend and the bot over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deploy.memory import MemoryBackend as FakeBackend
from tests.bot.harness import (
    FakeClock,
    RunningBot,
    make_settings,
    running_bot,
    seeded_backend,
)


@pytest.fixture
async def backend() -> FakeBackend:
    """The seeded in-memory backend."""
    return await seeded_backend()


@pytest.fixture
def clock() -> FakeClock:
    """A clock moved by hand."""
    return FakeClock()


@pytest.fixture
async def bot(backend: FakeBackend, clock: FakeClock, tmp_path: Path) -> AsyncIterator[RunningBot]:
    """The bot over HTTP on the seeded backend, with the test access policy."""
    async with running_bot(
        backend=backend, settings=make_settings(tmp_path), clock=clock
    ) as running:
        yield running
