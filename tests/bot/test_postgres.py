"""The bot's database on PostgreSQL (``FLIGHTDECK_DATABASE_URL=postgresql+psycopg://...``):
what several bot replicas sharing one database rely on.

A throwaway cluster for the module (tests/support/postgres.py), a new database per
test; each "replica" is its own ``Database`` (engine and pool) on the same URL. The
stores' behaviours on both SQLite and PostgreSQL are in test_stores.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select

from alerts.rules import Rule
from alerts.state import AlertKey, AlertState
from alerts.store import AlertStore, Outbox, StoredAlert
from base.db import Database
from base.migrations import upgrade
from bot.approvals.store import ApprovalStore
from bot.db import approvals
from bot.deliveries import KEEP, DeliveryLog
from tests.support.postgres import PostgresCluster, postgres_cluster

pytestmark = pytest.mark.slow(budget=30)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
KEY = AlertKey(endpoint="product-recommender", deployment="blue", rule="latency_p99")
RULE = Rule(kind="latency_p99", threshold=500, duration=timedelta(minutes=3))


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture
def url(postgres: PostgresCluster) -> str:
    return postgres.new_database()


@pytest.fixture
def replicas(url: str) -> Iterator[tuple[Database, Database]]:
    """Two bot replicas on one database, each upgrading it at start as the bot does."""
    pair = (Database(url=url), Database(url=url))
    for database in pair:
        upgrade(database.engine)
    yield pair
    for database in pair:
        database.dispose()


def test_the_psycopg_url_opens_the_bot_database(replicas: tuple[Database, Database]) -> None:
    first, _ = replicas
    assert not first.is_sqlite
    assert (first.engine.dialect.name, first.engine.dialect.driver) == ("postgresql", "psycopg")
    tables = set(inspect(first.engine).get_table_names())
    assert tables >= {"approvals", "audit", "deliveries", "traffic_history", "alert_states"}


async def _request(store: ApprovalStore, *, now: datetime = NOW) -> str:
    approval = await store.create(
        kind="traffic",
        endpoint="product-recommender",
        payload={"traffic": {"blue": 90, "green": 10}},
        requester="U0ALICE",
        channel="C0DEPLOYS",
        now=now,
        expires_at=now + timedelta(minutes=30),
    )
    return approval.id


async def test_an_approval_is_decided_once_across_replicas(
    replicas: tuple[Database, Database],
) -> None:
    stores = [ApprovalStore(engine=database.engine) for database in replicas]
    approval_id = await _request(stores[0])
    assert [a.id for a in await stores[1].pending()] == [approval_id]
    decisions = await asyncio.gather(
        *(
            stores[i % 2].decide(approval_id, approve=i % 3 != 0, user=f"U0USER{i}", now=NOW)
            for i in range(12)
        )
    )
    winners = [d for d in decisions if d.won]
    assert len(winners) == 1, decisions
    again = await stores[1].decide(approval_id, approve=True, user="U0BOB", now=NOW)
    assert not again.won
    for store in stores:
        final = await store.get(approval_id)
        assert final is not None
        assert (final.status, final.decided_by) == (
            winners[0].approval.status,
            winners[0].approval.decided_by,
        )
    assert await stores[0].pending() == []


async def test_times_are_stored_as_naive_utc(replicas: tuple[Database, Database]) -> None:
    store = ApprovalStore(engine=replicas[0].engine)
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    approval_id = await _request(store, now=paris)
    stored = await replicas[0].run(
        lambda conn: conn.execute(
            select(approvals.c.created_at, approvals.c.expires_at).where(
                approvals.c.id == approval_id
            )
        ).one()
    )
    assert stored.created_at == datetime(2026, 11, 24, 9, 0)  # naive, UTC
    assert stored.created_at.tzinfo is None
    found = await ApprovalStore(engine=replicas[1].engine).get(approval_id)
    assert found is not None
    assert found.created_at == NOW and found.created_at.tzinfo == UTC
    assert found.expires_at == NOW + timedelta(minutes=30)
    # Expiry compares stored times: a click a second before it wins, at it loses.
    at_expiry = NOW + timedelta(minutes=30)
    assert not (await store.decide(approval_id, approve=True, user="U0BOB", now=at_expiry)).won
    before = at_expiry - timedelta(seconds=1)
    assert (await store.decide(approval_id, approve=True, user="U0BOB", now=before)).won


async def test_a_delivery_is_handled_once_across_replicas(
    replicas: tuple[Database, Database],
) -> None:
    clock = [NOW]
    logs = [DeliveryLog(engine=database.engine, clock=lambda: clock[0]) for database in replicas]
    firsts = await asyncio.gather(*(logs[i % 2].first_time("action:1") for i in range(10)))
    assert sorted(firsts) == [False] * 9 + [True]
    assert not await logs[0].first_time("action:1")
    assert await logs[1].first_time("action:2")
    # Keys are forgotten after KEEP (Slack retries within minutes).
    clock[0] = NOW + KEEP + timedelta(seconds=1)
    assert await logs[0].first_time("action:1")


def _alert(state: AlertState) -> StoredAlert:
    return StoredAlert(state=state, rule=RULE, traffic_share=100)


async def test_alert_writes_are_compare_and_set(replicas: tuple[Database, Database]) -> None:
    first, second = (AlertStore(engine=db.engine, clock=lambda: NOW) for db in replicas)
    saved = await first.save(_alert(AlertState(key=KEY, status="pending", since=NOW, value=812.0)))
    assert saved is not None and saved.version == 1
    # Another replica that also saw no row: its insert loses (and its transaction survives).
    late = AlertState(key=KEY, status="pending", since=NOW, value=790.0)
    assert await second.save(_alert(late)) is None
    loaded = await second.get(KEY)
    assert loaded is not None and loaded.version == 1
    assert (loaded.state.status, loaded.state.value, loaded.state.since) == ("pending", 812.0, NOW)
    assert loaded.rule == RULE and loaded.traffic_share == 100
    # Both replicas move the alert from version 1: one wins, the other's write is refused.
    firing = replace(loaded.state, status="firing", fired_at=NOW)
    acknowledged = replace(loaded.state, acknowledged_by="U0BOB", acknowledged_at=NOW)
    results = await asyncio.gather(
        first.save(replace(loaded, state=firing)),
        second.save(replace(loaded, state=acknowledged)),
    )
    won = [r for r in results if r is not None]
    assert len(won) == 1 and won[0].version == 2, results
    current = await first.get(KEY)
    assert current is not None and current.version == 2 and current.state == won[0].state
    # A stale write (version 1 again) changes nothing.
    assert await second.save(replace(loaded, state=firing)) is None
    # The outbox is written with the state, and cleared only by its own id, once.
    outbox = Outbox(id="ob1", notice="firing", at=NOW)
    posting = await first.save(replace(current, outbox=outbox))
    assert posting is not None and posting.version == 3
    assert not await second.finish(KEY, "other", message_ts="1.2", channel="C0DEPLOYS")
    assert await second.finish(KEY, "ob1", message_ts="1.2", channel="C0DEPLOYS")
    assert not await first.finish(KEY, "ob1", message_ts="1.3", channel="C0DEPLOYS")
    done = await first.get(KEY)
    assert done is not None and done.version == 4
    assert done.outbox is None and done.state.message_ts == "1.2"
    assert [a.key for a in await second.active(NOW)] == [KEY]  # pending or firing: active
