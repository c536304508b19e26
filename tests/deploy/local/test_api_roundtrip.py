"""Every Backend method through the real control API and LocalBackend, against the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from deploy.memory import MemoryBackend as FakeBackend
from deploy.types import (
    AutoscalePolicy,
    DeploymentSpec,
    EndpointSpec,
    EnvironmentSpec,
    ModelRef,
    ProbeSettings,
    RequestSettings,
)
from tests.support.control_api import Served, serve_backend


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    async with serve_backend(FakeBackend()) as running:
        yield running


def _fake(served: Served) -> FakeBackend:
    backend = served.api._backend
    assert isinstance(backend, FakeBackend)
    return backend


def _spec(name: str = "blue", *, count: int = 1, tmp: Path | None = None) -> DeploymentSpec:
    return DeploymentSpec(
        name=name,
        endpoint_name="product-recommender",
        model=ModelRef(path=str(tmp or "/models/m")),
        code_path="/code",
        scoring_script="score.py",
        environment=EnvironmentSpec(conda_file={"dependencies": ["python=3.11"]}),
        instance_count=count,
        request_settings=RequestSettings(
            request_timeout_ms=3000, max_concurrent_requests_per_instance=4
        ),
        liveness_probe=ProbeSettings(initial_delay=0.5, period=1, failure_threshold=3),
        readiness_probe=ProbeSettings(initial_delay=0.5, period=1),
        environment_variables={"WORKER_COUNT": "4"},
        autoscale=AutoscalePolicy(min_instances=1, max_instances=3),
        tags={"v": "1"},
    )


async def _endpoint(served: Served, auth_mode: str = "key") -> None:
    spec = EndpointSpec(
        name="product-recommender",
        auth_mode="key" if auth_mode == "key" else "aml_token",
        description="Real-time product recommendation service",
        tags={"team": "recommendations"},
    )
    await served.client.create_or_update_endpoint(spec)


async def test_endpoint_methods_round_trip(served: Served) -> None:
    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    spec = EndpointSpec(name="product-recommender", description="d", tags={"team": "r"})
    created = await served.client.create_or_update_endpoint(spec, progress=progress)
    assert lines == ["Creating endpoint product-recommender ..."]
    assert created == _fake(served).endpoints["product-recommender"]
    assert created.tags == {"team": "r"}
    assert await served.client.get_endpoint("product-recommender") == created
    assert await served.client.list_endpoints() == [created]

    await served.client.create_or_update_deployment(_spec("blue"))
    await served.client.create_or_update_deployment(_spec("green"))
    updated = await served.client.set_traffic(
        "product-recommender", {"blue": 90, "green": 10}, mirror_traffic=None
    )
    assert updated.traffic == {"blue": 90, "green": 10}
    assert await served.client.previous_traffic("product-recommender") == {}
    mirrored = await served.client.set_traffic(
        "product-recommender", {"blue": 100, "green": 0}, mirror_traffic={"green": 10}
    )
    assert mirrored.mirror_traffic == {"green": 10}
    assert await served.client.previous_traffic("product-recommender") == {
        "blue": 90,
        "green": 10,
    }

    keys = await served.client.get_credentials("product-recommender")
    assert keys.primary_key == _fake(served).keys["product-recommender"][0]
    regenerated = await served.client.regenerate_keys("product-recommender", key_type="secondary")
    assert regenerated.primary_key == keys.primary_key
    assert regenerated.secondary_key != keys.secondary_key

    body = bytes(range(256))  # not UTF-8: must survive the trip
    answer = await served.client.invoke("product-recommender", body, deployment="green")
    assert answer.status == 200
    assert answer.deployment == "green"
    assert answer.body.decode().count("green") == 1

    snapshot = await served.client.metrics("product-recommender", timedelta(minutes=5))
    assert snapshot.deployments["green"].window.requests == 1
    assert snapshot == await _fake(served).metrics("product-recommender", timedelta(minutes=5))

    await served.client.set_traffic(
        "product-recommender", {"blue": 0, "green": 0}, mirror_traffic={}
    )
    lines.clear()
    await served.client.delete_endpoint("product-recommender", progress=progress)
    assert lines[-1] == "Deleting endpoint product-recommender ..."
    assert _fake(served).endpoints == {}


async def test_aml_token_credentials_round_trip(served: Served) -> None:
    await _endpoint(served, auth_mode="aml_token")
    credentials = await served.client.get_credentials("product-recommender")
    assert credentials.auth_mode == "aml_token"
    assert credentials.access_token and credentials.access_token.startswith("product-recommender.")
    assert credentials.expiry_time_utc is not None
    assert credentials.bearer() == credentials.access_token


async def test_deployment_methods_round_trip(served: Served, tmp_path: Path) -> None:
    await _endpoint(served)
    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    spec = _spec("blue", count=2, tmp=tmp_path)
    created = await served.client.create_or_update_deployment(spec, progress=progress)
    assert _fake(served).specs[("product-recommender", "blue")] == spec
    assert lines == [
        "Copying model for blue ...",
        "Starting instance blue-1 ...",
        "Starting instance blue-2 ...",
        "Instance blue-1 ready (1/2)",
        "Instance blue-2 ready (2/2)",
    ]
    assert created.ready_instances == 2
    assert created.autoscale == AutoscalePolicy(min_instances=1, max_instances=3)
    assert await served.client.get_deployment("product-recommender", "blue") == created
    assert await served.client.list_deployments("product-recommender") == [created]

    lines.clear()
    scaled = await served.client.scale("product-recommender", "blue", 3, progress=progress)
    assert scaled.instance_count == 3
    assert lines == ["Scaling blue to 3 ..."]

    policy = AutoscalePolicy(min_instances=2, max_instances=5, scale_down_delay=10)
    assert (
        await served.client.set_autoscale("product-recommender", "blue", policy)
    ).autoscale == policy
    assert (
        await served.client.set_autoscale("product-recommender", "blue", None)
    ).autoscale is None

    logs = await served.client.get_logs("product-recommender", "blue", lines=3)
    assert logs.splitlines() == [f"inference-server line {i}" for i in (198, 199, 200)]
    storage = await served.client.get_logs(
        "product-recommender", "blue", lines=1, container="storage-initializer"
    )
    assert storage == "storage-initializer line 200"

    clone = await served.client.clone_deployment_spec(
        "product-recommender", "blue", name="green", model=ModelRef(name="m", version="2")
    )
    assert clone.code_path == "/code"
    assert clone.environment == spec.environment
    assert clone.model == ModelRef(name="m", version="2")

    await served.client.delete_deployment("product-recommender", "blue", progress=progress)
    assert ("product-recommender", "blue") not in _fake(served).specs


async def test_model_methods_round_trip(served: Served, tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    model = await served.client.register_model(
        "recommendation-model", "1", str(tmp_path), description="first"
    )
    assert model == _fake(served).models[("recommendation-model", "1")]
    assert await served.client.get_model("recommendation-model", "1") == model
    assert await served.client.list_models() == [model]
    await served.client.set_model_archived("recommendation-model", "1", archived=True)
    assert (await served.client.get_model("recommendation-model", "1")).archived
    await served.client.set_model_archived("recommendation-model", None, archived=True)
    assert _fake(served).archived_models == {"recommendation-model"}
    await served.client.set_model_archived("recommendation-model", None, archived=False)
    await served.client.set_model_archived("recommendation-model", "1", archived=False)
    assert await served.client.list_models() == [model]
