"""base/db.py: the engine factory (SQLite made ready) and the store skeleton."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, Table, insert, select

from base.clock import utc_now
from base.db import SQLITE_BUSY_TIMEOUT, Database, Store, metadata

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
