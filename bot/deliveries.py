"""Deliveries already handled: a retried slash command or click does its work once, and a
notice meant to be said once (an undeliverable channel) is said once.

if not await deliveries.first_time(f"command:{trigger_id}"):
    return   # a retry of a delivery already handled
await deliveries.forget("undeliverable:C0ALERTS:")   # every key starting so
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

    async def forget(self, prefix: str) -> int:
        """Forget every key starting with ``prefix`` (its next ``first_time`` is True again);
        how many were forgotten."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

        def work(conn: Connection) -> int:
            done = conn.execute(
                delete(deliveries).where(deliveries.c.key.like(pattern, escape="\\"))
            )
            return int(done.rowcount or 0)

        return await self.run(work)
