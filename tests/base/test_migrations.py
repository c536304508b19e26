"""The migrations (base/migrations): they build the schema the metadata describes, adopt a
database made by the release before them without losing a row, and two upgraders at once
wait for each other. Each test runs on SQLite and on PostgreSQL (a throwaway cluster;
skipped outside CI where PostgreSQL is not installed, a failure in CI).

The release before the migrations is represented by its DDL, captured from its
``create_all()`` into fixtures/schema_0_{sqlite,postgresql}.sql.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, func, inspect, select, text

from alerts.state import AlertKey, AlertState
from alerts.store import AlertStore, StoredAlert
from base.migrations import SQLITE_LOCK_TIMEOUT, _migration_engine, current, head, upgrade
from bot.approvals.store import ApprovalStore
from bot.db import TABLES, metadata
from bot.deliveries import DeliveryLog
from bot.policy.audit import AuditLog
from bot.policy.history import TrafficHistoryStore
from rollouts import machine as m
from rollouts.locks import LockStore
from rollouts.store import RolloutStore
from tests.support.postgres import PostgresCluster, postgres_cluster

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
TABLE_NAMES = {table.name for table in TABLES}


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    with postgres_cluster() as cluster:
        yield cluster


NewUrl = Callable[[], str]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow(budget=60))])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> NewUrl:
    """Makes an empty database of one kind; its URL."""
    if request.param == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        return cluster.new_database
    made = iter(range(1, 100))
    return lambda: f"sqlite:///{tmp_path / f'bot_{next(made)}.db'}"


@pytest.fixture
def engines() -> Iterator[Callable[[str], Engine]]:
    """Engines on URLs, disposed of after the test."""
    made: list[Engine] = []

    def make(url: str) -> Engine:
        made.append(create_engine(url))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()


def release_ddl(dialect: str, tables: set[str] = TABLE_NAMES) -> list[str]:
    """The statements the release before the migrations ran to make ``tables``."""
    script = (FIXTURES / f"schema_0_{dialect}.sql").read_text()
    script = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    statements = [s.strip() for s in script.split(";") if s.strip()]
    return [s for s in statements if _table_of(s) in tables]


def _table_of(statement: str) -> str:
    found = re.match(r'CREATE (?:TABLE|INDEX \w+ ON) "?(\w+)"?', statement)
    assert found is not None, statement
    return found.group(1)


def make_as_the_release_did(engine: Engine, tables: set[str] = TABLE_NAMES) -> None:
    """The schema as the release before the migrations made it."""
    with engine.begin() as conn:
        for statement in release_ddl(engine.dialect.name, tables):
            conn.exec_driver_sql(statement)


def schema(engine: Engine) -> dict[str, Any]:
    """What a database's schema is made of, as reflected: every name, type and flag."""
    inspector = inspect(engine)
    found: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        found[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table),
            "unique": sorted(
                (u["name"] or "", tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), i["unique"])
                for i in inspector.get_indexes(table)
            ),
        }
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE tbl_name != 'alembic_version'"
            )
            found["sqlite_master"] = sorted(
                (name, " ".join((sql or "").split())) for name, sql in rows
            )
    return found


# ---------------------------------------------------------------- the schema


def test_the_migrations_agree_with_the_metadata(
    new_url: NewUrl, engines: Callable[[str], Engine]
) -> None:
    engine = engines(new_url())
    assert upgrade(engine) == (None, head())
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
    assert set(inspect(engine).get_table_names()) == TABLE_NAMES | {"alembic_version"}


def test_the_first_revision_is_the_schema_of_the_release_before(
    new_url: NewUrl, engines: Callable[[str], Engine]
) -> None:
    released, upgraded = engines(new_url()), engines(new_url())
    make_as_the_release_did(released)
    upgrade(upgraded, revision="0001")
    # Names (PostgreSQL's audit_pkey, rollouts_active_endpoint_key, the ix_ indexes),
    # types, nullability, SERIAL defaults, and on SQLite the very DDL text.
    assert schema(upgraded) == schema(released)
    indexes = schema(released)["rollouts"]["indexes"]
    assert ("ix_rollouts_endpoint", ("endpoint",), False) in indexes


def test_an_empty_database_is_upgraded_from_scratch_and_then_left_alone(
    new_url: NewUrl, engines: Callable[[str], Engine]
) -> None:
    url = new_url()
    assert current(url) is None
    assert upgrade(url) == (None, head())
    assert current(url) == head()
    before = schema(engines(url))
    assert upgrade(url) == (head(), head())
    assert schema(engines(url)) == before


# ---------------------------------------------------------------- the release's databases


def _rollout(rollout_id: str) -> m.Rollout:
    from tests.rollouts.kit import ALICE, spec

    return m.new_rollout(
        id=rollout_id, endpoint="pr", spec=spec(), baseline={"blue": 100},
        requested_by=ALICE, approved_by=None, channel="C1", now=NOW,
    )  # fmt: skip


