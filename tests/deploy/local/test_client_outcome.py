"""The control API client when the daemon goes away after it accepted a change: the outcome
is unknown (it may be committed), and the message says that `show` tells, not that it failed.

The daemon is stood in for at the HTTP level: it accepts the operation, then drops the
connection of the poll (as a kill -9 does), or, restarted, no longer knows the operation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from deploy.errors import BackendUnavailableError, OutcomeUnknownError
from deploy.local.control.client import LocalBackend
from deploy.types import EndpointSpec


async def _server(
    poll: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[LocalBackend]:
    async def accept(request: web.Request) -> web.Response:
        return web.json_response({"operation": "op-1"}, status=202)

    app = web.Application()
    app.router.add_put("/endpoints/{name}", accept)
    app.router.add_delete("/endpoints/{name}", accept)
    app.router.add_get("/operations/{op}", poll)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    backend = LocalBackend(control_url=f"http://127.0.0.1:{port}", token="t")
    try:
        yield backend
    finally:
        await backend.aclose()
        await runner.cleanup()


async def killed(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.close()  # the daemon dies mid-poll
    return web.Response()


async def forgot(request: web.Request) -> web.Response:
    error = {"error": {"code": "not_found", "message": "Operation 'op-1' does not exist."}}
    return web.json_response(error, status=404)


@pytest.fixture
async def killed_daemon() -> AsyncIterator[LocalBackend]:
    async for backend in _server(killed):
        yield backend


@pytest.fixture
async def restarted_daemon() -> AsyncIterator[LocalBackend]:
    async for backend in _server(forgot):
        yield backend


async def test_daemon_killed_during_an_update_leaves_the_outcome_unknown(
    killed_daemon: LocalBackend,
) -> None:
    with pytest.raises(OutcomeUnknownError) as info:
        await killed_daemon.create_or_update_endpoint(EndpointSpec(name="product-recommender"))
    message = info.value.message
    assert "outcome is unknown" in message and "`show` tells" in message
    assert "endpoints/product-recommender" in message
    # Still a BackendUnavailableError for callers that only know that much.
    assert isinstance(info.value, BackendUnavailableError)


async def test_a_restarted_daemon_that_forgot_the_operation_is_unknown_too(
    restarted_daemon: LocalBackend,
) -> None:
    with pytest.raises(OutcomeUnknownError, match="deleting endpoints/product-recommender"):
        await restarted_daemon.delete_endpoint("product-recommender")
