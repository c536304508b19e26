"""Deadlines: one loop timer for the timeouts of every request in flight on the hot path."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from deploy.local.dataplane.deadlines import Deadlines
from tests.deploy.local.router_kit import wait_for


@dataclass(eq=False)
class _Item:
    name: str
    deadline: float
    expired_at: list[float] = field(default_factory=list)

    def expire(self) -> None:
        self.expired_at.append(asyncio.get_running_loop().time())


async def test_items_expire_at_their_deadlines_and_forgotten_ones_never() -> None:
    loop = asyncio.get_running_loop()
    deadlines: Deadlines[_Item] = Deadlines()
    now = loop.time()
    late = _Item("late", now + 1.0)  # far enough that a stalled loop on CI keeps them apart
    early = _Item("early", now + 0.10)  # watched after a later one: the timer is re-armed
    forgotten = _Item("forgotten", now + 0.05)
    for item in (late, early, forgotten):
        deadlines.watch(item)
    deadlines.forget(forgotten)
    await wait_for(lambda: bool(late.expired_at), seconds=5, what="the late item")
    assert len(early.expired_at) == 1 and len(late.expired_at) == 1  # once each
    assert early.expired_at[0] >= early.deadline
    assert late.expired_at[0] >= late.deadline
    assert early.expired_at[0] < late.deadline  # not held back to the later deadline
    assert forgotten.expired_at == []
    assert len(deadlines) == 0


async def test_close_returns_what_is_left_and_nothing_expires_after() -> None:
    loop = asyncio.get_running_loop()
    deadlines: Deadlines[_Item] = Deadlines()
    due = _Item("due", loop.time() + 0.05)
    deadlines.watch(due)
    assert deadlines.close() == [due]
    witness = _Item("witness", loop.time() + 0.1)
    Deadlines[_Item]().watch(witness)  # another set's timer: proves time passed past ``due``
    await wait_for(lambda: bool(witness.expired_at), seconds=5, what="the witness")
    assert due.expired_at == []