async def _fill(engine: Engine) -> dict[str, Any]:
    """A row in every table, written by the stores (whose SQL the release shared)."""
    clock = lambda: NOW  # noqa: E731
    approval = await ApprovalStore(engine=engine).create(
        kind="traffic", endpoint="pr", payload={"traffic": {"blue": 90, "green": 10}},
        requester="U0ALICE", channel="C0DEPLOYS", now=NOW, expires_at=NOW + timedelta(hours=1),
    )  # fmt: skip
    await AuditLog(engine=engine, clock=clock).record(
        user="U0ALICE", channel="C0DEPLOYS", action="/traffic", result="requested",
        text="pr blue=90 green=10", endpoint="pr", approval_id=approval.id,
    )  # fmt: skip
    await TrafficHistoryStore(engine=engine, clock=clock).record(
        endpoint="pr", before={"blue": 100}, before_mirror={}, after={"blue": 90, "green": 10},
        after_mirror={}, approval_id=approval.id,
    )  # fmt: skip
    assert await DeliveryLog(engine=engine, clock=clock).first_time("action:1")
    key = AlertKey(endpoint="pr", deployment="green", rule="latency_p99")
    state = AlertState(key=key, status="firing", since=NOW, fired_at=NOW, value=812.0)
    alert = await AlertStore(engine=engine, clock=clock).save(StoredAlert(state=state))
    assert alert is not None
    rollout = await RolloutStore(engine=engine, clock=clock).create(_rollout("r1"))
    lock = await LockStore(engine=engine, clock=clock).lock("pr", user="U0BOB", reason="sale")
    return {"approval": approval, "alert": alert, "rollout": rollout, "lock": lock}


async def _read(engine: Engine, made: dict[str, Any]) -> dict[str, Any]:
    alert_key = made["alert"].key
    return {
        "approval": await ApprovalStore(engine=engine).get(made["approval"].id),
        "alert": await AlertStore(engine=engine).get(alert_key),
        "rollout": await RolloutStore(engine=engine).get(made["rollout"].id),
        "lock": await LockStore(engine=engine).get("pr"),
    }


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in TABLES
        }


async def test_a_database_of_the_release_before_upgrades_in_place(
    new_url: NewUrl, engines: Callable[[str], Engine]
) -> None:
    engine = engines(new_url())
    make_as_the_release_did(engine)
    made = await _fill(engine)
    counts = _counts(engine)
    assert set(counts.values()) == {1}
    released = schema(engine)

    assert upgrade(engine) == (None, head())

    assert _counts(engine) == counts
    assert await _read(engine, made) == made
    assert schema(engine) == released
    entries = await AuditLog(engine=engine).entries()
    assert [(e.action, e.approval_id) for e in entries] == [("/traffic", made["approval"].id)]
    # It goes on working: the approval is decided, the rollout is leased, as before.
    decision = await ApprovalStore(engine=engine).decide(
        made["approval"].id, approve=True, user="U0BOB", now=NOW
    )
    assert decision.won
    assert await RolloutStore(engine=engine, clock=lambda: NOW).claim(
        "r1", owner="bot-1", until=NOW + timedelta(minutes=1)
    )


async def test_a_database_with_only_some_of_the_tables_gets_the_others(
    new_url: NewUrl, engines: Callable[[str], Engine]
) -> None:
    """``flightdeck rollout`` of the release before never made ``alert_states``."""
    engine = engines(new_url())
    make_as_the_release_did(engine, TABLE_NAMES - {"alert_states"})
    rollout = await RolloutStore(engine=engine, clock=lambda: NOW).create(_rollout("r1"))

    assert upgrade(engine) == (None, head())

    assert set(inspect(engine).get_table_names()) == TABLE_NAMES | {"alembic_version"}
    assert await RolloutStore(engine=engine).get("r1") == rollout
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


# ---------------------------------------------------------------- replicas


#: A bot replica starting: it waits for "go" on stdin, upgrades, prints the revisions.
REPLICA = """
import json, sys
from base.migrations import upgrade
print("ready", flush=True)
sys.stdin.readline()
print(json.dumps(upgrade(sys.argv[1])), flush=True)
"""


@pytest.mark.slow(budget=60)  # three Python processes
@pytest.mark.parametrize("released", [False, True], ids=["empty", "release-before"])
def test_upgrades_at_once_wait_for_each_other(
    new_url: NewUrl, engines: Callable[[str], Engine], released: bool
) -> None:
    """Replicas (processes) starting together: one upgrades, the others wait, then find
    the database at head. Without the lock they fail ("table already exists", "database
    is locked") or upgrade twice."""
    url = new_url()
    if released:
        make_as_the_release_did(engines(url))
    replicas = [
        subprocess.Popen(
            [sys.executable, "-c", REPLICA, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(3)
    ]
    try:
        for replica in replicas:
            assert replica.stdout is not None
            assert replica.stdout.readline().strip() == "ready"
        for replica in replicas:  # all at once
            assert replica.stdin is not None
            replica.stdin.write("go\n")
            replica.stdin.flush()
        outputs = [replica.communicate(timeout=120) for replica in replicas]
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.kill()
                replica.wait()
    for replica, (_, stderr) in zip(replicas, outputs, strict=True):
        assert replica.returncode == 0, stderr
    results = sorted((tuple(json.loads(out)) for out, _ in outputs), key=lambda r: r[0] or "")
    assert results == [(None, head())] + [(head(), head())] * (len(replicas) - 1)
    with engines(url).connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    assert [row.version_num for row in versions] == [head()]


def test_a_sqlite_upgrader_waits_as_long_as_the_upgrade_lock_says(tmp_path: Path) -> None:
    """The upgrade engine's busy timeout is the upgrade lock's, not the stores' shorter
    one (the WAL listener once set the stores' timeout on every SQLite connection)."""
    engine, owned = _migration_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        assert owned
        with engine.connect() as conn:
            waits = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
            assert (waits, conn.exec_driver_sql("PRAGMA journal_mode").scalar()) == (
                SQLITE_LOCK_TIMEOUT * 1000,
                "wal",
            )
    finally:
        engine.dispose()
