"""base/db.py: the engine factory (SQLite made ready) and the store skeleton."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, Table, insert, select

from base.clock import utc_now
from base.db import SQLITE_BUSY_TIMEOUT, Database, Store, metadata, sqlite_pragmas

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

scratch = MetaData()
numbers = Table("numbers", scratch, Column("n", Integer, primary_key=True))


def test_sqlite_gets_its_folder_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    db = Database(url=f"sqlite:///{tmp_path / 'home' / 'bot.db'}")
    try:
        assert db.is_sqlite and (tmp_path / "home").is_dir()
        pragmas = db.run_sync(
            lambda conn: (
                conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                conn.exec_driver_sql("PRAGMA busy_timeout").scalar(),
            )
        )
        assert pragmas == ("wal", SQLITE_BUSY_TIMEOUT * 1000)
    finally:
        db.dispose()


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A database in SQLite's default journal mode, with a write transaction open on it
    (another process's, as it were), shareable with a timer thread that ends it."""
    path = tmp_path / "bot.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (n INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    yield holder
    holder.close()


def test_the_switch_to_wal_waits_for_a_writer(writer: sqlite3.Connection, tmp_path: Path) -> None:
    """A second connection switching to WAL while another writes is refused at once by
    SQLite, busy timeout or not (how replicas starting together on the release's database
    failed). The switch waits for the writer instead."""
    ends = threading.Timer(0.2, writer.execute, ("COMMIT",))
    ends.start()
    connection = sqlite3.connect(tmp_path / "bot.db", timeout=SQLITE_BUSY_TIMEOUT)
    try:
        sqlite_pragmas(connection, None)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        ends.join()
        connection.close()


def test_the_switch_to_wal_gives_up_after_the_busy_timeout(
    writer: sqlite3.Connection, tmp_path: Path
) -> None:
    connection = sqlite3.connect(tmp_path / "bot.db", timeout=0.1)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            sqlite_pragmas(connection, None)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    finally:
        connection.close()


async def test_a_store_runs_work_in_one_transaction(tmp_path: Path) -> None:
    db = Database(url=f"sqlite:///{tmp_path / 'bot.db'}")
    scratch.create_all(db.engine)
    store = Store(engine=db.engine, clock=lambda: NOW)

    def insert_then_fail(conn: Connection) -> None:
        conn.execute(insert(numbers).values(n=1))
        raise RuntimeError("half-way")

    try:
        with pytest.raises(RuntimeError):
            await store.run(insert_then_fail)
        await store.run(lambda conn: conn.execute(insert(numbers).values(n=2)))
        found = store.run_sync(lambda conn: conn.execute(select(numbers.c.n)).scalars().all())
        assert found == [2]  # the failed transaction left nothing
        assert store._clock() == NOW
        assert Store(engine=db.engine)._clock is utc_now
    finally:
        db.dispose()


def test_constraint_names_are_postgresql_s_own() -> None:
    named = MetaData(naming_convention=metadata.naming_convention)
    table = Table(
        "things", named, Column("id", Integer, primary_key=True), Column("n", Integer, index=True)
    )
    assert table.primary_key.name == "things_pkey"
    assert {index.name for index in table.indexes} == {"ix_things_n"}
