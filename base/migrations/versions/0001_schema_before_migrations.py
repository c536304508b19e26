"""The schema of the release before migrations: the bot's tables, alerts', rollouts'.

Exactly what that release's ``create_all()`` made (tests/base/fixtures/schema_0_*.sql hold
its DDL): unnamed primary keys and unique constraint (PostgreSQL names them
``<table>_pkey`` and ``<table>_<column>_key`` itself; SQLite keeps them unnamed), and
SQLAlchemy's default index names. A database made by that release has some or all of
these tables and no ``alembic_version``: this revision creates only the tables it lacks
(``flightdeck rollout`` in a terminal never made ``alert_states``), so it adopts such a
database without touching a row.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _audit() -> None:
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("endpoint", sa.String(64), nullable=True),
        sa.Column("approval_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_at", "audit", ["at"])


def _approvals() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("requester_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(32), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("outcome_ok", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_approvals_status", "approvals", ["status"])


def _traffic_history() -> None:
    op.create_table(
        "traffic_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("approval_id", sa.String(32), nullable=True),
        sa.Column("rolled_back_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_traffic_history_endpoint", "traffic_history", ["endpoint"])


def _deliveries() -> None:
    op.create_table(
        "deliveries",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def _alert_states() -> None:
    op.create_table(
        "alert_states",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("deployment", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=True),
        sa.Column("fired_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("last_notified_at", sa.DateTime(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("peak", sa.Float(), nullable=True),
        sa.Column("acknowledged_by", sa.String(32), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("silenced_until", sa.DateTime(), nullable=True),
        sa.Column("silenced_by", sa.String(32), nullable=True),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("rule_spec", sa.JSON(), nullable=True),
        sa.Column("traffic_share", sa.Integer(), nullable=True),
        sa.Column("outbox_id", sa.String(32), nullable=True),
        sa.Column("outbox_notice", sa.String(16), nullable=True),
        sa.Column("outbox_sending", sa.Integer(), nullable=True),
        sa.Column("outbox_attempts", sa.Integer(), nullable=False),
        sa.Column("outbox_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_states_endpoint", "alert_states", ["endpoint"])
    op.create_index("ix_alert_states_status", "alert_states", ["status"])


def _rollouts() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("active_endpoint", sa.String(64), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("message_channel", sa.String(32), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("active_endpoint"),
    )
    op.create_index("ix_rollouts_endpoint", "rollouts", ["endpoint"])


def _endpoint_locks() -> None:
    op.create_table(
        "endpoint_locks",
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("locked_by", sa.String(64), nullable=False),
        sa.Column("locked_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("endpoint"),
    )


#: Each table and what creates it (with its indexes), in the order the release made them.
TABLES: dict[str, Callable[[], None]] = {
    "audit": _audit,
    "approvals": _approvals,
    "traffic_history": _traffic_history,
    "deliveries": _deliveries,
    "alert_states": _alert_states,
    "rollouts": _rollouts,
    "endpoint_locks": _endpoint_locks,
}


def upgrade() -> None:
    """Create the tables the database lacks (all of them in an empty one)."""
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in TABLES.items():
        if name not in existing:
            create()


def downgrade() -> None:
    """Drop every table (and its rows)."""
    for name in reversed(TABLES):
        op.drop_table(name)
