"""Mirror traffic: a background copy whose answer is discarded and never touches the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from deploy.local.dataplane.router import Router
from deploy.local.dataplane.routes import EndpointRoute
from tests.deploy.local.router_kit import (
    Clock,
    ModelServer,
    deployment_route,
    endpoint_route,
    running_router,
    score,
    wait_for,
)


@pytest.fixture
async def blue() -> AsyncIterator[ModelServer]:
    async with ModelServer(name="blue") as server:
        yield server


@pytest.fixture
async def green() -> AsyncIterator[ModelServer]:
    async with ModelServer(name="green") as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def router(clock: Clock) -> AsyncIterator[Router]:
    async with running_router(clock) as router:
        yield router


def _mirrored(
    blue: ModelServer, green: ModelServer, percent: int, **settings: int
) -> EndpointRoute:
    return endpoint_route(
        "demo",
        {"blue": 100, "green": 0},
        deployment_route("blue", blue),
        deployment_route("green", green, **settings),
        mirror={"green": percent},
    )


async def test_the_copy_reaches_the_mirror_target(
    router: Router, blue: ModelServer, green: ModelServer
) -> None:
    router.update(_mirrored(blue, green, 50))
    bodies = [f'{{"n": {n}}}'.encode() for n in range(10)]
    answers = [await score(router, "demo", body=body) for body in bodies]
    assert {answer.deployment for answer in answers} == {"blue"}
    await wait_for(lambda: len(green.received) == 5, what="5 copies at green")
    assert [r.body for r in blue.received] == bodies
    assert [r.body for r in green.received] == bodies[1::2]  # every other one, exactly 50 %
    assert green.received[0].headers["Content-Type"] == "application/json"
    assert "Authorization" not in green.received[0].headers


async def test_a_stuck_mirror_never_delays_the_caller(router: Router, blue: ModelServer) -> None:
    hold = asyncio.Event()
    async with ModelServer(name="green", hold=hold) as green:
        router.update(_mirrored(blue, green, 50))
        answers = [await score(router, "demo") for _ in range(6)]
        assert [answer.status for answer in answers] == [200] * 6
        await wait_for(lambda: green.started == 3, what="3 copies waiting at green")
        assert green.finished == 0  # the callers got their answers while the copies hung
        assert router.in_flight("demo", "green") == 3
        hold.set()
        await wait_for(lambda: router.in_flight("demo", "green") == 0, what="copies done")


@pytest.mark.slow(budget=30)
async def test_mirror_errors_and_timeouts_never_fail_the_caller(
    router: Router, blue: ModelServer, green: ModelServer, clock: Clock
) -> None:
    green.status = 500
    # A second for the copies: a quick 500 on two loaded cores stays inside it; 2.5 s does not.
    router.update(_mirrored(blue, green, 50, request_timeout_ms=1000))
    answers = [await score(router, "demo") for _ in range(4)]
    slow = [await score(router, "demo", headers={"x-test-delay-ms": "2500"}) for _ in range(2)]
    assert [a.status for a in answers + slow] == [200] * 6
    await wait_for(lambda: green.finished == 3, what="3 copies answered")
    await wait_for(lambda: router.in_flight("demo", "green") == 0, what="copies done")
    # The copies' outcomes are recorded under the mirror target, as Azure's metrics show them.
    now = datetime.fromtimestamp(clock.now, tz=UTC)
    window = router.recorder.snapshot("demo", now - timedelta(minutes=1), now)
    assert window.deployments["green"].window.requests_by_status == {"424": 2, "408": 1}
    assert window.deployments["blue"].window.requests_by_status == {"200": 6}


async def test_requests_naming_a_deployment_are_not_mirrored(
    router: Router, blue: ModelServer, green: ModelServer
) -> None:
    router.update(_mirrored(blue, green, 50))
    for _ in range(10):
        assert (await score(router, "demo", deployment="blue")).deployment == "blue"
    assert (await score(router, "demo", deployment="green")).deployment == "green"
    assert (await score(router, "demo")).deployment == "blue"
    assert (await score(router, "demo")).deployment == "blue"  # the second one is copied
    await wait_for(lambda: len(green.received) == 2, what="one copy at green")
    assert len(blue.received) == 12


async def test_refused_requests_are_not_mirrored(
    router: Router, blue: ModelServer, green: ModelServer
) -> None:
    router.update(_mirrored(blue, green, 50))
    for _ in range(4):
        assert (await score(router, "demo", bearer="wrong")).status == 401
    assert green.received == [] and blue.received == []


async def test_copies_beyond_the_targets_capacity_are_dropped(
    router: Router, blue: ModelServer, clock: Clock
) -> None:
    hold = asyncio.Event()
    async with ModelServer(name="green", hold=hold) as green:
        route = _mirrored(blue, green, 50, max_concurrent_requests_per_instance=1)
        router.update(route)
        for _ in range(8):  # 4 copies due; green takes 2 (2 x 1 x 1 instance)
            assert (await score(router, "demo")).status == 200
        await wait_for(lambda: green.started == 2, what="2 copies at green")
        assert router.in_flight("demo", "green") == 2
        hold.set()
        await wait_for(lambda: router.in_flight("demo", "green") == 0, what="copies done")
        assert green.started == 2
    now = datetime.fromtimestamp(clock.now, tz=UTC)
    window = router.recorder.snapshot("demo", now - timedelta(minutes=1), now)
    assert window.deployments["green"].window.requests_by_status == {"200": 2, "429": 2}
