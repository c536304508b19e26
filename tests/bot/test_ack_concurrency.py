"""Slack's 3 seconds: the app answers every request at once, however slow the work behind it.

Twenty slash commands arrive together while the backend holds every call until the
test lets go: the HTTP answers must all come back (under 3 s each) while the work is
still blocked, and the work must then finish and answer each user.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from deploy.memory import MemoryBackend as FakeBackend
from deploy.types import Endpoint
from tests.bot.harness import (
    ALICE,
    BOB,
    CAROL,
    ENDPOINT,
    make_settings,
    running_bot,
    seeded_backend,
)

COMMANDS = 20
SLACK_LIMIT = 3.0


class GatedBackend(FakeBackend):
    """The in-memory backend, whose get_endpoint waits until the gate opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = 0

    async def get_endpoint(self, name: str) -> Endpoint:
        self.waiting += 1
        await self.gate.wait()
        return await super().get_endpoint(name)


async def test_twenty_concurrent_commands_are_acknowledged_at_once(tmp_path: Path) -> None:
    seeded = await seeded_backend()
    backend = GatedBackend()
    backend.endpoints, backend.specs, backend.models = seeded.endpoints, seeded.specs, seeded.models
    users = [ALICE, BOB, CAROL]
    async with running_bot(backend=backend, settings=make_settings(tmp_path)) as bot:
        answers = await asyncio.gather(
            *(bot.slash("/traffic", ENDPOINT, user=users[i % len(users)]) for i in range(COMMANDS))
        )
        assert [a.status for a in answers] == [200] * COMMANDS
        slowest = max(a.seconds for a in answers)
        assert slowest < SLACK_LIMIT, f"slowest ack took {slowest:.2f}s"
        assert len(bot.services.tasks) == COMMANDS, "the work is still held by the backend"
        assert bot.stub.ephemerals() == []
        backend.gate.set()
        await bot.settle()
        assert backend.waiting == COMMANDS
        answered = bot.stub.ephemerals()
        assert len(answered) == COMMANDS
        assert all("blue        100%" in "".join(str(b) for b in m.blocks) for m in answered)
        print(f"\n{COMMANDS} concurrent commands: slowest HTTP answer {slowest * 1000:.0f} ms")
