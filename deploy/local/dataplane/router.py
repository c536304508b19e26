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

The HTTP side is ``server.HttpServer`` (httptools, with the connection guards); the
upstream side ``upstream.UpstreamPool``. See "hot path" below for how a request is
forwarded without a task.

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
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from deploy.local.dataplane import messages
from deploy.local.dataplane.compiled import (
    CompiledDeployment,
    CompiledEndpoint,
    CompiledUpstream,
    DeploymentState,
    compile_route,
)
from deploy.local.dataplane.deadlines import Deadlines
from deploy.local.dataplane.routes import EndpointRoute
from deploy.local.dataplane.server import (
    BodyError,
    BodyTooLarge,
    Deliver,
    HttpServer,
    IncomingRequest,
    Reply,
)
from deploy.local.dataplane.upstream import (
    StaleConnection,
    StreamedBody,
    UpstreamAnswer,
    UpstreamError,
    UpstreamPool,
    encode_request,
)
from deploy.local.metrics.recorder import UNROUTED, MetricsRecorder

__all__ = ["DEPLOYMENT_HEADER", "MIRROR_TASK_LIMIT", "Router"]

logger = logging.getLogger(__name__)

#: Request header that picks a deployment; response header naming the one that answered.
DEPLOYMENT_HEADER = "azureml-model-deployment"
_DEPLOYMENT_FIELD = DEPLOYMENT_HEADER.encode()
#: At most this many mirror copies in flight; further copies are dropped (recorded as 429).
MIRROR_TASK_LIMIT = 256

