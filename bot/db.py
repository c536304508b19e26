"""The bot's tables (audit log, approvals, traffic history, deliveries seen), and its
whole schema.

They live on ``base.db.metadata`` with alerts' and rollouts' tables, which this module
imports, so that ``bot.db.metadata`` holds every table of the bot's database (what the
migrations are compared with). The schema is made and changed by the migrations
(``base.migrations.upgrade``), which the bot runs at start.

    db = Database(url="sqlite:////tmp/bot.db")
    upgrade(db.engine)
    store = ApprovalStore(engine=db.engine)
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, String, Table, Text

# Their tables join the metadata: bot.db.metadata is the whole schema.
import alerts.store
import rollouts.locks
import rollouts.store
from base.db import Database, metadata

__all__ = [
    "TABLES",
    "Database",
    "approvals",
    "audit",
    "deliveries",
    "metadata",
    "traffic_history",
]

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

#: Every table of the bot's database.
TABLES = (
    audit,
    approvals,
    traffic_history,
    deliveries,
    alerts.store.alert_states,
    rollouts.store.rollouts,
    rollouts.locks.endpoint_locks,
)
