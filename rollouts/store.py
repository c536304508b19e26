"""Rollouts in the bot's database (SQLAlchemy Core): one row each, written by compare-and-set.

The row holds the rollout's state as JSON and a ``version``; ``save`` writes only when
the stored version is still the one the transition started from, so a step is applied
(and recorded) once, whichever engine or click gets there first. ``active_endpoint``
is the endpoint's name while the rollout is active and NULL once it is done: a unique
column, so that the database itself keeps one rollout per endpoint at a time.

An engine *leases* a rollout before driving it (``claim``): another engine on the same
database (a second bot replica, ``flightdeck rollout`` in a terminal) leaves it alone
until the lease runs out, and takes over then.

The tables live on the database's one ``base.db.metadata``; the migrations
(``base.migrations``) make them.

    store = RolloutStore(engine=db.engine, clock=utc_now)
    rollout = await store.create(new_rollout(...))
    rollout = await store.save(applied(rollout, now=now))     # None: someone else moved it
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Integer,
    String,
    Table,
    and_,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from base.clock import as_utc, to_naive_utc
from base.db import Store, metadata
from rollouts import messages
from rollouts.errors import RolloutConflictError
from rollouts.machine import Rollout

__all__ = ["RolloutStore", "rollouts"]

rollouts = Table(
    "rollouts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("endpoint", String(64), nullable=False, index=True),
    Column("active_endpoint", String(64), nullable=True, unique=True),
    Column("status", String(24), nullable=False),
    Column("state", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_until", DateTime, nullable=True),
    Column("message_channel", String(32), nullable=True),
    Column("message_ts", String(32), nullable=True),
)


class RolloutStore(Store):
    """Reads and compare-and-set writes of rollouts, off the event loop."""

    # ------------------------------------------------------------ reads

    @staticmethod
    def _rollout(row: Any) -> Rollout:
        return Rollout.from_json(
            id=row.id, endpoint=row.endpoint, version=row.version, data=row.state
        )

    async def get(self, rollout_id: str) -> Rollout | None:
        """The rollout, or ``None``."""

        def work(conn: Connection) -> Rollout | None:
            row = conn.execute(select(rollouts).where(rollouts.c.id == rollout_id)).first()
            return self._rollout(row) if row is not None else None

        return await self.run(work)

    async def active_for(self, endpoint: str) -> Rollout | None:
        """The endpoint's active rollout, if any."""

        def work(conn: Connection) -> Rollout | None:
            row = conn.execute(
                select(rollouts).where(rollouts.c.active_endpoint == endpoint)
            ).first()
            return self._rollout(row) if row is not None else None

        return await self.run(work)

    async def active(self) -> list[Rollout]:
        """Every active rollout, oldest first."""

        def work(conn: Connection) -> list[Rollout]:
            rows = conn.execute(
                select(rollouts)
                .where(rollouts.c.active_endpoint.is_not(None))
                .order_by(rollouts.c.created_at)
            ).all()
            return [self._rollout(row) for row in rows]

        return await self.run(work)

    async def latest(self, endpoint: str | None = None, *, limit: int = 10) -> list[Rollout]:
        """The most recent rollouts (of one endpoint, or all), newest first."""

        def work(conn: Connection) -> list[Rollout]:
            query = select(rollouts).order_by(rollouts.c.created_at.desc()).limit(limit)
            if endpoint is not None:
                query = query.where(rollouts.c.endpoint == endpoint)
            return [self._rollout(row) for row in conn.execute(query).all()]

        return await self.run(work)

    async def message(self, rollout_id: str) -> tuple[str | None, str | None]:
        """The (channel, ts) of the rollout's progress message."""

        def work(conn: Connection) -> tuple[str | None, str | None]:
            row = conn.execute(
                select(rollouts.c.message_channel, rollouts.c.message_ts).where(
                    rollouts.c.id == rollout_id
                )
            ).first()
            return (row.message_channel, row.message_ts) if row is not None else (None, None)

        return await self.run(work)

    # ------------------------------------------------------------ writes

    async def create(self, rollout: Rollout) -> Rollout:
        """Store a new rollout; ``RolloutConflictError`` when its endpoint has an active one."""
        now = to_naive_utc(self._clock())
        state = rollout.to_json()
        values: dict[str, Any] = {
            "id": rollout.id,
            "endpoint": rollout.endpoint,
            "active_endpoint": rollout.endpoint if rollout.active else None,
            "status": rollout.status,
            "state": state,
            "version": 1,
            "created_at": to_naive_utc(rollout.created_at),
            "updated_at": now,
        }

        def work(conn: Connection) -> None:
            conn.execute(insert(rollouts).values(**values))

        try:
            await self.run(work)
        except IntegrityError:
            raise RolloutConflictError(
                messages.ALREADY_RUNNING.format(endpoint=rollout.endpoint)
            ) from None
        return Rollout.from_json(id=rollout.id, endpoint=rollout.endpoint, version=1, data=state)

    async def save(self, rollout: Rollout) -> Rollout | None:
        """Write ``rollout`` if the stored version is still ``rollout.version``; the stored
        rollout (version + 1), or ``None`` when another writer got there first."""
        state = rollout.to_json()
        values = {
            "status": rollout.status,
            "state": state,
            "version": rollout.version + 1,
            "active_endpoint": rollout.endpoint if rollout.active else None,
            "updated_at": to_naive_utc(self._clock()),
        }

        def work(conn: Connection) -> bool:
            result = conn.execute(
                update(rollouts)
                .where(rollouts.c.id == rollout.id, rollouts.c.version == rollout.version)
                .values(**values)
            )
            return result.rowcount == 1

        if not await self.run(work):
            return None
        return Rollout.from_json(
            id=rollout.id, endpoint=rollout.endpoint, version=rollout.version + 1, data=state
        )

    async def claim(self, rollout_id: str, *, owner: str, until: datetime) -> bool:
        """Lease the rollout to ``owner`` until ``until`` (renewing its own lease); False when
        another owner's lease still runs."""
        now = to_naive_utc(self._clock())

        def work(conn: Connection) -> bool:
            result = conn.execute(
                update(rollouts)
                .where(
                    rollouts.c.id == rollout_id,
                    or_(
                        rollouts.c.lease_owner.is_(None),
                        rollouts.c.lease_owner == owner,
                        and_(rollouts.c.lease_until.is_not(None), rollouts.c.lease_until < now),
                    ),
                )
                .values(lease_owner=owner, lease_until=to_naive_utc(until))
            )
            return result.rowcount == 1

        return await self.run(work)

    async def lease(self, rollout_id: str) -> tuple[str, datetime] | None:
        """Who holds the rollout's lease and until when; ``None`` when nobody does."""

        def work(conn: Connection) -> tuple[str, datetime] | None:
            row = conn.execute(
                select(rollouts.c.lease_owner, rollouts.c.lease_until).where(
                    rollouts.c.id == rollout_id
                )
            ).first()
            if row is None or row.lease_owner is None or row.lease_until is None:
                return None
            return str(row.lease_owner), as_utc(row.lease_until)

        return await self.run(work)

    async def release(self, rollout_id: str, *, owner: str) -> None:
        """Give the lease back (an engine stopping), so that another engine takes over at once."""

        def work(conn: Connection) -> None:
            conn.execute(
                update(rollouts)
                .where(rollouts.c.id == rollout_id, rollouts.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

        await self.run(work)

    async def set_message(self, rollout_id: str, *, channel: str, ts: str) -> None:
        """Remember the progress message (updated at each step)."""

        def work(conn: Connection) -> None:
            conn.execute(
                update(rollouts)
                .where(rollouts.c.id == rollout_id)
                .values(message_channel=channel, message_ts=ts)
            )

        await self.run(work)
