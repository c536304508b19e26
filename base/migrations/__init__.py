"""The bot database's schema migrations (Alembic), shipped in the package.

``upgrade`` brings a database to the newest revision, whoever made it: an empty one is
built from scratch, and one made by a release before the migrations (its tables, no
``alembic_version``) is adopted by revision 0001, which creates only the tables it lacks
and leaves the others and their rows as they are. ``flightdeck db upgrade`` runs it, and
so does every start of the bot (``flightdeck serve``, the console).

Two upgraders never race (two bot replicas starting together): the whole upgrade runs in
one transaction that first takes a lock, ``pg_advisory_xact_lock`` on PostgreSQL and an
exclusive transaction (``BEGIN EXCLUSIVE``) on SQLite; the second waits, then finds the
database at head and does nothing. DDL is transactional on both, so a failed upgrade
leaves the database as it was.

    before, after = upgrade("sqlite:////tmp/bot.db")      # (None, "0001") the first time
    current(engine)                                      # "0001"

A new revision: change the tables (on ``base.db.metadata``), then let Alembic write the
difference into versions/ and read it over::

    from alembic import command
    from bot.db import metadata                           # every table
    command.revision(alembic_config(url, target_metadata=metadata), "add x", autogenerate=True)

(``url``: a database at head.) Revisions name their constraints and indexes explicitly
(``op.f(...)``): the names of ``base.db.NAMING_CONVENTION``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from base.db import sqlite_pragmas

__all__ = ["LOCK_KEY", "alembic_config", "current", "head", "upgrade"]

log = logging.getLogger(__name__)

#: Where env.py, script.py.mako and versions/ are.
HERE = Path(__file__).resolve().parent

#: The PostgreSQL advisory lock key of upgrades (any fixed 64-bit number: "fdmigrat").
LOCK_KEY = 0x66646D6967726174

#: Seconds a SQLite upgrader waits for another one's upgrade to finish.
SQLITE_LOCK_TIMEOUT = 120

# Alembic's ``context`` and ``op`` are module globals: one of its commands at a time in a
# process (taken after the database's lock, so that it never waits while holding it).
_ALEMBIC = threading.Lock()


def alembic_config(
    connection: Connection | None = None,
    *,
    url: str | URL | None = None,
    target_metadata: MetaData | None = None,
) -> Config:
    """Alembic's configuration for these migrations: env.py runs on ``connection`` (or,
    for Alembic's own commands and ``--sql``, on ``url``); ``target_metadata`` only for
    autogenerate and comparisons."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    if url is not None:
        rendered = url if isinstance(url, str) else url.render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    config.attributes["connection"] = connection
    config.attributes["target_metadata"] = target_metadata
    return config


def head() -> str:
    """The newest revision."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert found is not None, "base/migrations/versions holds no revision"
    return found


def current(target: Engine | str | URL) -> str | None:
    """The revision of the database (``None``: never upgraded)."""
    engine = target if isinstance(target, Engine) else create_engine(target, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if engine is not target:
            engine.dispose()


def upgrade(target: Engine | str | URL, *, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the database to ``revision``, holding the upgrade lock; its revisions
    (before, after)."""
    engine, owned = _migration_engine(target)
    try:
        with engine.connect() as conn, conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _signed(LOCK_KEY)})
            before = MigrationContext.configure(conn).get_current_revision()
            with _ALEMBIC:
                command.upgrade(alembic_config(conn), revision)
            after = MigrationContext.configure(conn).get_current_revision()
    finally:
        if owned:
            engine.dispose()
    if before != after:
        log.info("database schema upgraded from %s to %s", before or "nothing", after)
    return before, after


def _signed(key: int) -> int:
    """``key`` as PostgreSQL's bigint (signed)."""
    return key - (1 << 64) if key >= 1 << 63 else key


def _migration_engine(target: Engine | str | URL) -> tuple[Engine, bool]:
    """An engine of its own for the upgrade (and whether to dispose of it): on SQLite its
    transactions begin with ``BEGIN EXCLUSIVE`` (the upgrade lock), and its DDL is
    transactional (the driver's own transaction handling is off)."""
    url = target.url if isinstance(target, Engine) else make_url(target)
    if url.get_backend_name() != "sqlite":
        if isinstance(target, Engine):
            return target, False
        return create_engine(url, poolclass=NullPool), True
    if url.database in (None, "", ":memory:"):
        # One process's database: nobody to race with, and a new engine would not see it.
        return (target, False) if isinstance(target, Engine) else (create_engine(url), True)
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": SQLITE_LOCK_TIMEOUT})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine, True


def _sqlite_connect(dbapi_connection: object, record: object) -> None:
    sqlite_pragmas(dbapi_connection, record)
    # The driver would BEGIN only before DML and commit before DDL: let SQLAlchemy's
    # ``begin`` decide instead (SQLAlchemy's documented recipe for pysqlite).
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN EXCLUSIVE")
