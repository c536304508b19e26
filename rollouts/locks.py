"""Endpoint locks: a freeze on an endpoint's deploys, traffic shifts, rollouts and scaling.

``/traffic <endpoint> lock --reason TEXT`` writes a row; while it is there the bot refuses
those changes on that endpoint (an approver may pass ``--force``), and a running rollout
holds its step (it still rolls back when its checks fail). ``unlock`` removes the row.
Who locked it, when and why shows in ``/traffic <endpoint>``.

    locks = LockStore(engine=db.engine)
    await locks.lock("product-recommender", user="U0ALICE", reason="sale", now=now)
    lock = await locks.get("product-recommender")      # None when not locked
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from base.clock import as_utc, to_naive_utc
from base.db import Store, metadata
from rollouts import messages
from rollouts.errors import EndpointLockedError, RolloutStateError
from rollouts.messages import escape, mention

__all__ = ["Lock", "LockStore", "endpoint_locks"]

endpoint_locks = Table(
    "endpoint_locks",
    metadata,
    Column("endpoint", String(64), primary_key=True),
    Column("locked_by", String(64), nullable=False),
    Column("locked_at", DateTime, nullable=False),
    Column("reason", Text, nullable=False),
)


@dataclass(frozen=True, kw_only=True)
class Lock:
    """Who locked an endpoint, when, and why."""

    endpoint: str
    by: str
    at: datetime
    reason: str

    def describe(self) -> str:
        """``locked by <@U0ALICE> at 2026-11-24 09:00 UTC: sale weekend``."""
        return messages.LOCKED_BY.format(
            user=mention(self.by),
            at=self.at.strftime("%Y-%m-%d %H:%M UTC"),
            reason=escape(self.reason),
        )

    def error(self) -> EndpointLockedError:
        """The refusal of a change while locked."""
        return EndpointLockedError(
            messages.LOCKED.format(endpoint=self.endpoint, lock=self.describe())
        )


class LockStore(Store):
    """The ``endpoint_locks`` table, off the event loop."""

    async def get(self, endpoint: str) -> Lock | None:
        """The endpoint's lock, or ``None``."""

        def work(conn: Connection) -> Lock | None:
            row = conn.execute(
                select(endpoint_locks).where(endpoint_locks.c.endpoint == endpoint)
            ).first()
            if row is None:
                return None
            at = row.locked_at
            return Lock(
                endpoint=row.endpoint,
                by=row.locked_by,
                at=as_utc(at),
                reason=row.reason,
            )

        return await self.run(work)

    async def lock(self, endpoint: str, *, user: str, reason: str) -> Lock:
        """Lock ``endpoint``; ``EndpointLockedError`` naming the holder when locked already."""
        now = self._clock()
        values = {
            "endpoint": endpoint,
            "locked_by": user,
            "locked_at": to_naive_utc(now),
            "reason": reason,
        }
        try:
            await self.run(lambda conn: conn.execute(insert(endpoint_locks).values(**values)))
        except IntegrityError:
            found = await self.get(endpoint)
            detail = found.describe() if found else ""
            raise EndpointLockedError(
                messages.ALREADY_LOCKED.format(endpoint=endpoint, lock=detail)
            ) from None
        return Lock(endpoint=endpoint, by=user, at=now, reason=reason)

    async def unlock(self, endpoint: str) -> Lock:
        """Remove the lock; the lock removed. ``RolloutStateError`` when there is none."""

        def work(conn: Connection) -> None:
            conn.execute(delete(endpoint_locks).where(endpoint_locks.c.endpoint == endpoint))

        found = await self.get(endpoint)
        if found is None:
            raise RolloutStateError(messages.NOT_LOCKED.format(endpoint=endpoint))
        await self.run(work)
        return found
