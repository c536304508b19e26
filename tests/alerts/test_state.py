"""The alert state machine, as a pure function of (previous state, value, now)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from alerts.rules import Rule
from alerts.state import AlertKey, AlertState, evaluate

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KEY = AlertKey(endpoint="product-recommender", deployment="green", rule="latency_p99")
P99 = Rule(kind="latency_p99", threshold=500, duration=timedelta(minutes=3))
REPEAT = timedelta(hours=4)


def run(
    values: list[float | None], *, rule: Rule = P99, start: AlertState | None = None
) -> list[tuple[str, str | None]]:
    """Feed one value a minute from T0; return (status, notice) after each."""
    state = start or AlertState(key=KEY)
    out: list[tuple[str, str | None]] = []
    for minute, value in enumerate(values):
        decision = evaluate(
            state,
            rule=rule,
            value=value,
            now=T0 + timedelta(minutes=minute),
            repeat_interval=REPEAT,
        )
        state = decision.state
        out.append((state.status, decision.notice))
    return out


def test_fires_once_after_the_duration_and_resolves_once() -> None:
    steps = run([600, 700, 650, 800, 900, 100, 100])
    assert steps == [
        ("pending", None),
        ("pending", None),
        ("pending", None),
        ("firing", "firing"),  # held since minute 0: 3 minutes at minute 3
        ("firing", None),  # never the same state twice
        ("resolved", "resolved"),
        ("resolved", None),
    ]


def test_a_dip_before_the_duration_resets_pending() -> None:
    assert run([600, 100, 600, 600, 600, 600]) == [
        ("pending", None),
        ("ok", None),
        ("pending", None),
        ("pending", None),
        ("pending", None),
        ("firing", "firing"),
    ]


def test_no_data_is_not_a_breach() -> None:
    assert run([None, None]) == [("ok", None), ("ok", None)]


def test_reminder_every_repeat_interval_while_firing() -> None:
    state = AlertState(key=KEY)
    notices = []
    for minute in range(0, 10 * 60, 30):
        decision = evaluate(
            state,
            rule=P99,
            value=900,
            now=T0 + timedelta(minutes=minute),
            repeat_interval=REPEAT,
        )
        state = decision.state
        if decision.notice:
            notices.append((minute, decision.notice))
    # Polled every 30 minutes, a 3-minute condition fires at the second poll.
    assert notices == [(30, "firing"), (30 + 240, "reminder"), (30 + 480, "reminder")]


def test_acknowledged_alert_gets_no_reminder_but_still_resolves() -> None:
    firing = AlertState(
        key=KEY, status="firing", since=T0, fired_at=T0, last_notified_at=T0, acknowledged_by="U1"
    )
    later = T0 + timedelta(hours=5)
    assert evaluate(firing, rule=P99, value=900, now=later, repeat_interval=REPEAT).notice is None
    resolved = evaluate(firing, rule=P99, value=10, now=later, repeat_interval=REPEAT)
    assert (resolved.state.status, resolved.notice) == ("resolved", "resolved")


def test_silence_holds_back_firing_and_reminders_until_it_ends() -> None:
    silenced = AlertState(key=KEY, silenced_until=T0 + timedelta(hours=1))
    assert run([900] * 5, start=silenced)[-1] == ("firing", None)
    firing = replace(
        silenced, status="firing", since=T0, fired_at=T0, last_notified_at=T0 - timedelta(hours=5)
    )
    during = evaluate(firing, rule=P99, value=900, now=T0, repeat_interval=REPEAT)
    after = evaluate(
        firing, rule=P99, value=900, now=T0 + timedelta(hours=1), repeat_interval=REPEAT
    )
    assert (during.notice, after.notice) == (None, "reminder")


def test_a_new_episode_forgets_the_last_acknowledgement() -> None:
    resolved = AlertState(key=KEY, status="resolved", acknowledged_by="U1", message_ts="1.2")
    decision = evaluate(resolved, rule=P99, value=900, now=T0, repeat_interval=REPEAT)
    assert decision.state.status == "pending"
    assert decision.state.acknowledged_by is None
    assert decision.state.message_ts is None


def test_zero_duration_fires_at_once() -> None:
    rule = Rule(kind="error_rate", threshold=1, duration=timedelta(0))
    assert run([5.0], rule=rule) == [("firing", "firing")]


def test_peak_is_the_worst_value_of_the_episode() -> None:
    state = AlertState(key=KEY)
    for minute, value in enumerate([600, 950, 700, 800]):
        state = evaluate(
            state, rule=P99, value=value, now=T0 + timedelta(minutes=minute), repeat_interval=REPEAT
        ).state
    assert state.status == "firing"
    assert state.peak == 950


def test_an_alert_that_fired_under_a_silence_is_announced_when_the_silence_ends() -> None:
    silenced = AlertState(key=KEY, silenced_until=T0 + timedelta(minutes=10))
    steps = run([900] * 13, start=silenced)
    assert steps[3] == ("firing", None)  # fired at minute 3, silenced
    assert [n for _, n in steps[3:10]] == [None] * 7
    assert steps[10] == ("firing", "firing")  # minute 10: the silence is over
    assert steps[11:] == [("firing", None), ("firing", None)]


def test_an_alert_nobody_was_told_about_resolves_quietly() -> None:
    silenced = AlertState(key=KEY, silenced_until=T0 + timedelta(hours=1))
    assert run([900, 900, 900, 900, 10], start=silenced)[-2:] == [
        ("firing", None),
        ("resolved", None),
    ]


def test_silence_does_not_hold_back_the_resolved_notice_of_an_announced_alert() -> None:
    firing = AlertState(
        key=KEY,
        status="firing",
        since=T0,
        fired_at=T0,
        last_notified_at=T0,
        silenced_until=T0 + timedelta(hours=4),
    )
    decision = evaluate(
        firing, rule=P99, value=10, now=T0 + timedelta(hours=1), repeat_interval=REPEAT
    )
    assert (decision.state.status, decision.notice) == ("resolved", "resolved")


def test_a_new_episode_keeps_the_silence_but_forgets_the_acknowledgement_time() -> None:
    resolved = AlertState(
        key=KEY,
        status="resolved",
        acknowledged_by="U1",
        acknowledged_at=T0,
        silenced_until=T0 + timedelta(hours=1),
        last_notified_at=T0,
    )
    state = evaluate(resolved, rule=P99, value=900, now=T0, repeat_interval=REPEAT).state
    assert (state.acknowledged_by, state.acknowledged_at, state.last_notified_at) == (
        None,
        None,
        None,
    )
    assert state.silenced_until == T0 + timedelta(hours=1)
