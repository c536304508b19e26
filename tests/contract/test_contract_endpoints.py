"""Contract: endpoints, credentials and models behave the same on every backend."""

from __future__ import annotations

import pytest

from deploy.errors import NotFoundError, ValidationError
from deploy.types import EndpointSpec
from tests.contract.backends import ContractCase

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_endpoint_lifecycle(case: ContractCase) -> None:
    backend = case.backend
    spec = EndpointSpec(name="contract-ep", description="first", tags={"team": "contract"})

    created = await backend.create_or_update_endpoint(spec)
    assert (created.name, created.auth_mode, created.description) == ("contract-ep", "key", "first")
    assert created.tags == {"team": "contract"}
    assert created.scoring_uri.endswith("/score")
    assert {k: v for k, v in created.traffic.items() if v} == {}
    assert created.mirror_traffic == {}

    fetched = await backend.get_endpoint("contract-ep")
    assert (fetched.name, fetched.description, fetched.scoring_uri) == (
        "contract-ep",
        "first",
        created.scoring_uri,
    )
    assert "contract-ep" in [e.name for e in await backend.list_endpoints()]

    updated = await backend.create_or_update_endpoint(
        EndpointSpec(name="contract-ep", description="second", tags={})
    )
    assert (updated.description, updated.tags) == ("second", {})
    assert (await backend.get_endpoint("contract-ep")).description == "second"

    with pytest.raises(ValidationError):
        await backend.create_or_update_endpoint(
            EndpointSpec(name="contract-ep", auth_mode="aml_token")
        )
    assert (await backend.get_endpoint("contract-ep")).auth_mode == "key"

    await backend.delete_endpoint("contract-ep")
    with pytest.raises(NotFoundError):
        await backend.get_endpoint("contract-ep")
    assert "contract-ep" not in [e.name for e in await backend.list_endpoints()]


async def test_bad_names_and_missing_endpoints(case: ContractCase) -> None:
    backend = case.backend
    with pytest.raises(ValidationError):
        await backend.create_or_update_endpoint(EndpointSpec(name="no_underscores"))
    for call in (
        backend.get_endpoint("nowhere-ep"),
        backend.list_deployments("nowhere-ep"),
        backend.get_credentials("nowhere-ep"),
        backend.get_deployment("nowhere-ep", "blue"),
    ):
        with pytest.raises(NotFoundError):
            await call


async def test_keys_regenerate_one_at_a_time(case: ContractCase) -> None:
    backend = case.backend
    await backend.create_or_update_endpoint(EndpointSpec(name="contract-keys"))
    before = await backend.get_credentials("contract-keys")
    assert before.auth_mode == "key"
    assert before.primary_key and before.secondary_key
    assert before.primary_key != before.secondary_key
    assert before.bearer() == before.primary_key

    after = await backend.regenerate_keys("contract-keys", key_type="secondary")
    assert after.primary_key == before.primary_key
    assert after.secondary_key not in (None, before.secondary_key)
    assert await backend.get_credentials("contract-keys") == after

    with pytest.raises(ValidationError):
        await backend.regenerate_keys("contract-keys", key_type="tertiary")
    await backend.delete_endpoint("contract-keys")


async def test_token_endpoints_give_tokens_and_have_no_keys(case: ContractCase) -> None:
    backend = case.backend
    await backend.create_or_update_endpoint(
        EndpointSpec(name="contract-token", auth_mode="aml_token")
    )
    credentials = await backend.get_credentials("contract-token")
    assert credentials.auth_mode == "aml_token"
    assert credentials.access_token and credentials.bearer() == credentials.access_token
    assert credentials.primary_key is None
    assert credentials.expiry_time_utc is not None
    assert credentials.refresh_after_time_utc is not None
    assert credentials.refresh_after_time_utc < credentials.expiry_time_utc
    with pytest.raises(ValidationError):
        await backend.regenerate_keys("contract-token")
    await backend.delete_endpoint("contract-token")


async def test_models_register_list_and_get(case: ContractCase) -> None:
    backend = case.backend
    registered = await backend.register_model(
        "contract-registry", "1", case.model_source("registry-1"), description="one"
    )
    assert (registered.name, registered.version, registered.description) == (
        "contract-registry",
        "1",
        "one",
    )
    assert registered.path
    listed = [(m.name, m.version) for m in await backend.list_models()]
    assert ("contract-registry", "1") in listed
    fetched = await backend.get_model("contract-registry", "1")
    assert (fetched.name, fetched.version, fetched.path) == (
        "contract-registry",
        "1",
        registered.path,
    )
    with pytest.raises(NotFoundError):
        await backend.get_model("contract-registry", "2")
