"""The watcher on a fake clock and scripted metrics: each state posted once, also across
restarts and crashes; a failing metrics source reported once; the scheduler's job."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.delivery import MAX_ATTEMPTS, Context, Deliverer
from alerts.notifier import AlertNotice
from alerts.state import AlertKey, AlertState, Decision, evaluate
from alerts.store import AlertStore
from alerts.watcher import JOB_ID
from tests.alerts.kit import (
    CHANNEL,
    EP,
    UNAVAILABLE,
    Clock,
    RecordingNotifier,
    ScriptedBackend,
    make_settings,
    make_store,
    make_watcher,
    scripted_backend,
)

GREEN_P99 = f"{EP}/green/latency_p99"
GREEN_ERRORS = f"{EP}/green/error_rate"
SOURCE = f"{EP}//metrics_source"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def backend(clock: Clock) -> ScriptedBackend:
    return await scripted_backend(clock)


def load(backend: ScriptedBackend, *, slow: bool = True, errors: int = 0) -> None:
    """A minute's traffic: blue healthy, green slow (or not) with ``errors`` 5xx of 100."""
    backend.answer(EP, "blue", count=900, p99_ms=40)
    backend.answer(EP, "green", count=100 - errors, p99_ms=900 if slow else 60)
    if errors:
        backend.answer(EP, "green", count=errors, status="500", p99_ms=900 if slow else 60)


