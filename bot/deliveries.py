"""Deliveries already handled: a retried slash command or click does its work once.

if not await deliveries.first_time(f"command:{trigger_id}"):
    return   # a retry of a delivery already handled
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, delete, insert
from sqlalchemy.exc import IntegrityError

from base.clock import to_naive_utc
from base.db import Store
from bot.db import deliveries

__all__ = ["DeliveryLog"]

#: Keys older than this are forgotten (Slack retries within minutes).
KEEP = timedelta(days=1)


class DeliveryLog(Store):
    """The ``deliveries`` table: one row per delivery key seen."""

    async def first_time(self, key: str) -> bool:
        """True the first time ``key`` is seen (atomically, across bot replicas)."""
        now = self._clock()

        def work(conn: Connection) -> None:
            conn.execute(delete(deliveries).where(deliveries.c.at < to_naive_utc(now - KEEP)))
            conn.execute(insert(deliveries).values(key=key[:128], at=to_naive_utc(now)))

        try:
            await self.run(work)
        except IntegrityError:
            return False
        return True
