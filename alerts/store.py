"""Alert states in the bot's database (SQLAlchemy Core), written so that nothing is posted twice.

One row per alert (endpoint, deployment, rule): its ``AlertState``, the rule and
traffic share it was judged with (for messages), a ``version`` for compare-and-set
writes, and an *outbox*: the notice being posted. The watcher writes the new state
together with the outbox (one transaction), posts, then records the message and
clears the outbox (see ``alerts.delivery``). Clicks (acknowledge, silence) write
with the same compare-and-set, so a poll and a click never overwrite each other.

The table lives on the database's one ``base.db.metadata``; the migrations
(``base.migrations``) make it.

    store = AlertStore(engine=db.engine, clock=utc_now)
    alerts = await store.load("product-recommender")
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Float,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from alerts.rules import Rule
from alerts.state import AlertKey, AlertState, Notice
from base.clock import as_utc, to_naive_utc
from base.db import Store, metadata

__all__ = ["AlertStore", "Outbox", "StoredAlert", "alert_states"]

alert_states = Table(
    "alert_states",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("endpoint", String(64), nullable=False, index=True),
    Column("deployment", String(64), nullable=False),
    Column("rule", String(32), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("since", DateTime, nullable=True),
    Column("fired_at", DateTime, nullable=True),
    Column("resolved_at", DateTime, nullable=True),
    Column("last_notified_at", DateTime, nullable=True),
    Column("value", Float, nullable=True),
    Column("peak", Float, nullable=True),
    Column("acknowledged_by", String(32), nullable=True),
    Column("acknowledged_at", DateTime, nullable=True),
    Column("silenced_until", DateTime, nullable=True),
    Column("silenced_by", String(32), nullable=True),
    Column("channel", String(32), nullable=True),
    Column("message_ts", String(32), nullable=True),
    Column("detail", Text, nullable=True),
    Column("rule_spec", JSON, nullable=True),
    Column("traffic_share", Integer, nullable=True),
    Column("outbox_id", String(32), nullable=True),
    Column("outbox_notice", String(16), nullable=True),
    Column("outbox_sending", Integer, nullable=True),
    Column("outbox_attempts", Integer, nullable=False, default=0),
    Column("outbox_at", DateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

_TIMES = ("since", "fired_at", "resolved_at", "last_notified_at", "acknowledged_at")
_COPIED = ("status", "value", "peak", "acknowledged_by", "silenced_by", "channel", "message_ts")


@dataclass(frozen=True, kw_only=True)
class Outbox:
    """A notice on its way: ``sending`` once the post may have reached Slack."""

    id: str
    notice: Notice
    #: When it was written (an old ``sending`` outbox is a post cut short by a stop).
    at: datetime
    sending: bool = True
    attempts: int = 0


@dataclass(frozen=True, kw_only=True)
class StoredAlert:
    """An alert as stored: its state, what it was judged with, and its outbox."""

    state: AlertState
    rule: Rule | None = None
    traffic_share: int | None = None
    outbox: Outbox | None = None
    #: 0 for an alert not stored yet.
    version: int = 0

    @property
    def key(self) -> AlertKey:
        """The alert's key."""
        return self.state.key


def _to_db(value: datetime | None) -> datetime | None:
    return None if value is None else to_naive_utc(value)


