"""The audit log: every command, approval and outcome (who, what, where, when, result).

await audit.record(user="U1", channel="C1", action="/traffic", text="pr blue=90 green=10",
                   result="requested", endpoint="pr", approval_id=approval.id)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from base.clock import as_utc, to_naive_utc
from base.db import Store
from bot.db import audit

__all__ = ["AuditEntry", "AuditLog"]


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """One line of the audit log."""

    id: int
    at: datetime
    user_id: str
    channel_id: str | None
    action: str
    text: str
    result: str
    detail: str | None
    endpoint: str | None
    approval_id: str | None


class AuditLog(Store):
    """Writes and reads the ``audit`` table."""

    async def record(
        self,
        *,
        user: str,
        channel: str | None,
        action: str,
        result: str,
        text: str = "",
        detail: str | None = None,
        endpoint: str | None = None,
        approval_id: str | None = None,
    ) -> None:
        """Append one entry, stamped with the clock's time."""
        row = {
            "at": to_naive_utc(self._clock()),
            "user_id": user,
            "channel_id": channel,
            "action": action,
            "text": text,
            "result": result,
            "detail": detail[:4000] if detail else None,
            "endpoint": endpoint,
            "approval_id": approval_id,
        }

        def work(conn: Connection) -> None:
            conn.execute(insert(audit).values(**row))

        await self.run(work)

    async def last_channel(self, endpoint: str, *, besides: str | None = None) -> str | None:
        """The channel of the latest slash command on ``endpoint`` (where people work on it:
        its deploy channel), other than ``besides``; ``None`` when none is known."""

        def work(conn: Connection) -> str | None:
            query = (
                select(audit.c.channel_id)
                .where(
                    audit.c.endpoint == endpoint,
                    audit.c.channel_id.is_not(None),
                    audit.c.action.startswith("/"),
                )
                .order_by(audit.c.id.desc())
                .limit(1)
            )
            if besides is not None:
                query = query.where(audit.c.channel_id != besides)
            channel = conn.execute(query).scalar()
            return str(channel) if channel is not None else None

        return await self.run(work)

    async def entries(self, *, limit: int = 200) -> list[AuditEntry]:
        """The latest entries, oldest first."""

        def work(conn: Connection) -> list[AuditEntry]:
            rows = conn.execute(select(audit).order_by(audit.c.id.desc()).limit(limit)).all()
            return [
                AuditEntry(
                    id=r.id,
                    at=as_utc(r.at),
                    user_id=r.user_id,
                    channel_id=r.channel_id,
                    action=r.action,
                    text=r.text,
                    result=r.result,
                    detail=r.detail,
                    endpoint=r.endpoint,
                    approval_id=r.approval_id,
                )
                for r in reversed(rows)
            ]

        return await self.run(work)
