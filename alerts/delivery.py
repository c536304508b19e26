"""One alert's step: decide, store the new state with its notice, post, record what was posted.

The order is what keeps a state from being posted twice, also across restarts:

1. the new state and an *outbox* (the notice, marked ``sending``) are written in one
   compare-and-set transaction, before anything is posted; a poll or a click that
   wrote first makes the step start again from what it wrote;
2. the notifier posts;
3. the outbox is cleared, with the new message's ts.

A crash between 1 and 3 leaves ``sending`` behind: a later step (in the next process)
cannot know whether the post reached Slack, so it drops the notice rather than risk
a second post (at most once; a lost firing message's thread is then replaced by a
new message for the reminder or the resolution). A ``sending`` outbox younger than
``IN_FLIGHT`` is a post in progress (another bot replica's): the step leaves the
alert alone until the next poll. A notifier that is
sure nothing was posted (``NotDelivered``: Slack refused it) gets the notice again
at the next poll, up to ``MAX_ATTEMPTS`` times.

Grouping (Alertmanager's ``group_by``): a step given a ``Batch`` stores the state and
its outbox (1) but leaves the post for ``flush``, which groups the batch's notices
and posts each group as one message (2), then clears each alert's outbox with the
group message's ts (3). New alerts group per endpoint (``group_by: endpoint``) or per
channel (``poll``), at most ``MAX_GROUP`` to a message; reminders and resolutions
group by the message they reply to. A group refused (``NotDelivered``) is released
alert by alert, as one refused notice is.

    deliverer = Deliverer(store=store, notifier=notifier)
    await deliverer.step(key, lambda state: evaluate(state, ...), context=context)

    batch = Batch()
    await deliverer.step(key, decide, context=context, batch=batch)   # for each alert
    await deliverer.flush(batch, group_by="endpoint")
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from alerts.notifier import AlertNotice, ChartPoint, NotDelivered, NoticeGroup, Notifier
from alerts.rules import Rule
from alerts.settings import GroupBy
from alerts.source import is_source
from alerts.state import AlertKey, AlertState, Decision, Notice
from alerts.store import AlertStore, Outbox, StoredAlert

__all__ = [
    "IN_FLIGHT",
    "MAX_ATTEMPTS",
    "MAX_GROUP",
    "Batch",
    "Context",
    "Deliverer",
    "group_notices",
]

log = logging.getLogger(__name__)

#: Times a notice Slack refused is tried (once a poll) before it is given up.
MAX_ATTEMPTS = 5
#: Times a step starts again after losing a compare-and-set (to a click, another replica).
_RETRIES = 5
#: A post being made may take this long (Slack's timeouts and rate-limit retries included).
IN_FLIGHT = timedelta(minutes=2)
#: Alerts in one grouped message at most (each takes a section and a row of buttons of
#: Slack's 50 blocks a message).
MAX_GROUP = 20


@dataclass(frozen=True, kw_only=True)
class Context:
    """What a message about the alert shows besides its state."""

    channel: str
    rule: Rule | None = None
    traffic_share: int | None = None
    chart: tuple[ChartPoint, ...] = ()


@dataclass
class Batch:
    """Alerts stored with their outbox in one poll, waiting for ``Deliverer.flush``."""

    pending: list[tuple[StoredAlert, Context]] = field(default_factory=list)


def _relevant(notice: Notice, state: AlertState) -> bool:
    """Whether a notice refused earlier still says something true."""
    if notice == "resolved":
        return state.status == "resolved"
    return state.status == "firing"


def _quiet(before: StoredAlert, after: StoredAlert) -> bool:
    """True when writing ``after`` is not worth it: an ok (or resolved) alert stays so."""
    return (
        before.state.status == after.state.status
        and after.state.status in ("ok", "resolved")
        and before.outbox == after.outbox
        and replace(before.state, value=None) == replace(after.state, value=None)
    )


class Deliverer:
    """Runs steps of alerts against a store and a notifier."""

    def __init__(
        self,
        *,
        store: AlertStore,
        notifier: Notifier,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._refused: set[str] = set()

    async def step(
        self,
        key: AlertKey,
        decide: Callable[[AlertState], Decision],
        *,
        context: Context,
        current: StoredAlert | None = None,
        batch: Batch | None = None,
    ) -> StoredAlert | None:
        """Move the alert on by ``decide``; post its notice, if any. The stored alert after.

        ``current`` is the alert as just read (version 0: not stored); without it, it is read.
        With ``batch``, the notice is stored and left for ``flush`` to post.
        """
        for _ in range(_RETRIES):
            if current is None:
                current = await self._store.get(key)
            stored = current or StoredAlert(state=AlertState(key=key))
            updated = self._next(stored, decide, context)
            if updated is None:
                return stored
            saved = await self._store.save(updated)
            if saved is not None:
                if saved.outbox is not None:
                    if batch is not None:
                        batch.pending.append((saved, context))
                        return saved
                    return await self._deliver(saved, context)
                return saved
            current = await self._store.get(key)
        log.warning("alert %s changed under every try: left for the next poll", key.as_id())
        return current

    def _next(
        self, stored: StoredAlert, decide: Callable[[AlertState], Decision], context: Context
    ) -> StoredAlert | None:
        """The alert to write, or ``None`` when nothing worth writing changed."""
        outbox = stored.outbox
        now = self._clock()
        if outbox is not None and outbox.sending:
            if now - outbox.at < IN_FLIGHT:
                log.info("the %s notice of %s is being posted", outbox.notice, stored.key.as_id())
                return None
            log.warning(
                "the %s notice of %s may have been posted before a stop or an error: "
                "it is not posted again",
                outbox.notice,
                stored.key.as_id(),
            )
            outbox = None
        decision = decide(stored.state)
        notice, attempts = decision.notice, 0
        if notice is None and outbox is not None and _relevant(outbox.notice, decision.state):
            notice, attempts = outbox.notice, outbox.attempts
        new_outbox = None
        if notice is not None:
            new_outbox = Outbox(id=secrets.token_hex(8), notice=notice, at=now, attempts=attempts)
        updated = StoredAlert(
            state=decision.state,
            rule=context.rule or stored.rule,
            traffic_share=context.traffic_share
            if context.traffic_share is not None
            else stored.traffic_share,
            outbox=new_outbox,
            version=stored.version,
        )
        if stored.version == 0 and updated.state.status == "ok" and new_outbox is None:
            return None  # no row for an alert that never left ok
        if _quiet(stored, updated) or updated == stored:
            return None
        return updated

    def _notice(self, alert: StoredAlert, context: Context) -> AlertNotice:
        outbox = alert.outbox
        assert outbox is not None
        state = alert.state
        notice = outbox.notice
        if notice == "firing" and state.message_ts is not None:
            notice = "reminder"  # the episode's message exists: say it again in its thread
        return AlertNotice(
            notice=notice,
            alert=alert,
            channel=(state.channel if state.message_ts else None) or context.channel,
            chart=context.chart if state.message_ts is None else (),
        )

    async def _deliver(self, alert: StoredAlert, context: Context) -> StoredAlert:
        message = self._notice(alert, context)
        try:
            ts = await self._notifier.send(message)
        except NotDelivered as exc:
            await self._was_refused(message, exc)
            return alert
        except Exception:
            await self._lost(message)
            return alert
        return await self._finished(message, ts)

    async def _was_refused(self, message: AlertNotice, exc: NotDelivered) -> None:
        alert, notice = message.alert, message.notice
        outbox, key = alert.outbox, alert.key
        assert outbox is not None
        attempts = outbox.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            log.error("gave up the %s notice of %s: %s", notice, key.as_id(), exc)
            await self._store.drop(key, outbox.id)
        else:
            if key.as_id() not in self._refused:
                log.warning("the %s notice of %s was refused: %s", notice, key.as_id(), exc)
                self._refused.add(key.as_id())
            await self._store.release(key, outbox.id, attempts=attempts)

    async def _lost(self, message: AlertNotice) -> None:
        alert = message.alert
        assert alert.outbox is not None
        log.exception(
            "posting the %s notice of %s failed; it may have been posted, so it is not "
            "posted again",
            message.notice,
            alert.key.as_id(),
        )
        await self._store.drop(alert.key, alert.outbox.id)

    async def _finished(self, message: AlertNotice, ts: str | None) -> StoredAlert:
        alert, key = message.alert, message.alert.key
        assert alert.outbox is not None
        self._refused.discard(key.as_id())
        await self._store.finish(key, alert.outbox.id, message_ts=ts, channel=message.channel)
        finished = replace(alert, outbox=None, version=alert.version + 1)
        if ts is not None:
            finished = replace(
                finished, state=replace(alert.state, message_ts=ts, channel=message.channel)
            )
        return finished

    # ------------------------------------------------------------ groups

    async def flush(self, batch: Batch, *, group_by: GroupBy = "endpoint") -> list[StoredAlert]:
        """Post the batch's notices, grouped (see the module docstring); the alerts after."""
        notices = [self._notice(alert, context) for alert, context in batch.pending]
        batch.pending.clear()
        done: list[StoredAlert] = []
        for group in group_notices(notices, group_by=group_by):
            if len(group) == 1 or not self._notifier.groups:
                for message in group:
                    done.append(await self._deliver(message.alert, _context_of(message)))
                continue
            done.extend(await self._deliver_group(NoticeGroup(notices=tuple(group))))
        return done

    async def _deliver_group(self, group: NoticeGroup) -> list[StoredAlert]:
        try:
            ts = await self._notifier.send_group(group)
        except NotDelivered as exc:
            for message in group.notices:
                await self._was_refused(message, exc)
            return [message.alert for message in group.notices]
        except Exception:
            for message in group.notices:
                await self._lost(message)
            return [message.alert for message in group.notices]
        return [await self._finished(message, ts) for message in group.notices]


