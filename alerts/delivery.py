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

    deliverer = Deliverer(store=store, notifier=notifier)
    await deliverer.step(key, lambda state: evaluate(state, ...), context=context)
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from alerts.notifier import AlertNotice, ChartPoint, NotDelivered, Notifier
from alerts.rules import Rule
from alerts.state import AlertKey, AlertState, Decision, Notice
from alerts.store import AlertStore, Outbox, StoredAlert

__all__ = ["IN_FLIGHT", "MAX_ATTEMPTS", "Context", "Deliverer"]

log = logging.getLogger(__name__)

#: Times a notice Slack refused is tried (once a poll) before it is given up.
MAX_ATTEMPTS = 5
#: Times a step starts again after losing a compare-and-set (to a click, another replica).
_RETRIES = 5
#: A post being made may take this long (Slack's timeouts and rate-limit retries included).
IN_FLIGHT = timedelta(minutes=2)


@dataclass(frozen=True, kw_only=True)
class Context:
    """What a message about the alert shows besides its state."""

    channel: str
    rule: Rule | None = None
    traffic_share: int | None = None
    chart: tuple[ChartPoint, ...] = ()


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
    ) -> StoredAlert | None:
        """Move the alert on by ``decide``; post its notice, if any. The stored alert after.

        ``current`` is the alert as just read (version 0: not stored); without it, it is read.
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

    async def _deliver(self, alert: StoredAlert, context: Context) -> StoredAlert:
        outbox = alert.outbox
        assert outbox is not None
        key = alert.key
        state = alert.state
        notice = outbox.notice
        if notice == "firing" and state.message_ts is not None:
            notice = "reminder"  # the episode's message exists: say it again in its thread
        message = AlertNotice(
            notice=notice,
            alert=alert,
            channel=(state.channel if state.message_ts else None) or context.channel,
            chart=context.chart if state.message_ts is None else (),
        )
        try:
            ts = await self._notifier.send(message)
        except NotDelivered as exc:
            attempts = outbox.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                log.error("gave up the %s notice of %s: %s", notice, key.as_id(), exc)
                await self._store.drop(key, outbox.id)
            else:
                if key.as_id() not in self._refused:
                    log.warning("the %s notice of %s was refused: %s", notice, key.as_id(), exc)
                    self._refused.add(key.as_id())
                await self._store.release(key, outbox.id, attempts=attempts)
            return alert
        except Exception:
            log.exception(
                "posting the %s notice of %s failed; it may have been posted, so it is not "
                "posted again",
                notice,
                key.as_id(),
            )
            await self._store.drop(key, outbox.id)
            return alert
        self._refused.discard(key.as_id())
        await self._store.finish(key, outbox.id, message_ts=ts, channel=message.channel)
        finished = replace(alert, outbox=None, version=alert.version + 1)
        if ts is not None:
            finished = replace(
                finished, state=replace(state, message_ts=ts, channel=message.channel)
            )
        return finished
