"""The traffic shifts the bot applied, for ``/traffic <endpoint> rollback``.

Rollback means: back to the split before the last shift Flightdeck applied, on any
backend. Each applied shift is a row with the split before and after it; a rollback
restores the ``before`` of the latest shift not rolled back yet and marks it rolled
back, so a second rollback goes one shift further back (an undo stack).

    await history.record(endpoint="pr", before=..., after=..., approval_id=a.id, now=now)
    change = await history.last_shift("pr")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, insert, select, update

from base.clock import as_utc, to_naive_utc
from base.db import Store
from bot.db import traffic_history
from commands.traffic import TrafficChange

__all__ = ["TrafficHistoryStore"]


def _split(traffic: Mapping[str, int], mirror: Mapping[str, int]) -> dict[str, Any]:
    return {"traffic": dict(traffic), "mirror": dict(mirror)}


class TrafficHistoryStore(Store):
    """The ``traffic_history`` table; implements ``commands.traffic.TrafficHistory``."""

    async def record(
        self,
        *,
        endpoint: str,
        before: Mapping[str, int],
        before_mirror: Mapping[str, int],
        after: Mapping[str, int],
        after_mirror: Mapping[str, int],
        approval_id: str | None,
        rollback_of: int | None = None,
    ) -> int:
        """Append an applied shift (or rollback, marking the shift it undid); its id."""
        now = to_naive_utc(self._clock())
        row = {
            "endpoint": endpoint,
            "at": now,
            "kind": "rollback" if rollback_of is not None else "shift",
            "before": _split(before, before_mirror),
            "after": _split(after, after_mirror),
            "approval_id": approval_id,
        }

        def work(conn: Connection) -> int:
            if rollback_of is not None:
                conn.execute(
                    update(traffic_history)
                    .where(traffic_history.c.id == rollback_of)
                    .values(rolled_back_at=now)
                )
            result = conn.execute(insert(traffic_history).values(**row))
            key = result.inserted_primary_key
            return int(key[0]) if key else 0

        return await self.run(work)

    async def last_shift(self, endpoint: str) -> TrafficChange | None:
        """The latest shift on ``endpoint`` not rolled back yet."""

        def work(conn: Connection) -> TrafficChange | None:
            row = conn.execute(
                select(traffic_history)
                .where(
                    traffic_history.c.endpoint == endpoint,
                    traffic_history.c.kind == "shift",
                    traffic_history.c.rolled_back_at.is_(None),
                )
                .order_by(traffic_history.c.id.desc())
                .limit(1)
            ).first()
            if row is None:
                return None
            before, after = dict(row.before), dict(row.after)
            return TrafficChange(
                id=row.id,
                endpoint=row.endpoint,
                at=as_utc(row.at),
                before=dict(before["traffic"]),
                before_mirror=dict(before["mirror"]),
                after=dict(after["traffic"]),
                after_mirror=dict(after["mirror"]),
            )

        return await self.run(work)