def _context_of(message: AlertNotice) -> Context:
    alert = message.alert
    return Context(
        channel=message.channel,
        rule=alert.rule,
        traffic_share=alert.traffic_share,
        chart=message.chart,
    )


def group_notices(
    notices: list[AlertNotice], *, group_by: GroupBy = "endpoint"
) -> list[list[AlertNotice]]:
    """The notices in groups, each posted as one message, in the order they came.

    A new message (firing) groups by channel and endpoint (``group_by: poll``: by channel);
    a reply in a thread groups by the message it replies to and its kind. A failing
    metrics source stays alone. Groups hold at most ``MAX_GROUP`` notices.
    """
    groups: dict[tuple[str, ...], list[list[AlertNotice]]] = {}
    order: list[list[AlertNotice]] = []
    for message in notices:
        key = message.alert.key
        if is_source(key):
            order.append([message])
            continue
        if message.in_thread:
            what: tuple[str, ...] = ("thread", message.channel, str(message.alert.state.message_ts))
            what += (message.notice,)
        else:
            scope = key.endpoint if group_by == "endpoint" else "*"
            what = ("new", message.channel, scope, message.notice)
        chunks = groups.setdefault(what, [])
        if not chunks or len(chunks[-1]) >= MAX_GROUP:
            chunk: list[AlertNotice] = []
            chunks.append(chunk)
            order.append(chunk)
        chunks[-1].append(message)
    return order
