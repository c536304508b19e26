"""Approval requests, decided exactly once.

A request is ``pending`` until someone approves or rejects it, or it expires. The
decision is an atomic compare-and-set in the database (``UPDATE ... WHERE
status = 'pending' AND expires_at > now``): a second click, a click on a decided
or expired request, or a retried delivery changes nothing. Requests live in the
database, so pending ones survive a bot restart.

    approval = await store.create(kind="traffic", endpoint="pr", payload=plan.to_json(),
                                  requester="U1", channel="C1", now=now, expires_at=later)
    decision = await store.decide(approval.id, approve=True, user="U2", now=now)
    if decision.won: ...apply, then await store.set_outcome(approval.id, ok=True, text="...")
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Row, insert, select, update

from base.clock import as_utc, to_naive_utc
from base.db import Store
from bot.db import approvals

__all__ = ["Approval", "ApprovalStore", "Decision", "Status"]

Status = Literal["pending", "approved", "rejected", "expired"]


@dataclass(frozen=True, kw_only=True)
class Approval:
    """One approval request as stored."""

    id: str
    kind: str
    endpoint: str
    payload: Mapping[str, Any]
    requester: str
    channel: str
    message_ts: str | None
    created_at: datetime
    expires_at: datetime
    status: Status
    decided_by: str | None = None
    decided_at: datetime | None = None
    outcome_ok: bool | None = None
    outcome: str | None = None

    def expired_at(self, now: datetime) -> bool:
        """True when the request can no longer be decided because of its age."""
        return self.status == "expired" or (self.status == "pending" and now >= self.expires_at)


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The result of a click: ``won`` when this click decided the request."""

    won: bool
    approval: Approval


def _from_row(row: Row[Any]) -> Approval:
    return Approval(
        id=row.id,
        kind=row.kind,
        endpoint=row.endpoint,
        payload=dict(row.payload),
        requester=row.requester_id,
        channel=row.channel_id,
        message_ts=row.message_ts,
        created_at=as_utc(row.created_at),
        expires_at=as_utc(row.expires_at),
        status=row.status,
        decided_by=row.decided_by,
        decided_at=as_utc(row.decided_at) if row.decided_at else None,
        outcome_ok=None if row.outcome_ok is None else bool(row.outcome_ok),
        outcome=row.outcome,
    )


class ApprovalStore(Store):
    """The ``approvals`` table (times come from the caller: ``now``)."""

    async def create(
        self,
        *,
        kind: str,
        endpoint: str,
        payload: Mapping[str, Any],
        requester: str,
        channel: str,
        now: datetime,
        expires_at: datetime,
    ) -> Approval:
        """A new pending request."""
        approval = Approval(
            id=secrets.token_hex(8),
            kind=kind,
            endpoint=endpoint,
            payload=dict(payload),
            requester=requester,
            channel=channel,
            message_ts=None,
            created_at=now,
            expires_at=expires_at,
            status="pending",
        )
        row = {
            "id": approval.id,
            "kind": kind,
            "endpoint": endpoint,
            "payload": dict(payload),
            "requester_id": requester,
            "channel_id": channel,
            "created_at": to_naive_utc(now),
            "expires_at": to_naive_utc(expires_at),
            "status": "pending",
        }
        await self.run(lambda conn: conn.execute(insert(approvals).values(**row)))
        return approval

    async def get(self, approval_id: str) -> Approval | None:
        """The request, or ``None``."""
        return await self.run(lambda conn: self._get(conn, approval_id))

    @staticmethod
    def _get(conn: Connection, approval_id: str) -> Approval | None:
        row = conn.execute(select(approvals).where(approvals.c.id == approval_id)).first()
        return _from_row(row) if row is not None else None

    async def set_message(self, approval_id: str, *, channel: str, ts: str) -> None:
        """Remember the message that shows the request (updated on decision)."""
        stmt = (
            update(approvals)
            .where(approvals.c.id == approval_id)
            .values(channel_id=channel, message_ts=ts)
        )
        await self.run(lambda conn: conn.execute(stmt))

    async def decide(
        self, approval_id: str, *, approve: bool, user: str, now: datetime
    ) -> Decision:
        """Approve or reject, once: only the first click on a live request wins."""
        status: Status = "approved" if approve else "rejected"
        when = to_naive_utc(now)

        def work(conn: Connection) -> Decision:
            result = conn.execute(
                update(approvals)
                .where(
                    approvals.c.id == approval_id,
                    approvals.c.status == "pending",
                    approvals.c.expires_at > when,
                )
                .values(status=status, decided_by=user, decided_at=when)
            )
            found = self._get(conn, approval_id)
            if found is None:
                raise KeyError(approval_id)
            return Decision(won=result.rowcount == 1, approval=found)

        return await self.run(work)

    async def expire(self, approval_id: str, *, now: datetime) -> Decision:
        """Mark a pending request past its expiry as expired (once)."""
        when = to_naive_utc(now)

        def work(conn: Connection) -> Decision:
            result = conn.execute(
                update(approvals)
                .where(
                    approvals.c.id == approval_id,
                    approvals.c.status == "pending",
                    approvals.c.expires_at <= when,
                )
                .values(status="expired", decided_at=when)
            )
            found = self._get(conn, approval_id)
            if found is None:
                raise KeyError(approval_id)
            return Decision(won=result.rowcount == 1, approval=found)

        return await self.run(work)

    async def set_outcome(self, approval_id: str, *, ok: bool, text: str) -> Approval:
        """Record the outcome of applying an approved request."""

        def work(conn: Connection) -> Approval:
            conn.execute(
                update(approvals)
                .where(approvals.c.id == approval_id)
                .values(outcome_ok=int(ok), outcome=text[:4000])
            )
            found = self._get(conn, approval_id)
            assert found is not None
            return found

        return await self.run(work)

    async def pending(self) -> list[Approval]:
        """Every pending request (expired ones included until a click marks them)."""

        def work(conn: Connection) -> list[Approval]:
            rows = conn.execute(
                select(approvals)
                .where(approvals.c.status == "pending")
                .order_by(approvals.c.created_at)
            ).all()
            return [_from_row(r) for r in rows]

        return await self.run(work)
