"""Contract: deployments, traffic and its rules, scoring and metrics, on every backend.

One endpoint with two deployments is shared by the tests of this module (in
order), so the local backend starts only two instances.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from deploy.errors import ConflictError, NotFoundError, ValidationError
from deploy.types import EndpointSpec, ModelRef, RequestSettings
from tests.contract.backends import ContractCase

pytestmark = pytest.mark.asyncio(loop_scope="module")

ENDPOINT = "contract-traffic"
V1 = ModelRef(name="contract-model", version="1")
V2 = ModelRef(name="contract-model", version="2")


def positive(weights: object) -> dict[str, int]:
    return {k: v for k, v in dict(weights).items() if v}  # type: ignore[call-overload]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def blue_green(case: ContractCase) -> ContractCase:
    """The endpoint, models v1 and v2, deployment blue (v1) and its clone green (v2)."""
    backend = case.backend
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    await backend.register_model("contract-model", "1", case.model_source("1"))
    await backend.register_model("contract-model", "2", case.model_source("2"))
    settings = RequestSettings(request_timeout_ms=3000, max_concurrent_requests_per_instance=2)
    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    blue = await backend.create_or_update_deployment(
        case.deployment(ENDPOINT, "blue", V1, request_settings=settings), progress=progress
    )
    assert lines, "a deployment reports progress"
    assert (blue.name, blue.endpoint_name, blue.model) == ("blue", ENDPOINT, "contract-model:1")
    assert (blue.instance_count, blue.provisioning_state) == (1, "Succeeded")
    assert blue.request_settings == settings
    assert blue.environment_variables == {"CONTRACT": "yes"}
    assert blue.autoscale is None

    spec = await backend.clone_deployment_spec(ENDPOINT, "blue", name="green", model=V2)
    assert (spec.name, spec.model, spec.scoring_script) == ("green", V2, "score.py")
    assert spec.code_path
    assert spec.request_settings == settings
    green = await backend.create_or_update_deployment(spec)
    assert green.model == "contract-model:2"
    assert green.request_settings == settings
    return case


async def test_deployments_are_listed_and_fetched(blue_green: ContractCase) -> None:
    backend = blue_green.backend
    assert sorted(d.name for d in await backend.list_deployments(ENDPOINT)) == ["blue", "green"]
    green = await backend.get_deployment(ENDPOINT, "green")
    assert (green.model, green.scoring_script) == ("contract-model:2", "score.py")
    with pytest.raises(NotFoundError):
        await backend.get_deployment(ENDPOINT, "purple")


async def test_a_split_is_set_and_read_back(blue_green: ContractCase) -> None:
    backend = blue_green.backend
    endpoint = await backend.set_traffic(ENDPOINT, {"blue": 90, "green": 10})
    assert positive(endpoint.traffic) == {"blue": 90, "green": 10}
    assert positive((await backend.get_endpoint(ENDPOINT)).traffic) == {"blue": 90, "green": 10}


@pytest.mark.parametrize(
    ("traffic", "mirror"),
    [
        ({"blue": 90, "green": 20}, None),
        ({"blue": 100, "purple": 0}, None),
        ({"blue": 100}, {"green": 60}),
        ({"blue": 50, "green": 50}, {"green": 10}),
        ({"blue": 100}, {"blue": 10}),
    ],
    ids=["sum-110", "unknown", "mirror-over-50", "mirror-takes-live", "mirror-self"],
)
async def test_traffic_rules_refuse_and_change_nothing(
    blue_green: ContractCase, traffic: dict[str, int], mirror: dict[str, int] | None
) -> None:
    backend = blue_green.backend
    before = await backend.get_endpoint(ENDPOINT)
    with pytest.raises(ValidationError):
        await backend.set_traffic(ENDPOINT, traffic, mirror_traffic=mirror)
    after = await backend.get_endpoint(ENDPOINT)
    assert positive(after.traffic) == positive(before.traffic)
    assert positive(after.mirror_traffic) == positive(before.mirror_traffic)


async def test_mirror_traffic_is_set_and_cleared(blue_green: ContractCase) -> None:
    backend = blue_green.backend
    endpoint = await backend.set_traffic(
        ENDPOINT, {"blue": 100, "green": 0}, mirror_traffic={"green": 20}
    )
    assert positive(endpoint.traffic) == {"blue": 100}
    assert positive(endpoint.mirror_traffic) == {"green": 20}
    with pytest.raises(ConflictError):
        await backend.delete_deployment(ENDPOINT, "green")
    cleared = await backend.set_traffic(ENDPOINT, mirror_traffic={})
    assert positive(cleared.mirror_traffic) == {}
    assert positive(cleared.traffic) == {"blue": 100}


async def test_scoring_follows_traffic_and_the_deployment_header(blue_green: ContractCase) -> None:
    backend = blue_green.backend
    body = json.dumps({"data": [[1, 2, 3, 4, 5]]}).encode()
    answers = [await backend.invoke(ENDPOINT, body) for _ in range(3)]
    assert [(a.status, a.deployment) for a in answers] == [(200, "blue")] * 3
    named = await backend.invoke(ENDPOINT, body, deployment="green")
    assert (named.status, named.deployment) == (200, "green")


async def test_metrics_count_the_scoring_requests(blue_green: ContractCase) -> None:
    backend = blue_green.backend
    window = timedelta(minutes=5)

    async def blue_requests() -> int:
        snapshot = await backend.metrics(ENDPOINT, window)
        found = snapshot.deployments.get("blue")
        return found.window.requests if found is not None else 0

    # Scoring calls of the previous test are recorded as they are answered; allow 10 s of lag.
    for _ in range(100):
        if await blue_requests() >= 3:
            break
        await asyncio.sleep(0.1)

    snapshot = await backend.metrics(ENDPOINT, window)
    assert snapshot.endpoint == ENDPOINT
    assert snapshot.end - snapshot.start == window
    assert snapshot.start <= datetime.now(UTC) <= snapshot.end + timedelta(seconds=5)
    assert {"blue", "green"} <= set(snapshot.deployments) <= {"blue", "green"}
    blue = snapshot.deployments["blue"]
    assert blue.deployment == "blue"
    assert blue.window.requests >= 3
    assert blue.window.requests_by_status.get("200", 0) >= 3
    assert sum(m.requests for m in blue.minutes) == blue.window.requests
    assert blue.window.latency_p50_ms is not None and blue.window.latency_p99_ms is not None
    assert blue.window.latency_p50_ms <= blue.window.latency_p99_ms
    stamps = [m.timestamp for m in blue.minutes]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert snapshot.deployments["green"].window.requests >= 1
    with pytest.raises(ValidationError):
        await backend.metrics(ENDPOINT, backend.metrics_retention + timedelta(minutes=1))


async def test_deleting_deployments_follows_the_traffic_rule(blue_green: ContractCase) -> None:
    backend = blue_green.backend
    with pytest.raises(ConflictError):
        await backend.delete_deployment(ENDPOINT, "blue")
    await backend.delete_deployment(ENDPOINT, "green")
    assert [d.name for d in await backend.list_deployments(ENDPOINT)] == ["blue"]
    with pytest.raises(NotFoundError):
        await backend.get_deployment(ENDPOINT, "green")
    await backend.delete_endpoint(ENDPOINT)
    with pytest.raises(NotFoundError):
        await backend.get_endpoint(ENDPOINT)
