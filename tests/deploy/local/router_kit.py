"""What the router's tests share: stand-in model instances, a started router, a caller.

Stand-in model instances are real aiohttp servers on 127.0.0.1 (free ports).

Each ``ModelServer`` answers ``/score`` (any method) and ``/swagger.json`` like an
azmlinfsrv instance would, and records what it received. Behaviour per request
comes from request headers the router forwards (``x-test-status``,
``x-test-delay-ms``, ``x-test-reason``) or from the server's own settings
(``status``, ``hold``: an ``asyncio.Event`` every request waits for).

    async with ModelServer(name="blue") as blue, running_router() as router:
        router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", blue)))
        answer = await score(router, "demo")
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from deploy.local.dataplane.router import Router
from deploy.local.dataplane.routes import DeploymentRoute, EndpointRoute, Upstream
from tests.support.azmlinfsrv import HOST


@dataclass(frozen=True)
class Received:
    """One request as the instance saw it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass(kw_only=True)
class ModelServer:
    """A model instance on a free loopback port (see the module docstring)."""

    name: str
    status: int = 200
    hold: asyncio.Event | None = None
    received: list[Received] = field(default_factory=list)
    started: int = 0
    finished: int = 0
    _runner: web.ServerRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{HOST}:{self.port}"

    def upstream(self) -> Upstream:
        """This server as a router upstream."""
        return Upstream(instance=f"{self.name}-{self.port}", url=self.url)

    async def __aenter__(self) -> ModelServer:
        self._runner = web.ServerRunner(web.Server(self._handle), shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.hold is not None:
            self.hold.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.BaseRequest) -> web.Response:
        body = await request.read()
        self.received.append(
            Received(
                method=request.method,
                path=request.path,
                query=request.rel_url.raw_query_string,
                headers=dict(request.headers),
                body=body,
            )
        )
        self.started += 1
        try:
            if self.hold is not None:
                await self.hold.wait()
            delay_ms = float(request.headers.get("x-test-delay-ms", "0"))
            if delay_ms:
                await asyncio.sleep(delay_ms / 1000)
        finally:
            self.finished += 1
        if request.path == "/swagger.json":
            query = request.query_string
            swagger = {"swagger": "2.0", "info": {"title": self.name}, "query": query}
            return web.json_response(swagger, headers={"x-served-by": self.name})
        status = int(request.headers.get("x-test-status", self.status))
        reason = request.headers.get("x-test-reason")
        answer = {"served_by": self.name, "echo": body.decode(errors="replace")}
        return web.Response(
            status=status,
            reason=reason,
            body=json.dumps(answer).encode(),
            content_type="application/json",
            headers={"x-served-by": self.name, "x-ms-run-fn-exec-ms": "0.1"},
        )


def deployment_route(
    name: str,
    *servers: ModelServer,
    request_timeout_ms: int = 5000,
    max_concurrent_requests_per_instance: int = 8,
) -> DeploymentRoute:
    """A deployment whose ready instances are ``servers``."""
    return DeploymentRoute(
        name=name,
        upstreams=tuple(server.upstream() for server in servers),
        request_timeout_ms=request_timeout_ms,
        max_concurrent_requests_per_instance=max_concurrent_requests_per_instance,
    )


KEYS = ("primary-key-0123456789", "secondary-key-9876543210")


def endpoint_route(
    name: str,
    traffic: Mapping[str, int],
    *deployments: DeploymentRoute,
    mirror: Mapping[str, int] | None = None,
    auth_mode: str = "key",
    token_secret: bytes = b"",
) -> EndpointRoute:
    """An endpoint with ``KEYS`` (auth_mode key) and the given deployments and traffic."""
    return EndpointRoute(
        name=name,
        auth_mode=auth_mode,
        keys=KEYS if auth_mode == "key" else (),
        token_secret=token_secret,
        traffic=dict(traffic),
        mirror_traffic=dict(mirror or {}),
        deployments={d.name: d for d in deployments},
    )


class Clock:
    """A settable clock (unix seconds) for token expiry and metrics minutes."""

    def __init__(self, now: float = 1_800_000_030.0) -> None:  # mid-minute
        self.now = now

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def running_router(
    clock: Clock | None = None, *, max_body_bytes: int | None = None
) -> AsyncIterator[Router]:
    """A started router on a free port, stopped afterwards."""
    router = Router(clock=clock or Clock())
    if max_body_bytes is not None:
        router.max_body_bytes = max_body_bytes
    await router.start()
    try:
        yield router
    finally:
        await router.stop()


@dataclass(frozen=True)
class Answer:
    """What a caller got from the router."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def deployment(self) -> str | None:
        return self.headers.get("azureml-model-deployment")


async def score(
    router: Router,
    endpoint: str,
    *,
    body: bytes = b'{"data": [1, 2, 3]}',
    bearer: str | None = KEYS[0],
    deployment: str | None = None,
    headers: Mapping[str, str] | None = None,
    method: str = "POST",
    path: str = "score",
    query: str = "",
    session: aiohttp.ClientSession | None = None,
) -> Answer:
    """Call ``/<endpoint>/<path>`` through the router (on ``session``, or a new one)."""
    sent = {"Content-Type": "application/json", **(headers or {})}
    if bearer is not None:
        sent["Authorization"] = f"Bearer {bearer}"
    if deployment is not None:
        sent["azureml-model-deployment"] = deployment
    url = f"{router.base_url}/{endpoint}/{path}" + (f"?{query}" if query else "")
    if session is None:
        async with aiohttp.ClientSession() as own:
            return await _call(own, method, url, body, sent)
    return await _call(session, method, url, body, sent)


async def _call(
    session: aiohttp.ClientSession, method: str, url: str, body: bytes, headers: dict[str, str]
) -> Answer:
    async with session.request(method, url, data=body, headers=headers) as response:
        return Answer(response.status, dict(response.headers), await response.read())


async def wait_for(condition: Any, *, seconds: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition()`` until true; fail after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)
