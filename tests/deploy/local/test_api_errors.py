"""Errors through the control API: the same exception class comes back, state unchanged."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest

from deploy.errors import (
    BackendUnavailableError,
    ConflictError,
    DeploymentFailedError,
    FlightdeckError,
    NotFoundError,
    SpecError,
    ValidationError,
)
from deploy.local.control.client import LocalBackend
from deploy.local.control.wire import decode_error, encode_error
from deploy.memory import MemoryBackend as FakeBackend
from deploy.types import Deployment, DeploymentSpec, EndpointSpec, ProgressCallback
from tests.support.control_api import Served, serve_backend

ENDPOINT = "product-recommender"


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    fake = FakeBackend(fail_deployments={"broken"}, crash_on=set())
    async with serve_backend(fake) as running:
        await running.client.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
        await running.client.create_or_update_deployment(_spec("blue"))
        await running.client.create_or_update_deployment(_spec("green"))
        await running.client.set_traffic(ENDPOINT, {"blue": 100})
        yield running


def _spec(name: str) -> DeploymentSpec:
    return DeploymentSpec(name=name, endpoint_name=ENDPOINT, code_path="/c", scoring_script="s.py")


def _fake(served: Served) -> FakeBackend:
    backend = served.api._backend
    assert isinstance(backend, FakeBackend)
    return backend


async def test_not_found_comes_back_as_not_found(served: Served) -> None:
    with pytest.raises(NotFoundError, match="Endpoint 'nope' does not exist"):
        await served.client.get_endpoint("nope")
    with pytest.raises(NotFoundError, match="Deployment 'nope' does not exist"):
        await served.client.get_deployment(ENDPOINT, "nope")
    with pytest.raises(NotFoundError):
        await served.client.scale(ENDPOINT, "nope", 2)
    with pytest.raises(NotFoundError):
        await served.client.get_model("m", "1")


async def test_traffic_errors_change_nothing(served: Served) -> None:
    before = await served.client.get_endpoint(ENDPOINT)
    with pytest.raises(ValidationError, match=r"sum to 100 .*these sum to 110"):
        await served.client.set_traffic(ENDPOINT, {"blue": 100, "green": 10})
    with pytest.raises(ValidationError, match="Deployment 'red' does not exist"):
        await served.client.set_traffic(ENDPOINT, {"blue": 90, "red": 10})
    with pytest.raises(ValidationError, match="takes live traffic"):
        await served.client.set_traffic(ENDPOINT, mirror_traffic={"blue": 10})
    with pytest.raises(ValidationError, match="Invalid endpoint name"):
        await served.client.create_or_update_endpoint(EndpointSpec(name="9lives"))
    assert await served.client.get_endpoint(ENDPOINT) == before
    assert await served.client.list_endpoints() == [before]


async def test_conflict_on_deleting_a_live_deployment(served: Served) -> None:
    with pytest.raises(ConflictError, match="takes traffic"):
        await served.client.delete_deployment(ENDPOINT, "blue")
    assert (await served.client.get_deployment(ENDPOINT, "blue")).name == "blue"


async def test_failed_deployment_carries_log_lines_and_progress(served: Served) -> None:
    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    with pytest.raises(DeploymentFailedError) as caught:
        await served.client.create_or_update_deployment(_spec("broken"), progress=progress)
    assert caught.value.log_lines == (
        "Traceback (most recent call last):",
        "RuntimeError: init failed",
    )
    assert "init() raised" in caught.value.message
    assert lines == ["Copying model for broken ...", "Starting instance broken-1 ..."]
    # A failed create is kept, as Azure keeps it: Failed, no instances (its state crosses the API).
    shown = {d.name: d.provisioning_state for d in await served.client.list_deployments(ENDPOINT)}
    assert shown == {"blue": "Succeeded", "broken": "Failed", "green": "Succeeded"}
    assert (await served.client.get_deployment(ENDPOINT, "broken")).instances == ()
    await served.client.delete_deployment(ENDPOINT, "broken")


async def test_spec_error_keeps_file_and_key() -> None:
    error = SpecError("does not exist", file="/x/deployment.yml", key="model.path")
    back = decode_error(encode_error(error))
    assert isinstance(back, SpecError)
    assert str(back) == "/x/deployment.yml: model.path: does not exist"
    assert (back.file, back.key) == ("/x/deployment.yml", "model.path")


async def test_every_error_code_maps_back_to_its_class() -> None:
    from deploy.errors import ERRORS_BY_CODE

    for code, cls in ERRORS_BY_CODE.items():
        back = decode_error({"error": {"code": code, "message": "m"}})
        assert type(back) is cls
    unknown = decode_error({"error": {"code": "from-the-future", "message": "m"}})
    assert type(unknown) is FlightdeckError


async def test_a_bug_is_logged_once_and_answers_generically(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    _fake(served).crash_on.update({"get_endpoint", "scale"})
    with caplog.at_level(logging.ERROR, logger="deploy.local"):
        with pytest.raises(FlightdeckError) as plain:
            await served.client.get_endpoint(ENDPOINT)
        with pytest.raises(FlightdeckError) as in_operation:
            await served.client.scale(ENDPOINT, "blue", 2)
    for caught in (plain, in_operation):
        assert type(caught.value) is FlightdeckError
        assert "internal error" in caught.value.message
        assert "fake crash" not in caught.value.message
    tracebacks = [r for r in caplog.records if r.exc_info is not None]
    assert len(tracebacks) == 2
    assert "fake crash in get_endpoint" in str(tracebacks[0].exc_info[1])  # type: ignore[index]


async def test_wrong_token_is_refused(served: Served) -> None:
    intruder = LocalBackend(control_url=served.api.base_url, token="wrong")
    try:
        with pytest.raises(BackendUnavailableError, match="refused the admin token"):
            await intruder.list_endpoints()
    finally:
        await intruder.aclose()
    async with (
        aiohttp.ClientSession() as session,
        session.get(served.api.base_url + "/endpoints") as response,
    ):
        assert response.status == 401
        assert "Bad admin token" in await response.text()
    async with (
        aiohttp.ClientSession() as session,
        session.get(served.api.base_url + "/health") as response,
    ):
        assert response.status == 200


async def test_the_api_listens_on_loopback_only(served: Served) -> None:
    assert served.api.base_url.startswith("http://127.0.0.1:")


async def test_an_unreachable_daemon_is_backend_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LocalBackend(control_url=f"http://127.0.0.1:{port}", token="t")
    try:
        with pytest.raises(BackendUnavailableError, match="flightdeck local up"):
            await client.list_endpoints()
    finally:
        await client.aclose()


class _GatedBackend(FakeBackend):
    """Scale reports a line, then waits for the test to let it finish."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def scale(
        self,
        endpoint: str,
        deployment: str,
        instance_count: int,
        *,
        progress: ProgressCallback | None = None,
    ) -> Deployment:
        assert progress is not None
        await progress("first")
        await self.gate.wait()
        await progress("second")
        spec = replace(self.specs[(endpoint, deployment)], instance_count=instance_count)
        self.specs[(endpoint, deployment)] = spec
        return self._deployment(spec)


async def test_progress_lines_arrive_as_they_come() -> None:
    gated = _GatedBackend()
    async with serve_backend(gated) as served:
        await served.client.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
        await served.client.create_or_update_deployment(_spec("blue"))
        seen: list[str] = []
        first_seen = asyncio.Event()

        async def progress(line: str) -> None:
            seen.append(line)
            first_seen.set()

        task = asyncio.create_task(served.client.scale(ENDPOINT, "blue", 2, progress=progress))
        await asyncio.wait_for(first_seen.wait(), timeout=10)
        assert seen == ["first"]
        assert not task.done()
        gated.gate.set()
        deployment = await asyncio.wait_for(task, timeout=10)
        assert seen == ["first", "second"]
        assert deployment.instance_count == 2
