"""Endpoints on Azure: what azure-ai-ml sends for each operation, and what comes back."""

from __future__ import annotations

import asyncio

import pytest

from deploy.azure import AzureMLBackend
from deploy.errors import FlightdeckError, NotFoundError, ValidationError
from deploy.types import EndpointSpec
from tests.support.fake_arm import FakeArm

SPEC = EndpointSpec(
    name="product-recommender",
    description="Real-time product recommendation service",
    tags={"team": "recommendations", "environment": "production"},
)


async def test_create_sends_the_endpoint_put_and_waits_for_the_operation(
    backend: AzureMLBackend, fake: FakeArm
) -> None:
    endpoint = await backend.create_or_update_endpoint(SPEC)

    (put,) = fake.find("PUT", "/onlineEndpoints/product-recommender")
    assert put.body["properties"]["authMode"] == "Key"
    assert put.body["properties"]["description"] == SPEC.description
    assert put.body["tags"] == dict(SPEC.tags)
    assert put.body["location"] == fake.location
    assert fake.find("GET", "/mfeOperationsStatus/" + next(iter(fake.operations)))
    assert endpoint.name == "product-recommender"
    assert endpoint.auth_mode == "key"
    assert endpoint.provisioning_state == "Succeeded"
    assert endpoint.scoring_uri.endswith("/product-recommender/score")
    assert endpoint.tags == SPEC.tags


async def test_token_auth_is_sent_as_amltoken(backend: AzureMLBackend, fake: FakeArm) -> None:
    spec = EndpointSpec(name="secure-recommender", auth_mode="aml_token")
    endpoint = await backend.create_or_update_endpoint(spec)
    (put,) = fake.find("PUT", "/onlineEndpoints/secure-recommender")
    assert put.body["properties"]["authMode"] == "AMLToken"
    assert endpoint.auth_mode == "aml_token"


async def test_update_changes_description_and_tags_and_keeps_traffic(
    backend: AzureMLBackend, fake: FakeArm
) -> None:
    await backend.create_or_update_endpoint(SPEC)
    endpoint = await backend.create_or_update_endpoint(
        EndpointSpec(name=SPEC.name, description="v2", tags={})
    )
    last = fake.find("PUT", "/onlineEndpoints/product-recommender")[-1]
    assert last.body["properties"]["description"] == "v2"
    assert last.body["properties"]["authMode"] == "Key"
    assert last.body["properties"]["traffic"] == {}
    assert endpoint.description == "v2"
    assert endpoint.tags == {}


async def test_the_auth_mode_cannot_change(backend: AzureMLBackend, fake: FakeArm) -> None:
    await backend.create_or_update_endpoint(SPEC)
    fake.clear_calls()
    with pytest.raises(ValidationError, match="uses auth_mode key; it cannot change to aml_token"):
        await backend.create_or_update_endpoint(EndpointSpec(name=SPEC.name, auth_mode="aml_token"))
    assert not fake.find("PUT", "/onlineEndpoints/product-recommender")


async def test_get_list_and_delete(backend: AzureMLBackend, fake: FakeArm) -> None:
    await backend.create_or_update_endpoint(SPEC)
    await backend.create_or_update_endpoint(EndpointSpec(name="second-endpoint"))

    listed = await backend.list_endpoints()
    assert sorted(e.name for e in listed) == ["product-recommender", "second-endpoint"]
    assert (await backend.get_endpoint("second-endpoint")).name == "second-endpoint"

    await backend.delete_endpoint("second-endpoint")
    (delete,) = fake.find("DELETE", "/onlineEndpoints/second-endpoint")
    assert delete.method == "DELETE"
    # The 202 + Location operation was polled to its end.
    assert fake.find("GET", "/mfeOperationResults/" + sorted(fake.operations)[-1])
    assert [e.name for e in await backend.list_endpoints()] == ["product-recommender"]
    with pytest.raises(NotFoundError, match="Endpoint 'second-endpoint' does not exist"):
        await backend.get_endpoint("second-endpoint")


async def test_a_bad_name_is_refused_before_anything_is_sent(
    backend: AzureMLBackend, fake: FakeArm
) -> None:
    with pytest.raises(ValidationError, match="3-32 characters"):
        await backend.create_or_update_endpoint(EndpointSpec(name="x_1"))
    assert fake.calls == []


async def test_progress_is_reported_while_the_operation_runs(
    backend: AzureMLBackend, fake: FakeArm
) -> None:
    lines: list[str] = []
    two_lines = asyncio.Event()

    async def progress(line: str) -> None:
        lines.append(line)
        if len(lines) >= 2:
            two_lines.set()

    fake.hold()
    task = asyncio.create_task(backend.create_or_update_endpoint(SPEC, progress=progress))
    await asyncio.wait_for(two_lines.wait(), 10)
    assert not task.done()
    fake.release()
    endpoint = await asyncio.wait_for(task, 10)

    assert endpoint.provisioning_state == "Succeeded"
    assert lines[0].startswith("Creating endpoint 'product-recommender': InProgress")


async def test_a_slow_operation_times_out_with_a_message(fake: FakeArm) -> None:
    from deploy.azure import create_azure_backend
    from tests.support.fake_arm_http import FakeCredential

    slow = create_azure_backend(
        {
            "subscription_id": fake.subscription_id,
            "resource_group": fake.resource_group,
            "workspace_name": fake.workspace,
            "credential": FakeCredential(),
            "transport": fake,
            "progress_interval": 0.05,
            "operation_timeout": 0.3,
        },
        environ={},
    )
    fake.hold()
    try:
        with pytest.raises(FlightdeckError, match="still in progress on Azure after"):
            await slow.create_or_update_endpoint(SPEC)
    finally:
        fake.release()
        await slow.aclose()
