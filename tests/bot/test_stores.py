"""Approvals decided once (atomic compare-and-set), the traffic history, the audit log.

Each test runs on SQLite (the default) and on PostgreSQL (several bot replicas), a
throwaway cluster for the module (skipped, saying why, where PostgreSQL is absent).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from base.db import Database
from base.migrations import upgrade
from bot.approvals.store import ApprovalStore
from bot.deliveries import DeliveryLog
from bot.policy.audit import AuditLog
from bot.policy.history import TrafficHistoryStore
from tests.support.postgres import PostgresCluster, postgres_cluster

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow(budget=30))])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.new_database()


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = Database(url=url)
    upgrade(database.engine)
    yield database
    database.dispose()


async def new_request(store: ApprovalStore) -> str:
    approval = await store.create(
        kind="traffic",
        endpoint="pr",
        payload={"traffic": {"blue": 90, "green": 10}},
        requester="U0ALICE",
        channel="C0DEPLOYS",
        now=NOW,
        expires_at=NOW + timedelta(minutes=30),
    )
    return approval.id


async def test_many_concurrent_decisions_one_winner(db: Database) -> None:
    store = ApprovalStore(engine=db.engine)
    approval_id = await new_request(store)
    decisions = await asyncio.gather(
        *(
            store.decide(approval_id, approve=i % 2 == 0, user=f"U0USER{i}", now=NOW)
            for i in range(16)
        )
    )
    winners = [d for d in decisions if d.won]
    assert len(winners) == 1
    final = await store.get(approval_id)
    assert final is not None
    assert final.decided_by == winners[0].approval.decided_by
    assert final.status in ("approved", "rejected")


async def test_expired_requests_cannot_be_decided(db: Database) -> None:
    store = ApprovalStore(engine=db.engine)
    approval_id = await new_request(store)
    late = NOW + timedelta(minutes=30)
    assert not (await store.decide(approval_id, approve=True, user="U0BOB", now=late)).won
    expired = await store.expire(approval_id, now=late)
    assert expired.won and expired.approval.status == "expired"
    assert not (await store.expire(approval_id, now=late)).won


async def test_pending_requests_outlive_the_process(db: Database, url: str) -> None:
    approval_id = await new_request(ApprovalStore(engine=db.engine))
    db.dispose()
    reopened = Database(url=url)
    try:
        upgrade(reopened.engine)  # at head already: nothing to do
        pending = await ApprovalStore(engine=reopened.engine).pending()
        assert [a.id for a in pending] == [approval_id]
        assert pending[0].expires_at == NOW + timedelta(minutes=30)
        assert pending[0].payload == {"traffic": {"blue": 90, "green": 10}}
        decided = await ApprovalStore(engine=reopened.engine).decide(
            approval_id, approve=True, user="U0BOB", now=NOW
        )
        assert decided.won and decided.approval.status == "approved"
    finally:
        reopened.dispose()


async def test_history_is_an_undo_stack(db: Database) -> None:
    history = TrafficHistoryStore(engine=db.engine, clock=lambda: NOW)
    assert await history.last_shift("pr") is None
    first = await history.record(
        endpoint="pr",
        before={"blue": 100},
        before_mirror={},
        after={"blue": 90, "green": 10},
        after_mirror={},
        approval_id="a1",
    )
    second = await history.record(
        endpoint="pr",
        before={"blue": 90, "green": 10},
        before_mirror={},
        after={"blue": 50, "green": 50},
        after_mirror={"green": 0},
        approval_id="a2",
    )
    last = await history.last_shift("pr")
    assert last is not None and last.id == second and last.before == {"blue": 90, "green": 10}
    await history.record(
        endpoint="pr",
        before={"blue": 50, "green": 50},
        before_mirror={},
        after={"blue": 90, "green": 10},
        after_mirror={},
        approval_id="a3",
        rollback_of=second,
    )
    last = await history.last_shift("pr")
    assert last is not None and last.id == first
    assert await history.last_shift("other") is None


async def test_audit_and_deliveries(db: Database) -> None:
    audit = AuditLog(engine=db.engine, clock=lambda: NOW)
    await audit.record(user="U0ALICE", channel="C1", action="/scale", text="pr blue 3", result="ok")
    (entry,) = await audit.entries()
    assert (entry.user_id, entry.channel_id, entry.action, entry.result) == (
        "U0ALICE",
        "C1",
        "/scale",
        "ok",
    )
    assert entry.at == NOW
    deliveries = DeliveryLog(engine=db.engine, clock=lambda: NOW)
    assert await deliveries.first_time("command:1")
    assert not await deliveries.first_time("command:1")
    assert await deliveries.first_time("command:2")
