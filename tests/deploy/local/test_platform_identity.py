"""Managed identity: instances get Azure's variables, pointing at the platform's token endpoint,
which says clearly that there is none (or, opted in, gives the user's own token)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from deploy.local.control.identity import TokenEndpoint, identity_mode
from deploy.local.platform import Platform
from deploy.types import EndpointSpec
from tests.deploy.local.platform_kit import deployment_spec, running_platform, score, write_code

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow(budget=60)]

EP = "ep-identity"

#: What a scoring script on Azure does with its endpoint's managed identity.
ASKS_FOR_A_TOKEN = """
import os


def init():
    pass


def run(raw_data):
    from azure.identity import ManagedIdentityCredential

    names = ("MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_ENDPOINT", "IDENTITY_HEADER")
    seen = {name: bool(os.environ.get(name)) for name in names}
    try:
        token = ManagedIdentityCredential().get_token("https://storage.azure.com/.default")
    except Exception as exc:
        return {"env": seen, "error": type(exc).__name__, "message": str(exc)}
    return {"env": seen, "token": token.token}
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    home = tmp_path_factory.mktemp("identity-home")
    code = write_code(tmp_path_factory.mktemp("identity-code"), ASKS_FOR_A_TOKEN)
    async with running_platform(home) as started:
        await started.create_or_update_endpoint(EndpointSpec(name=EP))
        await started.create_or_update_deployment(deployment_spec(EP, "blue", code))
        await started.set_traffic(EP, {"blue": 100})
        yield started


async def test_a_scoring_script_asking_for_a_managed_identity_token_gets_the_clear_error(
    platform: Platform,
) -> None:
    status, body, _ = await score(platform, EP, {})
    assert status == 200, body
    assert body["env"] == dict.fromkeys(
        ("MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"), True
    )
    assert "token" not in body
    assert body["error"] in ("ClientAuthenticationError", "CredentialUnavailableError"), body
    assert "no managed identity on the local platform" in body["message"], body
    assert "AZURE_CLIENT_ID" in body["message"] and "az login" in body["message"]


class _FakeToken:
    token = "user-token-for-tests"
    expires_on = 4102444800


class _FakeCredential:
    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, scope: str) -> _FakeToken:
        self.scopes.append(scope)
        return _FakeToken()


async def _ask(url: str, headers: dict[str, str], **params: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers=headers, params=params) as response,
    ):
        return response.status, json.loads(await response.text())


async def test_the_token_endpoint_checks_its_secret_and_answers_in_user_mode() -> None:
    credential = _FakeCredential()
    endpoint = TokenEndpoint(mode="user", credential=credential)
    await endpoint.start()
    try:
        env = endpoint.instance_environment()
        assert env["MSI_ENDPOINT"] == env["IDENTITY_ENDPOINT"] == endpoint.url
        assert endpoint.url.startswith("http://127.0.0.1:")
        resource = {"resource": "https://storage.azure.com", "api-version": "2019-08-01"}
        status, body = await _ask(endpoint.url, {"X-IDENTITY-HEADER": "wrong"}, **resource)
        assert (status, body["error"]) == (401, "unauthorized")
        status, body = await _ask(endpoint.url, {}, **resource)
        assert status == 401 and credential.scopes == []
        status, body = await _ask(endpoint.url, {"secret": endpoint.secret}, **resource)
        assert status == 200 and body["access_token"] == "user-token-for-tests"
        assert body["expires_on"] == "4102444800"
        assert credential.scopes == ["https://storage.azure.com/.default"]
    finally:
        await endpoint.stop()


async def test_the_user_mode_is_an_opt_in() -> None:
    assert identity_mode({}) == "none"
    assert identity_mode({"FLIGHTDECK_LOCAL_IDENTITY": "yes"}) == "none"
    assert identity_mode({"FLIGHTDECK_LOCAL_IDENTITY": "User"}) == "user"
