"""Grouping the notices of one poll (Alertmanager's group_by): one message per endpoint, or
one for the whole poll; reminders and resolutions of one message in one reply; stored once."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from alerts.delivery import MAX_GROUP, group_notices
from alerts.notifier import AlertNotice
from alerts.state import AlertKey, AlertState
from alerts.store import StoredAlert
from deploy.types import DeploymentSpec, EndpointSpec
from tests.alerts.kit import (
    CHANNEL,
    EP,
    Clock,
    GroupingNotifier,
    ScriptedBackend,
    make_settings,
    make_store,
    make_watcher,
    scripted_backend,
)

OTHER = "fraud-scorer"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def backend(clock: Clock) -> ScriptedBackend:
    backend = await scripted_backend(clock)
    await backend.create_or_update_endpoint(EndpointSpec(name=OTHER))
    await backend.create_or_update_deployment(DeploymentSpec(name="red", endpoint_name=OTHER))
    await backend.set_traffic(OTHER, {"red": 100})
    return backend


def load(backend: ScriptedBackend, *, slow: bool) -> None:
    """Every deployment slow (or not), with 5xx errors when slow."""
    p99 = 900 if slow else 40
    for endpoint, deployment in ((EP, "blue"), (EP, "green"), (OTHER, "red")):
        backend.answer(endpoint, deployment, count=90, p99_ms=p99)
        backend.answer(endpoint, deployment, count=10 if slow else 0, status="500", p99_ms=p99)


BLUE, GREEN, RED = (f"{EP}/blue/latency_p99", f"{EP}/green/latency_p99", f"{OTHER}/red/latency_p99")
P99_ONLY = [{"kind": "latency_p99", "threshold": 500, "duration": "3m"}]


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [("endpoint", [[BLUE, GREEN], [RED]]), ("poll", [[BLUE, GREEN, RED]])],
)
async def test_a_burst_is_one_message_per_endpoint_or_per_poll(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path, group_by: str, expected: list[list[str]]
) -> None:
    notifier = GroupingNotifier()
    store = make_store(tmp_path / "bot.db", clock)
    watcher = make_watcher(
        backend, store, notifier, clock, make_settings(group_by=group_by, rules=P99_ONLY)
    )
    for minute in range(8):
        load(backend, slow=minute < 5)
        await watcher.poll_once()
        clock.advance(minutes=1)
    firing = sorted(sorted(ids) for ids in notifier.messages()[: len(expected)])
    assert firing == sorted(sorted(ids) for ids in expected)
    assert all(g.notice == "firing" for g in notifier.groups_sent[: len(expected)])
    # Each alert knows its group's message: replies (the resolution) go in that thread.
    resolved = notifier.groups_sent[len(expected) :]
    assert resolved and all(g.notice == "resolved" for g in resolved)
    assert len(resolved) == len(expected)  # one reply per message, for all its alerts
    for group in resolved:
        assert len({n.alert.state.message_ts for n in group.notices}) == 1
    # Posted once: nothing is pending, and nothing more is posted.
    before = len(notifier.groups_sent)
    for _ in range(3):
        load(backend, slow=False)
        await watcher.poll_once()
        clock.advance(minutes=1)
    assert len(notifier.groups_sent) == before
    rows = list((await store.load(EP)).values()) + list((await store.load(OTHER)).values())
    assert all(row.outbox is None for row in rows)


async def test_a_refused_group_is_sent_again_at_the_next_poll(
    backend: ScriptedBackend, clock: Clock, tmp_path: Path
) -> None:
    notifier = GroupingNotifier()
    store = make_store(tmp_path / "bot.db", clock)
    watcher = make_watcher(backend, store, notifier, clock, make_settings(rules=P99_ONLY))
    for minute in range(5):
        load(backend, slow=True)
        notifier.refuse = 2 if minute == 3 else 0  # both groups refused at the first try
        await watcher.poll_once()
        clock.advance(minutes=1)
    assert sorted(notifier.messages()) == sorted([[BLUE, GREEN], [RED]])
    assert notifier.refuse == 0


def notice(endpoint: str, deployment: str, *, thread: str | None = None) -> AlertNotice:
    key = AlertKey(endpoint=endpoint, deployment=deployment, rule="latency_p99")
    state = AlertState(key=key, status="firing", message_ts=thread)
    kind: Literal["firing", "reminder"] = "reminder" if thread else "firing"
    return AlertNotice(notice=kind, alert=StoredAlert(state=state), channel=CHANNEL)


def test_groups_hold_at_most_max_group_and_keep_the_order() -> None:
    many = [notice(EP, f"d{i:03d}") for i in range(MAX_GROUP * 2 + 1)]
    groups = group_notices(many)
    assert [len(g) for g in groups] == [MAX_GROUP, MAX_GROUP, 1]
    assert [n for g in groups for n in g] == many
    replies = [
        notice(EP, "a", thread="1.1"),
        notice(EP, "b", thread="1.2"),
        notice(EP, "c", thread="1.1"),
    ]
    assert [[n.alert.key.deployment for n in g] for g in group_notices(replies)] == [
        ["a", "c"],
        ["b"],
    ]
