"""The load-test engine against an Azure endpoint (on the fake): the plan ``/loadtest`` and
``flightdeck loadtest`` build with ``commands.loadtest.prepare``, run by ``run_load_test``
over real HTTP to the fake's scoring URI, with the endpoint's key."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from commands.loadtest import LoadtestRequest, prepare
from deploy.azure import AzureMLBackend
from deploy.types import DeploymentSpec, EndpointSpec, ModelRef
from loadtest import Limits, run_load_test
from tests.support.fake_arm import FakeArm

ENDPOINT = "product-recommender"
BODY = json.dumps({"data": [[1.0, 2.0, 3.0, 4.0, 5.0]]}).encode()


async def blue_green(backend: AzureMLBackend, code_dir: Path) -> None:
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    await backend.register_model("rec", "1", "azureml://datastores/workspaceblobstore/paths/m/")
    for name in ("blue", "green"):
        await backend.create_or_update_deployment(
            DeploymentSpec(
                name=name,
                endpoint_name=ENDPOINT,
                model=ModelRef(name="rec", version="1"),
                code_path=str(code_dir),
                scoring_script="score.py",
            )
        )
    await backend.set_traffic(ENDPOINT, {"blue": 80, "green": 20})


def limits(backend: AzureMLBackend) -> Limits:
    return Limits(
        max_requests=1000,
        max_duration=60,
        max_concurrency=16,
        allow_only_loopback=backend.loopback_only,
    )


async def test_a_closed_loop_load_test_scores_with_the_endpoint_key(
    backend: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    await blue_green(backend, code_dir)
    caps = limits(backend)
    request = LoadtestRequest(endpoint=ENDPOINT, requests=200, concurrency=8)
    plan = await prepare(backend, request, limits=caps, body=BODY)
    endpoint = await backend.get_endpoint(ENDPOINT)
    assert plan.url == endpoint.scoring_uri
    assert plan.url.startswith("http://127.0.0.1:")  # the fake's scoring URI is plain http
    key = fake.ml.keys[ENDPOINT]["primaryKey"]
    assert plan.headers["Authorization"] == f"Bearer {key}"

    result = await run_load_test(plan, limits=caps, progress_interval=0.2)

    assert (result.sent, result.completed, result.ok) == (200, 200, 200)
    assert dict(result.status_counts) == {200: 200}
    assert result.errors == 0 and not result.cancelled
    assert result.latency is not None and 0 < result.latency.p50 <= result.latency.p99
    # The fake routed every request by the 80/20 split (a smooth weighted round robin).
    assert Counter(r.deployment for r in fake.metrics.requests) == {"blue": 160, "green": 40}
    # ... and Azure Monitor's metrics (read back through the real MetricsClient) count them.
    snapshot = await backend.metrics(ENDPOINT, timedelta(minutes=5))
    counted = {name: m.window.requests for name, m in snapshot.deployments.items()}
    assert counted == {"blue": 160, "green": 40}


async def test_the_deployment_header_and_a_stale_key(
    backend: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    await blue_green(backend, code_dir)
    caps = limits(backend)
    request = LoadtestRequest(endpoint=ENDPOINT, deployment="green", requests=30, concurrency=3)
    plan = await prepare(backend, request, limits=caps, body=BODY)
    result = await run_load_test(plan, limits=caps)
    assert dict(result.status_counts) == {200: 30}
    assert {r.deployment for r in fake.metrics.requests} == {"green"}

    await backend.regenerate_keys(ENDPOINT, key_type="primary")
    stale = await run_load_test(replace(plan, requests=10), limits=caps)
    assert dict(stale.status_counts) == {401: 10}
    assert stale.ok == 0 and stale.errors == 10