_ERROR_STATUS = b"ms-azureml-model-error-statuscode"
_ERROR_REASON = b"ms-azureml-model-error-reason"
# Not forwarded upstream: hop-by-hop headers, our credentials, what the client recomputes.
_DROP = frozenset(
    name.lower().encode()
    for name in (
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
)
# Not passed back besides the hop-by-hop fields (the pool drops them): what the router's
# server writes itself.
_ANSWER_DROP = ("Date",)
_JSON = ("Content-Type", "application/json; charset=utf-8")
Headers = list[tuple[str, str]]


@dataclass(slots=True)
class _Plan:
    """Where an accepted request goes: what ``_decide`` settled before forwarding."""

    endpoint: CompiledEndpoint
    deployment: CompiledDeployment
    action: str  # "score" or "swagger.json"
    named: bool  # the request named its deployment (never mirrored)
    fields: bytes  # the header lines forwarded, each ending in CRLF
    record: str  # the endpoint to record the answer under; "" for swagger
    started: float  # perf_counter() when the head was complete


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
        self._tasks: set[asyncio.Task[None]] = set()  # requests on the general path
        self._pool = UpstreamPool(drop=_ANSWER_DROP)
        self._deadlines: Deadlines[_Exchange] = Deadlines()  # requests in flight, hot path
        self._now: Callable[[], float] = time.monotonic  # the loop's clock, once started
        self._server: HttpServer | None = None
        self._listener: asyncio.Server | None = None
        self._bound_port: int | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> int:
        """Bind and serve; return the port (the actual one when ``port`` was 0)."""
        if self._listener is not None:
            raise RuntimeError("the router is already started")
        self._pool = UpstreamPool(drop=_ANSWER_DROP)
        self._deadlines = Deadlines()
        server = HttpServer(
            self._answer,
            max_connections=self.max_connections,
            header_timeout=self.header_timeout,
            idle_timeout=self.idle_timeout,
        )
        loop = asyncio.get_running_loop()
        self._now = loop.time  # asyncio's get_running_loop() costs a getpid() call
        listener = await loop.create_server(
            server.connection, self._host, self._port, backlog=1024, reuse_address=True
        )
        self._server = server
        self._listener = listener
        self._bound_port = int(listener.sockets[0].getsockname()[1])
        return self._bound_port

    async def stop(self) -> None:
        """Stop serving: drop mirror copies, let requests in flight finish (up to 2 s), close."""
        for task in list(self._mirrors):
            task.cancel()
        if self._mirrors:
            await asyncio.gather(*self._mirrors, return_exceptions=True)
        if self._listener is not None:
            self._listener.close()
            assert self._server is not None
            await self._server.shutdown(grace_s=2.0)
            await self._listener.wait_closed()
            self._listener = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for exchange in self._deadlines.close():
            exchange.abandon()
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

    @property
    def requests_in_tasks(self) -> int:
        """Requests now answered on the general path, in a task (not the hot path)."""
        return len(self._tasks)

    def in_flight(self, endpoint: str, deployment: str) -> int:
        """Requests of ``deployment`` now waiting for an instance (mirror copies included)."""
        state = self._states.get((endpoint, deployment))
        return state.in_flight if state is not None else 0

    # ------------------------------------------------------------ hot path
    #
    # A scoring request whose body has arrived is forwarded from the loop's callback at
    # once, on an idle pooled connection or a new one (connected without waiting), its
    # answer written from the upstream connection's callback: no task, no coroutine, no
    # future. Everything else (bodies still arriving or streamed, mirror copies, swagger,
    # a stale pooled connection sent again) runs as a task through ``_carry_out``.

    def _answer(self, request: IncomingRequest, deliver: Deliver) -> None:
        """The server's handler: answer ``request`` through ``deliver``."""
        started = perf_counter()
        decided = self._decide(request, started)
        if isinstance(decided, _Plan):
            if decided.action == "score" and self._forward_now(request, decided, deliver):
                return
            self._spawn(self._carry_out(request, decided, deliver, None))
            return
        reply, endpoint, deployment = decided
        ended = perf_counter()
        deliver(reply)
        if endpoint:
            latency_ms = (ended - started) * 1000.0
            self._recorder.record(endpoint, deployment, reply.status, latency_ms, self._clock())

    def _decide(self, request: IncomingRequest, started: float) -> _Plan | tuple[Reply, str, str]:
        """Where the request goes, or the refusal: (reply, endpoint to record or "", deployment)."""
        path = request.path
        slash = path.find("/", 1)
        action = path[slash + 1 :] if slash > 0 else ""
        if action != "score" and action != "swagger.json":
            return _error(404, "not_a_route", messages.NOT_A_ROUTE), "", ""
        name = path[1:slash]
        endpoint = self._endpoints.get(name)
        if endpoint is None:
            return _error(404, "endpoint_not_found", messages.unknown_endpoint(name)), "", ""
        method = request.method
        if method != "GET" and (method != "POST" or action != "score"):
            return _error(405, "method_not_allowed", messages.METHOD_NOT_ALLOWED), "", ""
        record = name if action == "score" else ""
        refusal = endpoint.refuse(request.header(b"authorization"), self._clock())
        if refusal is not None:
            return _error(401, "unauthorized", refusal), record, UNROUTED
        field = request.header(_DEPLOYMENT_FIELD)
        named = field.decode("latin-1") if field else ""
        if named:
            deployment = endpoint.deployments.get(named)
            if deployment is None:
                message = messages.unknown_deployment(endpoint.name, named)
                return _error(404, "deployment_not_found", message), record, UNROUTED
        elif action == "score":
            deployment = endpoint.pick()
        else:
            deployment = endpoint.swagger_deployment()
        if deployment is None:
            return _error(404, "no_traffic", messages.no_traffic(name)), record, UNROUTED
        chosen = deployment.name
        if not deployment.upstreams:
            if deployment.failed:  # named in the header: it has no instance, as on Azure
                message = messages.deployment_failed(name, chosen)
                return _error(503, "deployment_failed", message, chosen), record, chosen
            message = messages.no_ready_instance(name, chosen)
            return _error(503, "no_ready_instance", message, chosen), record, chosen
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            return self._too_large(chosen), record, chosen
        if action == "score" and deployment.state.in_flight >= deployment.max_in_flight:
            message = messages.too_many_requests(chosen, deployment.max_in_flight)
            return _error(429, "too_many_requests", message, chosen), record, chosen
        fields = b"".join(
            [b"%s: %s\r\n" % field for field in request.headers if field[0].lower() not in _DROP]
        )
        return _Plan(endpoint, deployment, action, bool(named), fields, record, started)

    def _forward_now(self, request: IncomingRequest, plan: _Plan, deliver: Deliver) -> bool:
        """Forward from this callback if the body is here (and no mirror copy is due)."""
        if not request.complete or (plan.endpoint.mirror is not None and not plan.named):
            return False
        deployment = plan.deployment
        body = request.body()
        if len(body) > self.max_body_bytes:  # chunked: no Content-Length to refuse by
            self._finish(plan, deployment.name, self._too_large(deployment.name), deliver)
            return True
        upstream = deployment.next_upstream()
        target = upstream.score_path
        if request.query:
            target = f"{target}?{request.query}"
        data = encode_request(
            upstream.host, upstream.port, request.method, target, plan.fields, body
        )
        exchange = _Exchange(self, plan, request, upstream, deliver)
        try:
            abort = self._pool.start(
                upstream.host,
                upstream.port,
                data,
                exchange.answered,
                unix_socket=upstream.unix_socket,
            )
        except UpstreamError as exc:  # refused at once, or the router is stopping
            self._finish(plan, deployment.name, _unreachable(deployment, exc), deliver)
            return True
        exchange.begin(abort, self._now() + deployment.timeout_s)
        return True

    async def _carry_out(
        self,
        request: IncomingRequest,
        plan: _Plan,
        deliver: Deliver,
        upstream: CompiledUpstream | None,
    ) -> None:
        """The general path, as a task; answers through ``deliver`` whatever happens."""
        try:
            reply = await self._carry_out_inner(request, plan, upstream)
        except Exception:
            logger.exception("The router failed on %s %s", request.method, request.path)
            reply = _error(500, "internal_error", messages.INTERNAL_ERROR)
            self._finish(plan, UNROUTED, reply, deliver)
            return
        self._finish(plan, plan.deployment.name, reply, deliver)

    async def _carry_out_inner(
        self, request: IncomingRequest, plan: _Plan, upstream: CompiledUpstream | None
    ) -> Reply:
        deployment = plan.deployment
        name = deployment.name
        query = request.query
        request.send_continue()
        if plan.action != "score":
            upstream = deployment.next_upstream()
            return await self._forward(
                deployment, upstream, "GET", query, b"", plan.fields, swagger=True
            )
        mirror = None
        if not plan.named and plan.endpoint.mirror is not None:
            mirror = plan.endpoint.mirror_due()
        length = request.content_length
        body: bytes | StreamedBody
        if request.complete:
            body = request.body()
            if len(body) > self.max_body_bytes:  # chunked: no Content-Length to refuse by
                return self._too_large(name)
        elif length is not None and length > self.stream_above_bytes and mirror is None:
            body = StreamedBody(length=length, chunks=_chunks(request))
        else:
            try:
                async with asyncio.timeout(self.body_timeout):
                    body = await request.read(self.max_body_bytes)
            except BodyTooLarge:
                return self._too_large(name)
            except TimeoutError:
                message = messages.body_timeout(self.body_timeout)
                return _error(408, "request_timeout", message, name)
            except BodyError as exc:
                return _error(400, "bad_request", str(exc), name)
        if mirror is not None and isinstance(body, bytes):
            self._mirror(plan.endpoint.name, mirror, request.method, query, body, plan.fields)
        state = deployment.state
        if state.in_flight >= deployment.max_in_flight:  # filled while this one waited
            message = messages.too_many_requests(name, deployment.max_in_flight)
            return _error(429, "too_many_requests", message, name)
        if upstream is None:
            upstream = deployment.next_upstream()
        state.in_flight += 1  # with the check above in one step of the loop: no race
        try:
            return await self._forward(
                deployment, upstream, request.method, query, body, plan.fields
            )
        finally:
            state.in_flight -= 1

    async def _forward(
        self,
        deployment: CompiledDeployment,
        upstream: CompiledUpstream,
        method: str,
        query: str,
        body: bytes | StreamedBody,
        fields: bytes,
        *,
        swagger: bool = False,
    ) -> Reply:
        """Send the request to ``upstream``, one of the deployment's instances."""
        target = upstream.swagger_path if swagger else upstream.score_path
        if query:
            target = f"{target}?{query}"
        try:
            timeout = deployment.timeout_s
            if isinstance(body, StreamedBody):  # the upload is part of the wait
                timeout += self.body_timeout
            async with asyncio.timeout(timeout):
                answer = await self._pool.request(
                    upstream.host,
                    upstream.port,
                    method,
                    target,
                    fields,
                    body,
                    unix_socket=upstream.unix_socket,
                )
        except TimeoutError:
            return _timed_out(deployment)
        except UpstreamError as exc:
            return _unreachable(deployment, exc)
        return _from_answer(deployment, answer, swagger=swagger)

    def _finish(
        self,
        plan: _Plan,
        deployment: str,
        reply: Reply,
        deliver: Deliver,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Write the answer, run ``then`` (the hot path's bookkeeping), record the answer."""
        ended = perf_counter()
        try:
            deliver(reply)
        finally:  # in flight and watched no more, whatever happened
            if then is not None:
                then()
        if plan.record:
            latency_ms = (ended - plan.started) * 1000.0
            self._recorder.record(plan.record, deployment, reply.status, latency_ms, self._clock())

    def _too_large(self, deployment: str) -> Reply:
        message = messages.payload_too_large(self.max_body_bytes)
        return _error(413, "payload_too_large", message, deployment)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ mirror traffic

    def _mirror(
        self,
        endpoint: str,
        deployment: CompiledDeployment,
        method: str,
        query: str,
        body: bytes,
        fields: bytes,
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

        copy = self._copy(endpoint, deployment, method, query, body, fields)
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
        fields: bytes,
    ) -> None:
        started = perf_counter()
        try:
            upstream = deployment.next_upstream()
            response = await self._forward(deployment, upstream, method, query, body, fields)
        except Exception:  # a bug: the caller must not notice, but we must
            logger.exception("A mirror copy to %s/%s failed", endpoint, deployment.name)
            return
        latency_ms = (perf_counter() - started) * 1000.0
        self._recorder.record(endpoint, deployment.name, response.status, latency_ms, self._clock())


class _Exchange:
    """One request forwarded on the hot path: its answer or its timeout, whichever comes first."""

    __slots__ = (
        "_abort",
        "_deliver",
        "_done",
        "_plan",
        "_request",
        "_router",
        "_upstream",
        "deadline",
    )

    def __init__(
        self,
        router: Router,
        plan: _Plan,
        request: IncomingRequest,
        upstream: CompiledUpstream,
        deliver: Deliver,
    ) -> None:
        self._router = router
        self._plan = plan
        self._request = request
        self._upstream = upstream
        self._deliver = deliver
        self._done = False
        self._abort: Callable[[], None] | None = None
        self.deadline = 0.0

    def begin(self, abort: Callable[[], None], deadline: float) -> None:
        """The request is sent: count it in flight and watch its timeout (``loop.time()``)."""
        self._abort = abort
        self._plan.deployment.state.in_flight += 1
        self.deadline = deadline
        self._router._deadlines.watch(self)

    def answered(self, answer: UpstreamAnswer | None, error: UpstreamError | None) -> None:
        """The instance answered, or failed: the client's answer first, then the bookkeeping."""
        if self._done:
            return
        self._done = True
        plan = self._plan
        deployment = plan.deployment
        router = self._router
        if isinstance(error, StaleConnection):  # nothing was answered: send again, connecting
            self._end()
            router._spawn(router._carry_out(self._request, plan, self._deliver, self._upstream))
            return
        if answer is not None:
            reply = _from_answer(deployment, answer, swagger=False)
        else:
            reply = _unreachable(deployment, error or UpstreamError("no answer"))
        router._finish(plan, deployment.name, reply, self._deliver, self._end)

    def expire(self) -> None:
        """request_timeout_ms passed (the deadlines forgot it): 408, the connection dropped."""
        if self._done:
            return
        self._end()
        if self._abort is not None:
            self._abort()
        deployment = self._plan.deployment
        self._router._finish(self._plan, deployment.name, _timed_out(deployment), self._deliver)

    def abandon(self) -> None:
        """The router stops: drop the upstream connection; the client's is being closed."""
        if not self._done:
            self._end()
            if self._abort is not None:
                self._abort()

    def _end(self) -> None:
        self._done = True
        self._plan.deployment.state.in_flight -= 1
        self._router._deadlines.forget(self)


def _from_answer(deployment: CompiledDeployment, answer: UpstreamAnswer, *, swagger: bool) -> Reply:
    """The instance's answer as Azure passes it on: non-200 scoring answers become 424."""
    fields = answer.fields + deployment.header_line  # the pool dropped the hop-by-hop ones
    status = answer.status
    if status != 200 and not swagger:
        reason = answer.reason.encode("latin-1", "replace")
        fields += b"%s: %d\r\n%s: %s\r\n" % (_ERROR_STATUS, status, _ERROR_REASON, reason)
        return Reply(424, [], answer.body, fields=fields)
    return Reply(status, [], answer.body, answer.reason, fields)


def _timed_out(deployment: CompiledDeployment) -> Reply:
    message = messages.request_timeout(deployment.name, deployment.timeout_ms)
    return _error(408, "request_timeout", message, deployment.name)


def _unreachable(deployment: CompiledDeployment, error: UpstreamError) -> Reply:
    message = messages.upstream_failed(deployment.name, str(error))
    return _error(502, "upstream_failed", message, deployment.name)


async def _chunks(request: IncomingRequest) -> AsyncIterator[bytes]:
    """The request body as it arrives; a broken upload ends as an ``UpstreamError``."""
    try:
        async for chunk in request.chunks():
            yield chunk
    except BodyError as exc:
        raise UpstreamError(f"the client's upload broke off ({exc})") from None


def _error(status: int, code: str, message: str, deployment: str | None = None) -> Reply:
    """A JSON error answer, ``{"error": {"code": ..., "message": ...}}``."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers: Headers = [_JSON]
    if deployment is not None:
        headers.append((DEPLOYMENT_HEADER, deployment))
    return Reply(status, headers, body)
