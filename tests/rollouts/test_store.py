"""The rollout store: compare-and-set writes, one active rollout per endpoint, leases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from base.migrations import upgrade
from rollouts import RolloutConflictError
from rollouts import machine as m
from rollouts.store import RolloutStore
from tests.alerts.kit import Clock
from tests.rollouts.kit import ALICE, spec


def rollout(rollout_id: str, clock: Clock) -> m.Rollout:
    return m.new_rollout(
        id=rollout_id, endpoint="pr", spec=spec(), baseline={"blue": 100}, requested_by=ALICE,
        approved_by=None, channel="C1", now=clock(),
    )  # fmt: skip


async def test_writes_are_compare_and_set(tmp_path: Path) -> None:
    clock = Clock()
    store = RolloutStore(engine=create_engine(f"sqlite:///{tmp_path / 'bot.db'}"), clock=clock)
    upgrade(store.engine)
    stored = await store.create(rollout("r1", clock))
    assert stored.version == 1
    first = await store.save(m.applied(stored, now=clock()))
    assert first is not None and first.version == 2
    # A second writer that started from version 1 loses, and changes nothing.
    assert await store.save(m.pause(stored, user=ALICE, now=clock())) is None
    again = await store.get("r1")
    assert again == first


async def test_one_active_rollout_per_endpoint_and_leases(tmp_path: Path) -> None:
    clock = Clock()
    store = RolloutStore(engine=create_engine(f"sqlite:///{tmp_path / 'bot.db'}"), clock=clock)
    upgrade(store.engine)
    stored = await store.create(rollout("r1", clock))
    with pytest.raises(RolloutConflictError, match="one at a time"):
        await store.create(rollout("r2", clock))
    until = clock() + timedelta(seconds=20)
    assert await store.claim("r1", owner="a", until=until)
    assert not await store.claim("r1", owner="b", until=until)
    assert await store.claim("r1", owner="a", until=until)  # renewing its own
    clock.advance(seconds=21)
    assert await store.claim("r1", owner="b", until=clock() + timedelta(seconds=20))
    await store.release("r1", owner="b")
    assert await store.claim("r1", owner="a", until=clock() + timedelta(seconds=20))
    # Done: the endpoint takes a new rollout.
    done = await store.save(m.applied(m.abort(stored, user=ALICE, now=clock()), now=clock()))
    assert done is not None and not done.active
    assert (await store.create(rollout("r2", clock))).id == "r2"
    assert [r.id for r in await store.active()] == ["r2"]
