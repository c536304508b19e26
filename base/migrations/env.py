"""Alembic's migration environment for the bot's database.

``base.migrations.upgrade`` runs it on a connection already in a transaction (holding the
upgrade lock), given in ``config.attributes["connection"]``: every revision runs in that
one transaction. Without a connection it runs on ``sqlalchemy.url``, or writes SQL
(``--sql``). ``config.attributes["target_metadata"]`` is given only for autogenerate and
comparisons: revisions name their constraints themselves, so upgrades never depend on it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, MetaData, create_engine
from sqlalchemy.pool import NullPool

config = context.config
target_metadata: MetaData | None = config.attributes.get("target_metadata")


def run_on(connection: Connection) -> None:
    """Run the migrations on ``connection``."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # autogenerate: SQLite alters a table by copying it
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    run_on(given)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url to run the migrations on")
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            run_on(conn)
    finally:
        engine.dispose()
