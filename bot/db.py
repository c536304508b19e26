"""The bot's database: audit log, approvals, traffic history, deliveries seen.

SQLAlchemy Core on a synchronous engine, used off the event loop
(``Database.run`` runs a function in a worker thread, in one transaction).
SQLite under ``$FLIGHTDECK_HOME/bot.db`` by default (WAL, busy timeout), any
SQLAlchemy URL (PostgreSQL) for several bot replicas. Other parts of the bot
(alerts, rollouts) add their tables to ``metadata``.

    db = Database(url="sqlite:////tmp/bot.db")
    db.create_all()
    rows = await db.run(lambda conn: conn.execute(select(approvals)).all())
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    make_url,
)

__all__ = [
    "Database",
    "approvals",
    "audit",
    "deliveries",
    "metadata",
    "traffic_history",
]

T = TypeVar("T")

metadata = MetaData()

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("user_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=True),
    Column("action", String(64), nullable=False),
    Column("text", Text, nullable=False, default=""),
    Column("result", String(32), nullable=False),
    Column("detail", Text, nullable=True),
    Column("endpoint", String(64), nullable=True),
    Column("approval_id", String(32), nullable=True),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("endpoint", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("requester_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("message_ts", String(32), nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("decided_by", String(32), nullable=True),
    Column("decided_at", DateTime, nullable=True),
    Column("outcome_ok", Integer, nullable=True),
    Column("outcome", Text, nullable=True),
)

traffic_history = Table(
    "traffic_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("endpoint", String(64), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("before", JSON, nullable=False),
    Column("after", JSON, nullable=False),
    Column("approval_id", String(32), nullable=True),
    Column("rolled_back_at", DateTime, nullable=True),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("at", DateTime, nullable=False),
)


class Database:
    """An engine and the tables; ``run`` executes a function in one transaction, off the loop."""

    def __init__(self, *, url: str) -> None:
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args: dict[str, Any] = {"timeout": 15} if self.is_sqlite else {}
        self.engine: Engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def create_all(self) -> None:
        """Create the tables that do not exist yet."""
        metadata.create_all(self.engine)

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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()
