"""Route updates while requests run: atomic swaps, carried in-flight counts, bad routes refused."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest

from deploy.local.dataplane.router import Router
from deploy.local.dataplane.routes import DeploymentRoute, EndpointRoute
from tests.deploy.local.router_kit import (
    ModelServer,
    deployment_route,
    endpoint_route,
    running_router,
    score,
    wait_for,
)


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    async with running_router() as router:
        yield router


async def test_requests_in_flight_finish_on_their_route_while_new_ones_take_the_new_one(
    router: Router,
) -> None:
    hold = asyncio.Event()
    async with ModelServer(name="blue", hold=hold) as blue, ModelServer(name="green") as green:
        both = (deployment_route("blue", blue), deployment_route("green", green))
        router.update(endpoint_route("demo", {"blue": 100, "green": 0}, *both))
        held = [asyncio.create_task(score(router, "demo")) for _ in range(3)]
        await wait_for(lambda: blue.started == 3, what="3 requests held at blue")
        router.update(endpoint_route("demo", {"blue": 0, "green": 100}, *both))
        assert router.in_flight("demo", "blue") == 3  # carried over by the swap
        assert (await score(router, "demo")).deployment == "green"
        hold.set()
        assert {answer.deployment for answer in await asyncio.gather(*held)} == {"blue"}
        assert router.in_flight("demo", "blue") == 0


async def test_a_split_changed_under_load_loses_no_request(router: Router) -> None:
    async with ModelServer(name="blue") as blue, ModelServer(name="green") as green:
        both = (deployment_route("blue", blue), deployment_route("green", green))
        splits = [{"blue": 100 - g, "green": g} for g in (0, 10, 50, 90, 100)]
        router.update(endpoint_route("demo", splits[0], *both))
        seen: Counter[tuple[int, str | None]] = Counter()

        async def caller(session: aiohttp.ClientSession) -> None:
            for _ in range(60):
                headers = {"x-test-delay-ms": "2"}
                answer = await score(router, "demo", session=session, headers=headers)
                seen[(answer.status, answer.deployment)] += 1

        async with aiohttp.ClientSession() as session:
            callers = [asyncio.create_task(caller(session)) for _ in range(6)]
            for split in splits[1:]:  # each split for 50 answers, then the next one
                target = sum(seen.values()) + 50
                await wait_for(lambda t=target: sum(seen.values()) >= t, what="50 more answers")
                router.update(endpoint_route("demo", split, *both))
            await asyncio.gather(*callers)
        assert sum(seen.values()) == 360
        assert {status for status, _ in seen} == {200}
        assert seen[(200, "blue")] > 0 and seen[(200, "green")] > 0
        assert router.in_flight("demo", "blue") == router.in_flight("demo", "green") == 0


async def test_new_instances_join_the_rotation_on_update(router: Router) -> None:
    async with ModelServer(name="one") as one, ModelServer(name="two") as two:
        router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", one)))
        await score(router, "demo")
        router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", one, two)))
        for _ in range(4):
            await score(router, "demo")
        assert (len(one.received), len(two.received)) == (3, 2)


async def test_remove_makes_the_endpoint_404(router: Router) -> None:
    async with ModelServer(name="blue") as blue:
        router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", blue)))
        assert (await score(router, "demo")).status == 200
        router.remove("demo")
        assert (await score(router, "demo")).status == 404
        router.remove("demo")  # again: nothing to do
        assert router.in_flight("demo", "blue") == 0


@pytest.mark.parametrize(
    ("route", "word"),
    [
        (EndpointRoute(name="demo", auth_mode="certificate"), "auth_mode"),
        (EndpointRoute(name="demo", auth_mode="key", traffic={"purple": 100}), "purple"),
        (
            EndpointRoute(
                name="demo",
                auth_mode="key",
                traffic={"blue": 101},
                deployments={"blue": DeploymentRoute(name="blue")},
            ),
            "0..100",
        ),
        (
            EndpointRoute(
                name="demo",
                auth_mode="key",
                mirror_traffic={"blue": 10, "green": 10},
                deployments={
                    "blue": DeploymentRoute(name="blue"),
                    "green": DeploymentRoute(name="green"),
                },
            ),
            "more than one",
        ),
        (
            EndpointRoute(
                name="demo", auth_mode="key", deployments={"blue": DeploymentRoute(name="green")}
            ),
            "under",
        ),
    ],
    ids=["auth-mode", "unknown-deployment", "weight", "two-mirrors", "misfiled"],
)
async def test_an_inconsistent_route_is_refused_and_the_old_one_keeps_serving(
    router: Router, route: EndpointRoute, word: str
) -> None:
    async with ModelServer(name="blue") as blue:
        router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", blue)))
        with pytest.raises(ValueError, match=word):
            router.update(route)
        answer = await score(router, "demo")
        assert (answer.status, answer.deployment) == (200, "blue")


async def test_base_url_names_the_bound_port() -> None:
    router = Router()
    with pytest.raises(RuntimeError, match="start"):
        _ = router.base_url
    port = await router.start()
    try:
        assert port > 0
        assert router.base_url == f"http://127.0.0.1:{port}"
        with pytest.raises(RuntimeError, match="already"):
            await router.start()
    finally:
        await router.stop()
