"""The scoring router: the local platform's scoring URIs, behaving as Azure's do.

``http://127.0.0.1:<port>/<endpoint>/score`` (GET or POST) and
``/<endpoint>/swagger.json`` (GET), for every endpoint the platform routes:

- auth: ``Authorization: Bearer <key>`` (primary or secondary, auth_mode key) or
  ``Bearer <token>`` (auth_mode aml_token); 401 otherwise;
- the deployment: the one named by the ``azureml-model-deployment`` request header
  (even at 0 %), else by weight (smooth weighted round robin: exact proportions);
  404 when none has traffic or the named one does not exist; 503 when it has no
  ready instance (``deployment_failed`` when it is kept in the Failed state: a failed
  create takes no traffic, so only the header reaches it); round robin over its ready
  instances;
- 429 when 2 x max_concurrent_requests_per_instance x ready instances are already
  in flight; 408 after request_timeout_ms; 424 when the model answers non-200,
  with ``ms-azureml-model-error-statuscode`` / ``-reason`` and its body; 502 when
  the instance cannot be reached;
- mirror traffic: a copy of ``percent`` in 100 requests that name no deployment,
  sent in the background; its answer is discarded and never delays or fails the caller;
- every answer from a deployment carries ``azureml-model-deployment``; every scoring
  answer is recorded in the ``MetricsRecorder`` (status, latency, deployment).

    router = Router()
    port = await router.start()
    router.update(EndpointRoute(name="demo", auth_mode="key", keys=("k1", "k2"), ...))
    ...
    await router.stop()
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from time import perf_counter
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from deploy.local.dataplane import messages
from deploy.local.dataplane.compiled import (
    CompiledDeployment,
    CompiledEndpoint,
    DeploymentState,
    compile_route,
)
from deploy.local.dataplane.routes import EndpointRoute
from deploy.local.dataplane.server import GuardedServer
from deploy.local.dataplane.upstream import StreamedBody, UpstreamError, UpstreamPool
from deploy.local.metrics.recorder import UNROUTED, MetricsRecorder

__all__ = ["DEPLOYMENT_HEADER", "MIRROR_TASK_LIMIT", "Router"]

logger = logging.getLogger(__name__)

#: Request header that picks a deployment; response header naming the one that answered.
DEPLOYMENT_HEADER = "azureml-model-deployment"
#: At most this many mirror copies in flight; further copies are dropped (recorded as 429).
MIRROR_TASK_LIMIT = 256

_ERROR_STATUS = "ms-azureml-model-error-statuscode"
_ERROR_REASON = "ms-azureml-model-error-reason"
# Not forwarded upstream: hop-by-hop headers, our credentials, what the client recomputes.
_REQUEST_DROP = (
    "Authorization",
    "Connection",
    "Content-Length",
    "Expect",
    "Host",
    "Keep-Alive",
    "Proxy-Authorization",
    "TE",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
    DEPLOYMENT_HEADER,
)
_RESPONSE_DROP = ("Connection", "Content-Length", "Keep-Alive", "Transfer-Encoding", "Upgrade")


class Router:
    """Serves every endpoint's scoring URI; the platform pushes routes with ``update``."""

    #: Request bodies above this many bytes get 413 (set before ``start``).
    max_body_bytes = 100 * 1024 * 1024
    #: Open connections past this many get a 503 and are closed (set before ``start``).
    max_connections = 512
    #: Seconds a request head may take from its first byte (slow-loris defence).
    header_timeout = 10.0
    #: Seconds a connection may stay open with no request in progress.
    idle_timeout = 15.0
    #: Seconds a request body may take to arrive (bounds slow uploads).
    body_timeout = 60.0
    #: Bodies larger than this are streamed to the instance instead of read first.
    stream_above_bytes = 1024 * 1024

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        recorder: MetricsRecorder | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._host = host
        self._port = port
        self._recorder = recorder if recorder is not None else MetricsRecorder()
        self._clock = clock
        self._endpoints: dict[str, CompiledEndpoint] = {}
        self._states: dict[tuple[str, str], DeploymentState] = {}
        self._mirrors: set[asyncio.Task[None]] = set()
        self._pool = UpstreamPool()
        self._runner: web.ServerRunner | None = None
        self._server: GuardedServer | None = None
        self._bound_port: int | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> int:
        """Bind and serve; return the port (the actual one when ``port`` was 0)."""
        if self._runner is not None:
            raise RuntimeError("the router is already started")
        self._pool = UpstreamPool()
        loop = asyncio.get_running_loop()
        limit = self.max_body_bytes

        def request_factory(
            message: Any, payload: Any, protocol: Any, writer: Any, task: Any
        ) -> web.BaseRequest:
            return web.BaseRequest(
                message, payload, protocol, writer, task, loop, client_max_size=limit
            )

        server = GuardedServer(
            self._handle,
            request_factory=request_factory,
            access_log=None,
            max_connections=self.max_connections,
            header_timeout=self.header_timeout,
            idle_timeout=self.idle_timeout,
        )
        self._server = server
        runner = web.ServerRunner(server, shutdown_timeout=2.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port, backlog=1024)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._bound_port = int(runner.addresses[0][1])
        return self._bound_port

    async def stop(self) -> None:
        """Stop serving: drop mirror copies, close the listener and the upstream connections."""
        for task in list(self._mirrors):
            task.cancel()
        if self._mirrors:
            await asyncio.gather(*self._mirrors, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._pool.close()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (once started)."""
        if self._bound_port is None:
            raise RuntimeError("the router is not started: call start() first")
        return f"http://{self._host}:{self._bound_port}"

    @property
    def recorder(self) -> MetricsRecorder:
        """Where every scoring answer is recorded."""
        return self._recorder

    # ------------------------------------------------------------ routing table

    def update(self, route: EndpointRoute) -> None:
        """Add or replace an endpoint's routing, atomically for requests.

        Requests already running finish on the route they started with; in-flight
        counts carry over. An inconsistent route raises ``ValueError`` and changes nothing.
        """
        keys = [(route.name, name) for name in route.deployments]
        states = {key: self._states.get(key) or DeploymentState() for key in keys}
        compiled = compile_route(route, states)
        for key in [k for k in self._states if k[0] == route.name and k not in states]:
            del self._states[key]
        self._states.update(states)
        self._endpoints[route.name] = compiled

    def remove(self, endpoint: str) -> None:
        """Stop routing ``endpoint`` (its URIs answer 404); unknown names are ignored."""
        self._endpoints.pop(endpoint, None)
        for key in [k for k in self._states if k[0] == endpoint]:
            del self._states[key]

    @property
    def open_connections(self) -> int:
        """Connections the router holds open now (for the soak benchmark and tests)."""
        return len(self._server.connections) if self._server is not None else 0

    def secrets(self) -> list[str]:
        """Every key and token secret the router checks (for log redaction)."""
        found: list[str] = []
        for endpoint in self._endpoints.values():
            found.extend(endpoint.secrets())
        return found

    def in_flight(self, endpoint: str, deployment: str) -> int:
        """Requests of ``deployment`` now waiting for an instance (mirror copies included)."""
        state = self._states.get((endpoint, deployment))
        return state.in_flight if state is not None else 0

    # ------------------------------------------------------------ hot path

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        started = perf_counter()
        path = request.path
        slash = path.find("/", 1)
        action = path[slash + 1 :] if slash > 0 else ""
        if action != "score" and action != "swagger.json":
            return _error(404, "not_a_route", messages.NOT_A_ROUTE)
        name = path[1:slash]
        endpoint = self._endpoints.get(name)
        if endpoint is None:
            return _error(404, "endpoint_not_found", messages.unknown_endpoint(name))
        method = request.method
        if method != "GET" and (method != "POST" or action != "score"):
            return _error(405, "method_not_allowed", messages.METHOD_NOT_ALLOWED)
        now = self._clock()
        refusal = endpoint.refuse(request.headers.get("Authorization"), now)
        if refusal is not None:
            response = _error(401, "unauthorized", refusal)
            deployment_name = UNROUTED
        else:
            try:
                response, deployment_name = await self._route(request, endpoint, action)
            except Exception:
                logger.exception("The router failed on %s %s", method, path)
                response = _error(500, "internal_error", messages.INTERNAL_ERROR)
                deployment_name = UNROUTED
            now = self._clock()
        if action == "score":
            latency_ms = (perf_counter() - started) * 1000.0
            self._recorder.record(name, deployment_name, response.status, latency_ms, now)
        return response

    async def _route(
        self, request: web.BaseRequest, endpoint: CompiledEndpoint, action: str
    ) -> tuple[web.Response, str]:
        named = request.headers.get(DEPLOYMENT_HEADER)
        if named:
            deployment = endpoint.deployments.get(named)
            if deployment is None:
                message = messages.unknown_deployment(endpoint.name, named)
                return _error(404, "deployment_not_found", message), UNROUTED
        elif action == "score":
            deployment = endpoint.pick()
        else:
            deployment = endpoint.swagger_deployment()
        if deployment is None:
            return _error(404, "no_traffic", messages.no_traffic(endpoint.name)), UNROUTED
        name = deployment.name
        if not deployment.upstreams:
            if deployment.failed:  # named in the header: it has no instance, as on Azure
                message = messages.deployment_failed(endpoint.name, name)
                return _error(503, "deployment_failed", message, name), name
            message = messages.no_ready_instance(endpoint.name, name)
            return _error(503, "no_ready_instance", message, name), name
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            message = messages.payload_too_large(self.max_body_bytes)
            return _error(413, "payload_too_large", message, name), name
        headers = CIMultiDict(request.headers)
        for header in _REQUEST_DROP:
            headers.popall(header, None)
        query = request.rel_url.raw_query_string
        state = deployment.state
        if action == "score" and state.in_flight >= deployment.max_in_flight:
            message = messages.too_many_requests(name, deployment.max_in_flight)
            return _error(429, "too_many_requests", message, name), name
        if request.headers.get("Expect", "").lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if action != "score":
            response = await self._forward(deployment, "GET", query, b"", headers, swagger=True)
            return response, name
        mirror = None
        if not named and endpoint.mirror is not None:
            mirror = endpoint.mirror_due()
        body: bytes | StreamedBody
        if length is not None and length > self.stream_above_bytes and mirror is None:
            body = StreamedBody(length=length, chunks=_chunks(request))
        else:
            try:
                async with asyncio.timeout(self.body_timeout):
                    body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                message = messages.payload_too_large(self.max_body_bytes)
                return _error(413, "payload_too_large", message, name), name
            except TimeoutError:
                message = messages.body_timeout(self.body_timeout)
                return _error(408, "request_timeout", message, name), name
            if mirror is not None:
                self._mirror(endpoint.name, mirror, request.method, query, body, headers)
        state.in_flight += 1
        try:
            return await self._forward(deployment, request.method, query, body, headers), name
        finally:
            state.in_flight -= 1

    async def _forward(
        self,
        deployment: CompiledDeployment,
        method: str,
        query: str,
        body: bytes | StreamedBody,
        headers: CIMultiDict[str],
        *,
        swagger: bool = False,
    ) -> web.Response:
        """Send the request to the deployment's next instance; answer as Azure would."""
        upstream = deployment.next_upstream()
        target = upstream.swagger_path if swagger else upstream.score_path
        if query:
            target = f"{target}?{query}"
        try:
            timeout = deployment.timeout_s
            if isinstance(body, StreamedBody):  # the upload is part of the wait
                timeout += self.body_timeout
            async with asyncio.timeout(timeout):
                answer = await self._pool.request(
                    upstream.host, upstream.port, method, target, headers.items(), body
                )
        except TimeoutError:
            message = messages.request_timeout(deployment.name, deployment.timeout_ms)
            return _error(408, "request_timeout", message, deployment.name)
        except UpstreamError as exc:
            message = messages.upstream_failed(deployment.name, str(exc))
            return _error(502, "upstream_failed", message, deployment.name)
        out = answer.headers
        status = answer.status
        for header in _RESPONSE_DROP:
            out.popall(header, None)
        out[DEPLOYMENT_HEADER] = deployment.name
        if status != 200 and not swagger:
            out[_ERROR_STATUS] = str(status)
            out[_ERROR_REASON] = answer.reason
            status = 424
        return web.Response(status=status, body=answer.body, headers=out)

    # ------------------------------------------------------------ mirror traffic

    def _mirror(
        self,
        endpoint: str,
        deployment: CompiledDeployment,
        method: str,
        query: str,
        body: bytes,
        headers: CIMultiDict[str],
    ) -> None:
        """Start a copy of the request in the background, unless the target is saturated."""
        now = self._clock()
        if not deployment.upstreams:
            self._recorder.record(endpoint, deployment.name, 503, 0.0, now)
            return
        if (
            deployment.state.in_flight >= deployment.max_in_flight
            or len(self._mirrors) >= MIRROR_TASK_LIMIT
        ):
            self._recorder.record(endpoint, deployment.name, 429, 0.0, now)
            return
        state = deployment.state
        state.in_flight += 1  # taken now, so that the limit holds; given back when done

        def done(task: asyncio.Task[None]) -> None:
            state.in_flight -= 1
            self._mirrors.discard(task)

        copy = self._copy(endpoint, deployment, method, query, body, headers)
        task = asyncio.get_running_loop().create_task(copy)
        self._mirrors.add(task)
        task.add_done_callback(done)

    async def _copy(
        self,
        endpoint: str,
        deployment: CompiledDeployment,
        method: str,
        query: str,
        body: bytes,
        headers: CIMultiDict[str],
    ) -> None:
        started = perf_counter()
        try:
            response = await self._forward(deployment, method, query, body, headers)
        except Exception:  # a bug: the caller must not notice, but we must
            logger.exception("A mirror copy to %s/%s failed", endpoint, deployment.name)
            return
        latency_ms = (perf_counter() - started) * 1000.0
        self._recorder.record(endpoint, deployment.name, response.status, latency_ms, self._clock())


async def _chunks(request: web.BaseRequest) -> AsyncIterator[bytes]:
    """The request body as it arrives; a broken upload ends as an ``UpstreamError``."""
    try:
        async for chunk in request.content.iter_chunked(65536):
            yield chunk
    except (OSError, aiohttp.ClientPayloadError, asyncio.IncompleteReadError) as exc:
        raise UpstreamError(f"the client's upload broke off ({type(exc).__name__})") from None


def _error(status: int, code: str, message: str, deployment: str | None = None) -> web.Response:
    """A JSON error answer, ``{"error": {"code": ..., "message": ...}}``."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    response = web.Response(status=status, body=body, content_type="application/json")
    if deployment is not None:
        response.headers[DEPLOYMENT_HEADER] = deployment
    return response
