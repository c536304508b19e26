"""Azure's answers when the model is slow, failing, saturated or gone: 408, 424, 429, 502."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from deploy.local.dataplane.router import Router
from deploy.local.dataplane.routes import DeploymentRoute, Upstream
from tests.deploy.local.router_kit import (
    Clock,
    ModelServer,
    deployment_route,
    endpoint_route,
    running_router,
    score,
    wait_for,
)
from tests.support.azmlinfsrv import free_port


@pytest.fixture
async def blue() -> AsyncIterator[ModelServer]:
    async with ModelServer(name="blue") as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def router(clock: Clock) -> AsyncIterator[Router]:
    async with running_router(clock) as router:
        yield router


@pytest.mark.slow(budget=30)
async def test_a_slow_model_gets_408_after_request_timeout_ms(
    router: Router, blue: ModelServer
) -> None:
    router.update(
        endpoint_route(
            "demo", {"blue": 100}, deployment_route("blue", blue, request_timeout_ms=1000)
        )
    )  # a whole second: a 10 ms answer on two loaded cores stays well inside it
    fast = await score(router, "demo", headers={"x-test-delay-ms": "10"})
    assert fast.status == 200
    started = asyncio.get_running_loop().time()
    slow = await score(router, "demo", headers={"x-test-delay-ms": "3000"})
    elapsed = asyncio.get_running_loop().time() - started
    assert slow.status == 408
    assert slow.deployment == "blue"
    assert "1000 ms" in slow.json()["error"]["message"]
    assert 1.0 <= elapsed < 2.9  # given up at the timeout, not when the model answered (3 s)
    assert router.in_flight("demo", "blue") == 0


@pytest.mark.parametrize("status", [400, 404, 500, 503])
async def test_a_non_200_answer_becomes_424_with_the_models_status_and_body(
    router: Router, blue: ModelServer, status: int
) -> None:
    router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", blue)))
    answer = await score(router, "demo", body=b"bad input", headers={"x-test-status": str(status)})
    assert answer.status == 424
    assert answer.headers["ms-azureml-model-error-statuscode"] == str(status)
    assert answer.headers["ms-azureml-model-error-reason"]  # e.g. "Bad Request"
    assert answer.deployment == "blue"
    assert answer.json() == {"served_by": "blue", "echo": "bad input"}  # passed through
    assert answer.headers["x-served-by"] == "blue"


async def test_the_error_reason_is_the_models_own(router: Router, blue: ModelServer) -> None:
    router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", blue)))
    answer = await score(
        router, "demo", headers={"x-test-status": "422", "x-test-reason": "Unknown User"}
    )
    assert answer.headers["ms-azureml-model-error-reason"] == "Unknown User"


async def test_429_above_2_x_max_concurrent_x_ready_instances(router: Router) -> None:
    hold = asyncio.Event()
    async with ModelServer(name="b1", hold=hold) as b1, ModelServer(name="b2", hold=hold) as b2:
        route = deployment_route("blue", b1, b2, max_concurrent_requests_per_instance=1)
        assert route.max_in_flight == 4
        router.update(endpoint_route("demo", {"blue": 100}, route))
        held = [asyncio.create_task(score(router, "demo")) for _ in range(4)]
        await wait_for(lambda: b1.started + b2.started == 4, what="4 requests at the instances")
        assert router.in_flight("demo", "blue") == 4
        refused = await score(router, "demo")
        assert refused.status == 429
        assert refused.deployment == "blue"
        assert "Too many pending requests" in refused.json()["error"]["message"]
        hold.set()
        assert [answer.status for answer in await asyncio.gather(*held)] == [200] * 4
        assert router.in_flight("demo", "blue") == 0
        assert (await score(router, "demo")).status == 200


async def test_an_unreachable_instance_is_502(router: Router) -> None:
    gone = Upstream(instance="blue-1", url=f"http://127.0.0.1:{free_port()}")
    router.update(
        endpoint_route("demo", {"blue": 100}, DeploymentRoute(name="blue", upstreams=(gone,)))
    )
    answer = await score(router, "demo")
    assert answer.status == 502
    assert answer.deployment == "blue"
    assert answer.json()["error"]["code"] == "upstream_failed"
    assert router.in_flight("demo", "blue") == 0


async def test_swagger_is_proxied_to_the_deployment_with_most_traffic(
    router: Router, blue: ModelServer
) -> None:
    async with ModelServer(name="green") as green:
        router.update(
            endpoint_route(
                "demo",
                {"blue": 30, "green": 70},
                deployment_route("blue", blue),
                deployment_route("green", green),
            )
        )
        answer = await score(router, "demo", path="swagger.json", method="GET", query="version=3")
        assert answer.status == 200
        assert answer.deployment == "green"
        assert answer.json() == {"swagger": "2.0", "info": {"title": "green"}, "query": "version=3"}
        assert green.received[-1].path == "/swagger.json"
        named = await score(router, "demo", path="swagger.json", method="GET", deployment="blue")
        assert named.json()["info"]["title"] == "blue"
        router.update(endpoint_route("demo", {}, deployment_route("blue", blue)))
        assert (await score(router, "demo", path="swagger.json", method="GET")).status == 404


async def test_every_scoring_answer_is_recorded(
    router: Router, blue: ModelServer, clock: Clock
) -> None:
    router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", blue)))
    for _ in range(5):
        await score(router, "demo")
    await score(router, "demo", headers={"x-test-status": "500"})
    await score(router, "demo", bearer="wrong")
    await score(router, "demo", path="swagger.json", method="GET")  # not a scoring request
    now = datetime.fromtimestamp(clock.now, tz=UTC)
    snapshot = router.recorder.snapshot("demo", now - timedelta(minutes=5), now)
    blue_metrics = snapshot.deployments["blue"].window
    assert blue_metrics.requests_by_status == {"200": 5, "424": 1}
    assert blue_metrics.latency_p50_ms is not None and blue_metrics.latency_p50_ms > 0
    assert list(snapshot.deployments) == ["blue"]  # the 401 reached no deployment


async def test_a_body_above_the_limit_is_413(blue: ModelServer) -> None:
    async with running_router(max_body_bytes=256 * 1024) as router:
        router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", blue)))
        assert (await score(router, "demo", body=b"x" * (256 * 1024))).status == 200
        answer = await score(router, "demo", body=b"x" * (256 * 1024 + 1))
        assert answer.status == 413
        assert "256 KB" in answer.json()["error"]["message"]
        assert len(blue.received) == 1
