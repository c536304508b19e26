"""/traffic: parsing, plans checked against the endpoint, rollback, redistribution, views."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands import traffic
from commands.errors import UsageError
from commands.traffic import (
    RollbackTraffic,
    ShiftTraffic,
    ShowTraffic,
    TrafficChange,
    TrafficHelp,
    TrafficPlan,
    apply_plan,
    plan_redistribution,
    plan_rollback,
    plan_shift,
    redistribute,
)
from commands.traffic_view import plan_blocks, render_status
from deploy.errors import NotFoundError, ValidationError
from deploy.memory import MemoryBackend as FakeBackend

EP = "product-recommender"


def test_parse() -> None:
    assert traffic.parse("help") == TrafficHelp()
    assert traffic.parse(EP) == ShowTraffic(endpoint=EP)
    assert traffic.parse(f"{EP} rollback") == RollbackTraffic(endpoint=EP)
    assert traffic.parse(f"{EP} blue=90, green=10 --mirror green=0") == ShiftTraffic(
        endpoint=EP, traffic={"blue": 90, "green": 10}, mirror={"green": 0}
    )
    assert traffic.parse(f"{EP} --mirror green=10") == ShiftTraffic(
        endpoint=EP, traffic=None, mirror={"green": 10}
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "Name an endpoint."),
        ("p", "Invalid endpoint name 'p'"),
        (f"{EP} blue90", "write deployment=percent"),
        (f"{EP} blue=ninety", "'ninety' is not a whole number"),
        (f"{EP} blue=90 blue=10", "'blue' is given twice"),
        (f"{EP} rollback --mirror green=1", "`rollback` takes no `--mirror`"),
    ],
)
def test_parse_errors(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        traffic.parse(text)
    assert problem in caught.value.problem
    assert "*/traffic*" in caught.value.help_text


async def test_shift_plans_are_checked(backend: FakeBackend) -> None:
    plan = await plan_shift(
        backend, ShiftTraffic(endpoint=EP, traffic={"blue": 90, "green": 10}, mirror=None)
    )
    assert (plan.current, plan.traffic, plan.mirror) == (
        {"blue": 100},
        {"blue": 90, "green": 10},
        {},
    )
    cases = [
        ({"blue": 90, "green": 20}, None, r"sum to 100 \(or 0\); these sum to 110"),
        ({"blue": 90, "red": 10}, None, "Deployment 'red' does not exist"),
        ({"blue": 100}, None, "already has that split"),
        (None, {"blue": 10}, "a mirror target must take none"),
        (None, {"green": 60}, "the most is 50%"),
    ]
    for weights, mirror, problem in cases:
        with pytest.raises(ValidationError, match=problem):
            await plan_shift(backend, ShiftTraffic(endpoint=EP, traffic=weights, mirror=mirror))
    with pytest.raises(NotFoundError):
        await plan_shift(backend, ShiftTraffic(endpoint="nowhere", traffic={"a": 100}, mirror=None))


async def test_apply_sets_the_split_and_the_mirror(backend: FakeBackend) -> None:
    mirror = await plan_shift(
        backend, ShiftTraffic(endpoint=EP, traffic=None, mirror={"green": 10})
    )
    endpoint = await apply_plan(backend, mirror)
    assert dict(endpoint.mirror_traffic) == {"blue": 0, "green": 10}
    shift = await plan_shift(
        backend, ShiftTraffic(endpoint=EP, traffic={"blue": 80, "green": 20}, mirror={"green": 0})
    )
    endpoint = await apply_plan(backend, shift)
    assert {k: v for k, v in endpoint.traffic.items() if v} == {"blue": 80, "green": 20}
    assert not any(endpoint.mirror_traffic.values())
    assert TrafficPlan.from_json(shift.to_json()) == shift


class History:
    def __init__(self, change: TrafficChange | None) -> None:
        self.change = change

    async def last_shift(self, endpoint: str) -> TrafficChange | None:
        return self.change


async def test_rollback_plans_the_split_before_the_last_shift(backend: FakeBackend) -> None:
    with pytest.raises(ValidationError, match="Nothing to roll back"):
        await plan_rollback(backend, History(None), EP)
    await backend.set_traffic(EP, {"blue": 90, "green": 10})
    change = TrafficChange(
        id=7,
        endpoint=EP,
        at=datetime.now(UTC),
        before={"blue": 100},
        before_mirror={},
        after={"blue": 90, "green": 10},
        after_mirror={},
    )
    plan = await plan_rollback(backend, History(change), EP)
    assert (plan.traffic, plan.rollback_of) == ({"blue": 100}, 7)


def test_redistribute_keeps_the_sum_at_100() -> None:
    assert redistribute({"blue": 100}, "green", 10) == {"blue": 90, "green": 10}
    assert redistribute({"a": 50, "b": 50}, "c", 25) == {"a": 38, "b": 37, "c": 25}
    assert redistribute({"a": 1, "b": 1, "c": 1}, "d", 0) == {"a": 34, "b": 33, "c": 33}
    assert redistribute({"a": 70, "b": 30}, "b", 0) == {"a": 100}
    with pytest.raises(ValidationError, match="No other deployment"):
        redistribute({"b": 100}, "b", 10)


async def test_redistribution_plan(backend: FakeBackend) -> None:
    plan = await plan_redistribution(backend, EP, "green", 10)
    assert plan.traffic == {"blue": 90, "green": 10}
    with pytest.raises(NotFoundError):
        await plan_redistribution(backend, EP, "purple", 10)


async def test_views_stay_within_block_kit_limits(backend: FakeBackend) -> None:
    status = await traffic.load_status(backend, EP)
    reply = render_status(status)
    blocks = reply.block_dicts()
    table = blocks[1]["text"]["text"]
    assert "blue        100%     -       recommendation-model:1  1/1        healthy" in table
    assert reply.text == "Traffic on product-recommender: blue 100%"
    plan = TrafficPlan(
        endpoint=EP,
        current={"blue": 100},
        current_mirror={},
        traffic={"blue": 90, "green": 10},
        mirror={"green": 0},
    )
    (block,) = plan_blocks(plan)
    assert "green       0%    →  10%" in block.to_dict()["text"]["text"]


def test_long_model_paths_are_shortened() -> None:
    from commands.traffic_view import short_model

    assert short_model("recommendation-model:2") == "recommendation-model:2"
    assert short_model("/work/main/examples/product-recommender/model-v1") == "…/model-v1"
    assert short_model(None) == "-"
