"""The database: one SQLAlchemy ``metadata``, the engine factory, and the store skeleton.

Every table of the bot's database (the bot's own, alerts', rollouts') is defined beside
its store, on this one ``metadata``; the schema is made and changed only by the Alembic
migrations in ``base.migrations`` (``upgrade``), never by ``create_all``.

SQLAlchemy Core on a synchronous engine, used off the event loop: a store's ``run``
executes a function in one transaction, in a worker thread. SQLite by default (WAL,
busy timeout), any SQLAlchemy URL (PostgreSQL) for several bot replicas.

    db = Database(url="sqlite:////tmp/bot.db")
    upgrade(db.engine)                                   # base.migrations
    store = ApprovalStore(engine=db.engine, clock=utc_now)
    rows = await store.run(lambda conn: conn.execute(select(approvals)).all())
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, make_url

from base.clock import Clock, utc_now

__all__ = [
    "NAMING_CONVENTION",
    "Database",
    "Store",
    "is_sqlite",
    "metadata",
    "run_in_transaction",
    "sqlite_pragmas",
]

T = TypeVar("T")

#: Constraint names, so that a migration can name what it alters. They are the names
#: PostgreSQL gives unnamed constraints itself (``rollouts_pkey``) and SQLAlchemy's default
#: index names (``ix_rollouts_endpoint``): a database made before the migrations carries
#: them already. Unique constraints are left out: the release before the migrations made
#: ``rollouts.active_endpoint``'s unnamed, and SQLite keeps it so (PostgreSQL names it
#: ``rollouts_active_endpoint_key``); a named one in the metadata would never match a
#: SQLite database. Name a new unique constraint yourself: ``UniqueConstraint(...,
#: name="<table>_<column>_key")``.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}

#: The one metadata of the bot's database; each store module adds its tables to it.
metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: Seconds a SQLite connection waits for another one's lock before giving up.
SQLITE_BUSY_TIMEOUT = 15
WAL_SWITCH_RETRY = 0.005  # seconds between tries to switch a database to WAL


def is_sqlite(engine: Engine) -> bool:
    """True on SQLite (transactions and locks differ there)."""
    return engine.dialect.name == "sqlite"


class Database:
    """The engine of one database URL: SQLite made ready (its folder, WAL, busy timeout)."""

    def __init__(self, *, url: str) -> None:
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT} if self.is_sqlite else {}
        self.engine: Engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        if self.is_sqlite:
            event.listen(self.engine, "connect", sqlite_pragmas)

    def run_sync(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a transaction, in this thread."""
        with self.engine.begin() as conn:
            return work(conn)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a transaction, in a worker thread."""
        return await asyncio.to_thread(self.run_sync, work)

    def dispose(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """The ``connect`` listener of SQLite engines: WAL (readers never wait for the writer).

    The busy timeout (a writer waits for another instead of failing at once) is the
    engine's: the driver's ``timeout`` connect argument sets it, 15 s for the stores and
    longer for the upgrade lock. Switching a database to WAL needs it alone; when two
    connections switch it at the same moment, SQLite refuses one at once ("database is
    locked") without waiting, as that wait could deadlock. The switch is tried again until
    the busy timeout has passed."""
    cursor = dbapi_connection.cursor()
    try:
        wait_ms = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
        deadline = time.monotonic() + wait_ms / 1000
        while True:
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "database is locked" not in str(error) or time.monotonic() >= deadline:
                    raise
                time.sleep(WAL_SWITCH_RETRY)
    finally:
        cursor.close()


async def run_in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """``work`` in one transaction, in a worker thread."""

    def transaction() -> T:
        with engine.begin() as conn:
            return work(conn)

    return await asyncio.to_thread(transaction)


class Store:
    """The skeleton of a store: an engine, a clock, and work run in one transaction.

    class AuditLog(Store):
        async def record(self, ...) -> None:
            at = to_naive_utc(self._clock())
            await self.run(lambda conn: conn.execute(insert(audit).values(at=at, ...)))
    """

    def __init__(self, *, engine: Engine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self._clock = clock

    def run_sync(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a transaction, in this thread."""
        with self.engine.begin() as conn:
            return work(conn)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a transaction, in a worker thread."""
        return await run_in_transaction(self.engine, work)
