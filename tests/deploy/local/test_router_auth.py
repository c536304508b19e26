"""The router's auth: keys (primary and secondary) and aml_token, as Azure checks them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from deploy.local.dataplane.router import Router
from deploy.local.state.tokens import TOKEN_LIFETIME_SECONDS, issue_token
from tests.deploy.local.router_kit import (
    KEYS,
    Clock,
    ModelServer,
    deployment_route,
    endpoint_route,
    running_router,
    score,
)

SECRET = b"token-secret-of-demo"


@pytest.fixture
async def blue() -> AsyncIterator[ModelServer]:
    async with ModelServer(name="blue") as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def router(blue: ModelServer, clock: Clock) -> AsyncIterator[Router]:
    async with running_router(clock) as router:
        router.update(endpoint_route("keyed", {"blue": 100}, deployment_route("blue", blue)))
        router.update(
            endpoint_route(
                "tokened",
                {"blue": 100},
                deployment_route("blue", blue),
                auth_mode="aml_token",
                token_secret=SECRET,
            )
        )
        router.update(
            endpoint_route(
                "other",
                {"blue": 100},
                deployment_route("blue", blue),
                auth_mode="aml_token",
                token_secret=SECRET,
            )
        )
        yield router


@pytest.mark.parametrize("key", KEYS, ids=["primary", "secondary"])
async def test_either_key_is_accepted(router: Router, blue: ModelServer, key: str) -> None:
    answer = await score(router, "keyed", bearer=key)
    assert answer.status == 200
    assert answer.deployment == "blue"
    assert answer.json()["served_by"] == "blue"
    assert "Authorization" not in blue.received[-1].headers  # the key stays with the router


@pytest.mark.parametrize(
    ("headers", "bearer", "word"),
    [
        ({}, None, "Missing credentials"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, None, "Missing credentials"),
        ({}, "", "Missing credentials"),
        ({}, "not-the-key", "not valid"),
        ({}, KEYS[0] + "x", "not valid"),
        ({}, "pérotte", "not valid"),
    ],
    ids=["missing", "basic", "empty", "wrong", "longer", "non-ascii"],
)
async def test_bad_credentials_get_401_with_a_message(
    router: Router, blue: ModelServer, headers: dict[str, str], bearer: str | None, word: str
) -> None:
    answer = await score(router, "keyed", bearer=bearer, headers=headers)
    assert answer.status == 401
    assert word in answer.json()["error"]["message"]
    assert answer.json()["error"]["code"] == "unauthorized"
    assert blue.received == []


async def test_a_valid_token_is_accepted(router: Router, clock: Clock) -> None:
    token, _ = issue_token(SECRET, "tokened", now=clock.now)
    answer = await score(router, "tokened", bearer=token)
    assert answer.status == 200
    assert answer.deployment == "blue"


async def test_a_key_is_refused_on_a_token_endpoint(router: Router) -> None:
    answer = await score(router, "tokened", bearer=KEYS[0])
    assert answer.status == 401
    assert "token" in answer.json()["error"]["message"]


async def test_an_expired_token_is_refused(router: Router, clock: Clock) -> None:
    token, expiry = issue_token(SECRET, "tokened", now=clock.now)
    clock.now = expiry - 1
    assert (await score(router, "tokened", bearer=token)).status == 200
    clock.now = clock.now + TOKEN_LIFETIME_SECONDS
    answer = await score(router, "tokened", bearer=token)
    assert answer.status == 401
    assert "expired" in answer.json()["error"]["message"]


async def test_a_token_of_another_endpoint_is_refused(router: Router, clock: Clock) -> None:
    token, _ = issue_token(SECRET, "other", now=clock.now)
    assert (await score(router, "other", bearer=token)).status == 200
    assert (await score(router, "tokened", bearer=token)).status == 401


async def test_a_token_signed_with_another_secret_is_refused(router: Router, clock: Clock) -> None:
    token, _ = issue_token(b"someone else", "tokened", now=clock.now)
    assert (await score(router, "tokened", bearer=token)).status == 401


async def test_aad_token_endpoints_say_they_cannot_be_called_locally(
    router: Router, blue: ModelServer
) -> None:
    router.update(
        endpoint_route("aad", {"blue": 100}, deployment_route("blue", blue), auth_mode="aad_token")
    )
    answer = await score(router, "aad", bearer="eyJ0eXAi")
    assert answer.status == 401
    assert "aad_token" in answer.json()["error"]["message"]


async def test_swagger_needs_the_same_credentials(router: Router) -> None:
    assert (await score(router, "keyed", path="swagger.json", method="GET")).status == 200
    refused = await score(router, "keyed", path="swagger.json", method="GET", bearer="nope")
    assert refused.status == 401
