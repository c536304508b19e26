"""Keys, tokens and scoring calls on Azure (scoring over HTTP, not through the SDK)."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from deploy.azure import AzureMLBackend
from deploy.errors import ValidationError
from deploy.types import DeploymentSpec, EndpointSpec, ModelRef
from tests.support.fake_arm import FakeArm

ENDPOINT = "product-recommender"


async def deploy_two(backend: AzureMLBackend, code_dir: Path, auth_mode: str = "key") -> None:
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT, auth_mode=auth_mode))  # type: ignore[arg-type]
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


async def test_keys_come_from_list_keys(
    backend: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    credentials = await backend.get_credentials(ENDPOINT)
    assert fake.find("POST", f"/onlineEndpoints/{ENDPOINT}/listKeys")
    assert credentials.auth_mode == "key"
    assert credentials.primary_key == fake.ml.keys[ENDPOINT]["primaryKey"]
    assert credentials.secondary_key == fake.ml.keys[ENDPOINT]["secondaryKey"]


async def test_regenerating_a_key_replaces_it_and_the_old_one_stops_working(
    backend: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    await deploy_two(backend, code_dir)
    await backend.set_traffic(ENDPOINT, {"blue": 100})
    old = await backend.get_credentials(ENDPOINT)

    new = await backend.regenerate_keys(ENDPOINT, key_type="primary")

    (regenerate,) = fake.find("POST", f"/onlineEndpoints/{ENDPOINT}/regenerateKeys")
    assert regenerate.body["keyType"] == "Primary"
    assert new.primary_key != old.primary_key
    assert new.secondary_key == old.secondary_key
    assert (await backend.invoke(ENDPOINT, b"{}")).status == 200
    uri = (await backend.get_endpoint(ENDPOINT)).scoring_uri
    headers = {"Authorization": f"Bearer {old.primary_key}"}
    async with aiohttp.ClientSession() as session, session.post(uri, headers=headers) as answer:
        assert answer.status == 401


async def test_bad_key_types_and_token_endpoints_are_refused(
    backend: AzureMLBackend, fake: FakeArm
) -> None:
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT, auth_mode="aml_token"))
    with pytest.raises(ValidationError, match="'primary' or 'secondary'"):
        await backend.regenerate_keys(ENDPOINT, key_type="tertiary")
    with pytest.raises(ValidationError, match="uses aml_token authentication"):
        await backend.regenerate_keys(ENDPOINT)
    assert not fake.find("POST", "/regenerateKeys")


async def test_invoke_splits_by_traffic_and_honours_the_deployment_header(
    backend: AzureMLBackend, code_dir: Path
) -> None:
    await deploy_two(backend, code_dir)
    await backend.set_traffic(ENDPOINT, {"blue": 75, "green": 25})

    answers = [await backend.invoke(ENDPOINT, b'{"data": [[1, 2, 3, 4, 5]]}') for _ in range(8)]
    assert [a.status for a in answers] == [200] * 8
    assert sorted(a.deployment or "" for a in answers).count("blue") == 6
    named = await backend.invoke(ENDPOINT, b"{}", deployment="green")
    assert named.deployment == "green"
    assert json.loads(named.body)["deployment"] == "green"


async def test_invoke_without_traffic_is_azures_404(
    backend: AzureMLBackend, code_dir: Path
) -> None:
    await deploy_two(backend, code_dir)
    answer = await backend.invoke(ENDPOINT, b"{}")
    assert answer.status == 404
    assert b"No valid deployments to route to" in answer.body


async def test_token_endpoints_get_a_token_that_scores(
    backend: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    await deploy_two(backend, code_dir, auth_mode="aml_token")
    await backend.set_traffic(ENDPOINT, {"green": 100})
    credentials = await backend.get_credentials(ENDPOINT)
    assert fake.find("POST", f"/onlineEndpoints/{ENDPOINT}/token")
    assert credentials.auth_mode == "aml_token"
    assert credentials.access_token
    assert credentials.expiry_time_utc is not None
    assert credentials.refresh_after_time_utc is not None
    assert credentials.refresh_after_time_utc < credentials.expiry_time_utc
    assert (await backend.invoke(ENDPOINT, b"{}")).deployment == "green"
