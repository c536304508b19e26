"""Choosing a deployment: weighted split, the azureml-model-deployment header, and 404/503."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest

from deploy.local.dataplane.router import Router
from tests.deploy.local.router_kit import (
    ModelServer,
    deployment_route,
    endpoint_route,
    running_router,
    score,
)


@pytest.fixture
async def servers() -> AsyncIterator[dict[str, ModelServer]]:
    async with (
        ModelServer(name="blue") as blue,
        ModelServer(name="green") as green,
        ModelServer(name="green-2") as green_2,
    ):
        yield {"blue": blue, "green": green, "green-2": green_2}


@pytest.fixture
async def router(servers: dict[str, ModelServer]) -> AsyncIterator[Router]:
    async with running_router() as router:
        router.update(
            endpoint_route(
                "demo",
                {"blue": 90, "green": 10},
                deployment_route("blue", servers["blue"]),
                deployment_route("green", servers["green"], servers["green-2"]),
            )
        )
        yield router


async def _many(router: Router, count: int, **kwargs: object) -> Counter[str | None]:
    async with aiohttp.ClientSession() as session:
        answers = []
        for start in range(0, count, 10):  # 10 at a time: under the 429 limit (16)
            batch = [
                score(router, "demo", session=session, **kwargs)  # type: ignore[arg-type]
                for _ in range(start, min(count, start + 10))
            ]
            answers += await asyncio.gather(*batch)
    assert all(answer.status == 200 for answer in answers)
    return Counter(answer.deployment for answer in answers)


async def test_a_90_10_split_holds_over_2000_requests(
    router: Router, servers: dict[str, ModelServer]
) -> None:
    counts = await _many(router, 2000)
    assert counts["blue"] + counts["green"] == 2000
    assert abs(counts["green"] - 200) <= 20  # smooth weighted round robin: exactly 200 here
    # The answering instance agrees with the header, and green's two instances share its part.
    assert len(servers["blue"].received) == counts["blue"]
    green_calls = len(servers["green"].received), len(servers["green-2"].received)
    assert sum(green_calls) == counts["green"]
    assert abs(green_calls[0] - green_calls[1]) <= 1


async def test_the_split_interleaves_rather_than_bursts(router: Router) -> None:
    answers = [await score(router, "demo") for _ in range(20)]
    greens = [i for i, answer in enumerate(answers) if answer.deployment == "green"]
    assert len(greens) == 2
    assert greens[1] - greens[0] == 10


async def test_the_header_picks_a_deployment_even_at_zero_percent(
    router: Router, servers: dict[str, ModelServer]
) -> None:
    router.update(
        endpoint_route(
            "demo",
            {"blue": 100, "green": 0},
            deployment_route("blue", servers["blue"]),
            deployment_route("green", servers["green"]),
        )
    )
    assert await _many(router, 40, deployment="green") == Counter({"green": 40})
    assert await _many(router, 40) == Counter({"blue": 40})
    assert "azureml-model-deployment" not in servers["green"].received[-1].headers


async def test_no_deployment_with_traffic_is_404(
    router: Router, servers: dict[str, ModelServer]
) -> None:
    router.update(
        endpoint_route(
            "demo", {"blue": 0}, deployment_route("blue", servers["blue"]), mirror={"blue": 0}
        )
    )
    answer = await score(router, "demo")
    assert answer.status == 404
    assert answer.json()["error"]["code"] == "no_traffic"
    assert "positive traffic" in answer.json()["error"]["message"]
    assert (await score(router, "demo", deployment="blue")).status == 200  # named: still served


async def test_an_endpoint_without_deployments_is_404(router: Router) -> None:
    router.update(endpoint_route("empty", {}))
    assert (await score(router, "empty")).status == 404


async def test_a_named_deployment_that_does_not_exist_is_404(router: Router) -> None:
    answer = await score(router, "demo", deployment="purple")
    assert answer.status == 404
    assert answer.json()["error"]["code"] == "deployment_not_found"
    assert "'purple'" in answer.json()["error"]["message"]


async def test_unknown_endpoints_and_paths_are_404(router: Router) -> None:
    unknown = await score(router, "nope")
    assert unknown.status == 404
    assert "'nope'" in unknown.json()["error"]["message"]
    for path in ("predict", "score/extra", ""):
        assert (await score(router, "demo", path=path)).status == 404


async def test_methods_other_than_get_and_post_are_405(router: Router) -> None:
    assert (await score(router, "demo", method="PUT")).status == 405
    assert (await score(router, "demo", path="swagger.json", method="POST")).status == 405


async def test_get_score_is_forwarded_with_its_query(
    router: Router, servers: dict[str, ModelServer]
) -> None:
    answer = await score(
        router, "demo", method="GET", body=b"", deployment="blue", query="a=1&b=x%20y"
    )
    assert answer.status == 200
    seen = servers["blue"].received[-1]
    assert (seen.method, seen.path, seen.query) == ("GET", "/score", "a=1&b=x%20y")


async def test_a_deployment_without_ready_instances_is_503(
    router: Router, servers: dict[str, ModelServer]
) -> None:
    router.update(
        endpoint_route(
            "demo",
            {"blue": 100},
            deployment_route("blue"),
            deployment_route("green", servers["green"]),
        )
    )
    answer = await score(router, "demo")
    assert answer.status == 503
    assert answer.deployment == "blue"
    assert "no ready instance" in answer.json()["error"]["message"]


async def test_a_failed_deployment_named_in_the_header_is_503_pointing_at_its_logs(
    router: Router, servers: dict[str, ModelServer]
) -> None:
    # A deployment kept in the Failed state has no instance and 0% traffic: only the
    # header reaches it, and it answers as a deployment without a ready instance does on
    # Azure (503), saying why and where to look.
    failed = replace(deployment_route("red"), failed=True)
    router.update(
        endpoint_route("demo", {"blue": 100}, deployment_route("blue", servers["blue"]), failed)
    )
    answer = await score(router, "demo", deployment="red")
    assert (answer.status, answer.deployment) == (503, "red")
    error = answer.json()["error"]
    assert error["code"] == "deployment_failed"
    assert "'red' of endpoint 'demo' is in the Failed state" in error["message"]
    assert "get-logs --name red --endpoint-name demo" in error["message"]
    answer = await score(router, "demo")
    assert (answer.status, answer.deployment) == (200, "blue")


async def test_request_body_and_headers_reach_the_instance(
    router: Router, servers: dict[str, ModelServer]
) -> None:
    body = b'{"user_id": "u-1", "features": [0.5, 1.5]}'
    answer = await score(
        router, "demo", body=body, deployment="blue", headers={"x-ms-client-request-id": "abc"}
    )
    assert answer.json()["echo"] == body.decode()
    seen = servers["blue"].received[-1]
    assert seen.body == body
    assert seen.headers["x-ms-client-request-id"] == "abc"
    assert seen.headers["Content-Type"] == "application/json"
    # The model's own headers come back, with the deployment's name.
    assert answer.headers["x-served-by"] == "blue"
    assert answer.headers["x-ms-run-fn-exec-ms"] == "0.1"