def _from_db(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def _rule_json(rule: Rule | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {
        "kind": rule.kind,
        "threshold": rule.threshold,
        "duration_s": rule.duration.total_seconds(),
        "include_4xx": rule.include_4xx,
    }


def _rule_from(data: Any) -> Rule | None:
    if not isinstance(data, dict):
        return None
    return Rule(
        kind=data["kind"],
        threshold=float(data["threshold"]),
        duration=timedelta(seconds=float(data["duration_s"])),
        include_4xx=bool(data.get("include_4xx")),
    )


def _row_values(alert: StoredAlert) -> dict[str, Any]:
    state = alert.state
    values: dict[str, Any] = {name: getattr(state, name) for name in _COPIED}
    values.update({name: _to_db(getattr(state, name)) for name in _TIMES})
    values["silenced_until"] = _to_db(state.silenced_until)
    values["detail"] = state.detail
    values["rule_spec"] = _rule_json(alert.rule)
    values["traffic_share"] = alert.traffic_share
    outbox = alert.outbox
    values["outbox_id"] = outbox.id if outbox else None
    values["outbox_notice"] = outbox.notice if outbox else None
    values["outbox_sending"] = int(outbox.sending) if outbox else None
    values["outbox_attempts"] = outbox.attempts if outbox else 0
    values["outbox_at"] = _to_db(outbox.at) if outbox else None
    return values


def _alert(row: Any) -> StoredAlert:
    key = AlertKey(endpoint=row.endpoint, deployment=row.deployment, rule=row.rule)
    fields: dict[str, Any] = {name: getattr(row, name) for name in _COPIED}
    fields.update({name: _from_db(getattr(row, name)) for name in _TIMES})
    state = AlertState(
        key=key, silenced_until=_from_db(row.silenced_until), detail=row.detail, **fields
    )
    outbox = None
    if row.outbox_id:
        outbox = Outbox(
            id=row.outbox_id,
            notice=row.outbox_notice,
            sending=bool(row.outbox_sending),
            attempts=row.outbox_attempts or 0,
            at=_from_db(row.outbox_at) or datetime.fromtimestamp(0, UTC),
        )
    return StoredAlert(
        state=state,
        rule=_rule_from(row.rule_spec),
        traffic_share=row.traffic_share,
        outbox=outbox,
        version=row.version,
    )


class AlertStore(Store):
    """Reads and compare-and-set writes of alert rows, off the event loop."""

    # ------------------------------------------------------------ reads

    async def get(self, key: AlertKey) -> StoredAlert | None:
        """One alert, or ``None`` when never stored."""

        def work(conn: Connection) -> StoredAlert | None:
            query = select(alert_states).where(alert_states.c.id == key.as_id())
            row = conn.execute(query).first()
            return None if row is None else _alert(row)

        return await self.run(work)

    async def load(self, endpoint: str) -> dict[AlertKey, StoredAlert]:
        """Every stored alert of ``endpoint``."""

        def work(conn: Connection) -> dict[AlertKey, StoredAlert]:
            rows = conn.execute(select(alert_states).where(alert_states.c.endpoint == endpoint))
            return {alert.key: alert for alert in map(_alert, rows)}

        return await self.run(work)

    async def active(self, now: datetime) -> list[StoredAlert]:
        """Alerts that are pending, firing, or silenced now; by endpoint, deployment, rule."""

        def work(conn: Connection) -> list[StoredAlert]:
            table = alert_states.c
            query = select(alert_states).where(
                table.status.in_(("pending", "firing")) | (table.silenced_until > _to_db(now))
            )
            rows = conn.execute(query.order_by(table.endpoint, table.deployment, table.rule))
            return [_alert(row) for row in rows]

        return await self.run(work)

    async def by_message(self, channel: str, ts: str) -> list[StoredAlert]:
        """The alerts a message shows (a grouped message shows several); by endpoint,
        deployment, rule."""

        def work(conn: Connection) -> list[StoredAlert]:
            table = alert_states.c
            query = select(alert_states).where(
                (table.channel == channel) & (table.message_ts == ts)
            )
            rows = conn.execute(query.order_by(table.endpoint, table.deployment, table.rule))
            return [_alert(row) for row in rows]

        return await self.run(work)

    async def endpoints(self) -> set[str]:
        """Endpoints with an alert that is not ok (pending, firing, or resolved lately)."""

        def work(conn: Connection) -> set[str]:
            query = select(alert_states.c.endpoint).where(alert_states.c.status != "ok")
            return {row.endpoint for row in conn.execute(query.distinct())}

        return await self.run(work)

    # ------------------------------------------------------------ writes

    async def save(self, alert: StoredAlert) -> StoredAlert | None:
        """Write ``alert`` if the stored row is still at ``alert.version`` (0: not stored).

        The saved alert (its version one up), or ``None`` when someone wrote first.
        """
        now = _to_db(self._clock())

        def work(conn: Connection) -> bool:
            values = _row_values(alert)
            values.update(version=alert.version + 1, updated_at=now)
            if alert.version == 0:
                key = alert.key
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(alert_states).values(
                                id=key.as_id(),
                                endpoint=key.endpoint,
                                deployment=key.deployment,
                                rule=key.rule,
                                **values,
                            )
                        )
                except IntegrityError:
                    return False
                return True
            query = (
                update(alert_states)
                .where(alert_states.c.id == alert.key.as_id())
                .where(alert_states.c.version == alert.version)
                .values(**values)
            )
            return conn.execute(query).rowcount == 1

        won = await self.run(work)
        return replace(alert, version=alert.version + 1) if won else None

    async def finish(
        self, key: AlertKey, outbox_id: str, *, message_ts: str | None, channel: str | None
    ) -> bool:
        """The outbox ``outbox_id`` was posted: clear it (and keep the new message's ts)."""
        values: dict[str, Any] = {"outbox_id": None, "outbox_notice": None, "outbox_sending": None}
        values["outbox_attempts"] = 0
        if message_ts is not None:
            values.update(message_ts=message_ts, channel=channel)
        return await self._outbox(key, outbox_id, values)

    async def release(self, key: AlertKey, outbox_id: str, *, attempts: int) -> bool:
        """Nothing of outbox ``outbox_id`` was posted (Slack refused it): post it again later."""
        return await self._outbox(
            key, outbox_id, {"outbox_sending": 0, "outbox_attempts": attempts}
        )

    async def drop(self, key: AlertKey, outbox_id: str) -> bool:
        """Give up outbox ``outbox_id``: it may have been posted, or failed too often."""
        values = {"outbox_id": None, "outbox_notice": None, "outbox_sending": None}
        return await self._outbox(key, outbox_id, {**values, "outbox_attempts": 0})

    async def _outbox(self, key: AlertKey, outbox_id: str, values: dict[str, Any]) -> bool:
        now = _to_db(self._clock())

        def work(conn: Connection) -> bool:
            query = (
                update(alert_states)
                .where(alert_states.c.id == key.as_id())
                .where(alert_states.c.outbox_id == outbox_id)
                .values(version=alert_states.c.version + 1, updated_at=now, **values)
            )
            return conn.execute(query).rowcount == 1

        return await self.run(work)