async def test_fires_once_after_the_duration_then_resolves_once(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    notifier = RecordingNotifier()
    watcher = make_watcher(backend, make_store(tmp_path / "bot.db", clock), notifier, clock)
    for minute in range(8):
        load(backend, slow=minute < 5)
        await watcher.poll_once()
        clock.advance(minutes=1)
    posted = notifier.log()
    assert posted == [("firing", GREEN_P99), ("resolved", GREEN_P99)]
    firing, resolved = notifier.sent
    assert firing.alert.state.since is not None
    assert firing.alert.state.fired_at == firing.alert.state.since + timedelta(minutes=3)
    assert (firing.channel, firing.alert.traffic_share, firing.alert.state.value) == (
        CHANNEL,
        10,
        900,
    )
    assert not firing.in_thread and resolved.in_thread
    assert resolved.alert.state.message_ts == "1700000000.000001"
    assert resolved.alert.state.value == 60
    # The chart: the rule's value per minute, the fetched window (15 minutes and the current).
    assert len(firing.chart) == 16
    assert [v for _, v in firing.chart][-4:] == [900, 900, 900, 900]
    assert backend.metrics_calls[0] == (EP, timedelta(minutes=15))


async def test_errors_and_no_traffic_rules(clock: Clock, tmp_path: Path) -> None:
    backend = await scripted_backend(clock)
    settings = make_settings(
        rules=[
            {"kind": "error_rate", "threshold": 5, "duration": "2m"},
            {"kind": "no_traffic", "duration": "2m"},
        ]
    )
    notifier = RecordingNotifier()
    watcher = make_watcher(
        backend, make_store(tmp_path / "bot.db", clock), notifier, clock, settings
    )
    for _ in range(3):  # green fails 8% (as 424: the model's 500 at the scoring URI)
        backend.answer(EP, "blue", count=100)
        backend.answer(EP, "green", count=92)
        backend.answer(EP, "green", count=8, status="424")
        await watcher.poll_once()
        clock.advance(minutes=1)
    assert notifier.log() == [("firing", GREEN_ERRORS)]
    assert notifier.sent[0].alert.state.value == pytest.approx(8.0)
    for _ in range(3):  # green gets no requests any more; blue still does
        backend.answer(EP, "blue", count=100)
        await watcher.poll_once()
        clock.advance(minutes=1)
    assert notifier.log() == [
        ("firing", GREEN_ERRORS),
        ("resolved", GREEN_ERRORS),  # no requests: no error rate
        ("firing", f"{EP}/green/no_traffic"),
    ]
    await backend.set_traffic(EP, {"blue": 100, "green": 0})
    await watcher.poll_once()  # a deployment without traffic is not expected to get any
    assert notifier.log()[-1] == ("resolved", f"{EP}/green/no_traffic")


async def test_no_state_is_posted_twice_across_restarts(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    """A new store and watcher (a restarted bot) before every poll, on the same database."""
    settings = make_settings(repeat_interval="5m")
    notifier = RecordingNotifier()
    timeline = []
    for minute in range(14):
        load(backend, slow=minute < 10)
        watcher = make_watcher(
            backend, make_store(tmp_path / "bot.db", clock), notifier, clock, settings
        )
        before = len(notifier.sent)
        await watcher.poll_once()
        timeline += [(minute, n) for n, _ in notifier.log()[before:]]
        clock.advance(minutes=1)
    # Without a reading from before the restart, a value is that of the minutes overlapping
    # the window: the slow minute 9 still counts at minute 10, so it resolves at minute 11.
    assert timeline == [(3, "firing"), (8, "reminder"), (11, "resolved")]
    first = notifier.sent[0]
    assert all(n.alert.state.message_ts == "1700000000.000001" for n in notifier.sent[1:])
    assert {n.alert.key.as_id() for n in notifier.sent} == {first.alert.key.as_id()}


async def test_a_post_whose_answer_is_lost_is_not_posted_again(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    settings = make_settings(repeat_interval="5m")
    notifier = RecordingNotifier()
    watcher = make_watcher(
        backend, make_store(tmp_path / "bot.db", clock), notifier, clock, settings
    )
    for minute in range(10):
        load(backend)
        notifier.lose = 1 if minute == 3 else 0
        await watcher.poll_once()
        clock.advance(minutes=1)
    # The firing post may have reached Slack (its answer was lost): not posted again. Its ts
    # is unknown, so the reminder comes as a new message rather than a reply.
    assert notifier.log() == [("firing", GREEN_P99), ("reminder", GREEN_P99)]
    assert not notifier.sent[1].in_thread


async def test_a_crash_after_storing_the_intent_never_posts_it_twice(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    class Crashing(RecordingNotifier):
        async def send(self, notice: AlertNotice) -> str | None:
            raise asyncio.CancelledError  # the process stops while posting

    db = tmp_path / "bot.db"
    key = AlertKey(endpoint=EP, deployment="green", rule="latency_p99")
    crashing = make_watcher(backend, make_store(db, clock), Crashing(), clock)
    for minute in range(4):
        load(backend)
        if minute < 3:
            await crashing.poll_once()
        else:
            with pytest.raises(asyncio.CancelledError):
                await crashing.poll_once()
        clock.advance(minutes=1)
    intent = await make_store(db, clock).get(key)
    assert intent is not None and intent.outbox is not None and intent.outbox.sending
    notifier = RecordingNotifier()
    restarted = make_watcher(backend, make_store(db, clock), notifier, clock)
    for minute in range(4, 8):
        load(backend, slow=minute < 6)
        await restarted.poll_once()
        clock.advance(minutes=1)
        if minute == 4:  # a minute old: it could be a post in progress (another replica's)
            assert await make_store(db, clock).get(key) == intent
    # Two minutes old, the intent is dropped (it may have been posted); the alert resolves,
    # said once (as a new message: the first one's ts is unknown).
    assert notifier.log() == [("resolved", GREEN_P99)]
    assert not notifier.sent[0].in_thread
    stored = await make_store(db, clock).get(key)
    assert stored is not None and stored.outbox is None and stored.state.status == "resolved"


async def test_a_refused_post_is_tried_again_at_the_next_poll(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    notifier = RecordingNotifier()
    watcher = make_watcher(backend, make_store(tmp_path / "bot.db", clock), notifier, clock)
    for minute in range(6):
        load(backend)
        notifier.refuse = 2 if minute == 3 else notifier.refuse
        await watcher.poll_once()
        clock.advance(minutes=1)
    assert notifier.log() == [("firing", GREEN_P99)]  # refused at 3 and 4, posted at 5
    since = notifier.sent[0].alert.state.since
    assert since is not None
    assert notifier.sent[0].alert.state.fired_at == since + timedelta(minutes=3)


async def test_a_post_refused_every_time_is_given_up(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    notifier = RecordingNotifier(refuse=100)
    store = make_store(tmp_path / "bot.db", clock)
    watcher = make_watcher(backend, store, notifier, clock)
    for _ in range(3 + MAX_ATTEMPTS + 3):
        load(backend)
        await watcher.poll_once()
        clock.advance(minutes=1)
    assert notifier.refuse == 100 - MAX_ATTEMPTS
    stored = await store.get(AlertKey(endpoint=EP, deployment="green", rule="latency_p99"))
    assert stored is not None and stored.state.status == "firing" and stored.outbox is None


async def test_a_failing_metrics_source_is_reported_once_and_its_recovery_once(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    notifier = RecordingNotifier()
    db = tmp_path / "bot.db"
    for minute in range(10):
        load(backend, slow=False)
        backend.metrics_error = UNAVAILABLE if 2 <= minute < 7 else None
        backend.listing_error = UNAVAILABLE if minute == 8 else None
        # A restart in the middle of the failure changes nothing.
        watcher = make_watcher(backend, make_store(db, clock), notifier, clock)
        await watcher.poll_once()
        clock.advance(minutes=1)
    assert notifier.log() == [
        ("firing", SOURCE),
        ("resolved", SOURCE),
        ("firing", "*//metrics_source"),
        ("resolved", "*//metrics_source"),
    ]
    failing = notifier.sent[0]
    assert failing.alert.state.detail == UNAVAILABLE.message
    assert failing.channel == CHANNEL
    assert notifier.sent[1].in_thread


async def test_alerts_wait_while_the_source_fails(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    notifier = RecordingNotifier()
    watcher = make_watcher(backend, make_store(tmp_path / "bot.db", clock), notifier, clock)
    for minute in range(8):
        load(backend)
        backend.metrics_error = UNAVAILABLE if minute in (1, 2) else None
        await watcher.poll_once()
        clock.advance(minutes=1)
    # Pending since minute 0, not judged at 1 and 2, firing at 3 (held for 3 minutes).
    assert notifier.log() == [("firing", SOURCE), ("resolved", SOURCE), ("firing", GREEN_P99)]
    since = notifier.sent[2].alert.state.since
    assert since is not None
    assert notifier.sent[2].alert.state.fired_at == since + timedelta(minutes=3)


async def test_a_deleted_endpoint_clears_its_alerts(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    notifier = RecordingNotifier()
    watcher = make_watcher(backend, make_store(tmp_path / "bot.db", clock), notifier, clock)
    for _ in range(4):
        load(backend)
        await watcher.poll_once()
        clock.advance(minutes=1)
    await backend.set_traffic(EP, {})
    await backend.delete_endpoint(EP)
    await watcher.poll_once()
    await watcher.poll_once()
    assert notifier.log() == [("firing", GREEN_P99), ("resolved", GREEN_P99)]


async def test_an_endpoint_switched_off_clears_its_alerts(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    notifier = RecordingNotifier()
    db = tmp_path / "bot.db"
    watcher = make_watcher(backend, make_store(db, clock), notifier, clock)
    for _ in range(4):
        load(backend)
        await watcher.poll_once()
        clock.advance(minutes=1)
    off = make_settings(endpoints={EP: {"enabled": False}})  # the bot restarted with this
    watcher = make_watcher(backend, make_store(db, clock), notifier, clock, off)
    load(backend)
    await watcher.poll_once()
    assert notifier.log() == [("firing", GREEN_P99), ("resolved", GREEN_P99)]
    assert backend.metrics_calls[-1][0] == EP and len(backend.metrics_calls) == 4


async def test_overrides_switch_an_endpoint_off_or_change_its_channel_and_rules(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    notifier = RecordingNotifier()
    off = make_settings(endpoints={EP: {"enabled": False}})
    other = make_settings(
        endpoints={
            EP: {
                "channel": "C0RECS",
                "rules": [{"kind": "latency_p99", "threshold": 800, "duration": 0}],
            }
        }
    )
    for settings in (off, other):
        watcher = make_watcher(
            backend, make_store(tmp_path / f"{id(settings)}.db", clock), notifier, clock, settings
        )
        load(backend)
        await watcher.poll_once()
        clock.advance(minutes=1)
    assert [
        (n.notice, n.channel, n.alert.rule.threshold) for n in notifier.sent if n.alert.rule
    ] == [("firing", "C0RECS", 800)]


async def test_a_click_between_read_and_write_is_kept(clock: Clock, tmp_path: Path) -> None:
    """The step loses its compare-and-set to an acknowledgement and starts again from it."""
    store = make_store(tmp_path / "bot.db", clock)
    notifier = RecordingNotifier()
    deliverer = Deliverer(store=store, notifier=notifier)
    settings = make_settings(repeat_interval="5m")
    rule = settings.rules[0]
    key = AlertKey(endpoint=EP, deployment="green", rule=rule.kind)
    context = Context(channel=CHANNEL, rule=rule, traffic_share=10)

    def judge(value: float) -> Callable[[AlertState], Decision]:
        return lambda state: evaluate(
            state, rule=rule, value=value, now=clock(), repeat_interval=settings.repeat_interval
        )

    current = None
    for _ in range(4):
        current = await deliverer.step(key, judge(900), context=context, current=current)
        clock.advance(minutes=1)
    assert current is not None and current.state.status == "firing"
    acked = replace(current.state, acknowledged_by="U0ALICE", acknowledged_at=clock())
    assert await store.save(replace(current, state=acked)) is not None
    clock.advance(minutes=10)  # a reminder would be due, but for the acknowledgement
    after = await deliverer.step(key, judge(900), context=context, current=current)  # stale
    assert after is not None and after.state.acknowledged_by == "U0ALICE"
    assert notifier.log() == [("firing", key.as_id())]


@pytest.mark.slow(budget=30)
async def test_the_scheduler_polls_every_interval_with_coalesce_and_one_instance(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    settings = make_settings(poll_interval=0.2, misfire_grace_time="5s")
    watcher = make_watcher(
        backend, make_store(tmp_path / "bot.db", clock), RecordingNotifier(), clock, settings
    )
    watcher.start()
    try:
        assert watcher.scheduler is not None
        job = watcher.scheduler.get_job(JOB_ID)
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 5)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while watcher.polls < 3:
            assert loop.time() < deadline, "the scheduler did not poll"
            await asyncio.sleep(0.05)
    finally:
        await watcher.stop()
    polls = watcher.polls
    assert watcher.scheduler is None
    assert len(backend.metrics_calls) == polls


async def test_store_rows_only_for_alerts_that_left_ok(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    store = make_store(tmp_path / "bot.db", clock)
    watcher = make_watcher(backend, store, RecordingNotifier(), clock)
    load(backend, slow=False)
    await watcher.poll_once()
    assert await store.load(EP) == {}
    load(backend)
    await watcher.poll_once()
    assert [k.as_id() for k in await store.load(EP)] == [GREEN_P99]
    assert [a.state.status for a in await AlertStore.active(store, clock())] == ["pending"]
