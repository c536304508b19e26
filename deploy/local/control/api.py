"""The control API: every ``Backend`` method over HTTP JSON, on 127.0.0.1, bearer admin token.

One route per method; long ones (create/update/delete, scale) answer
``202 {"operation": id}`` and their progress, result or error is read with
``GET /operations/{id}?after=N&wait=S`` (see ``deploy.local.control.operations``). Known failures
answer ``{"error": {"code", "message"}}`` with a matching status; anything else is
logged with its traceback here and answers 500 with a generic message.

    api = ControlAPI(backend=platform, token=token, port=0)
    port = await api.start()
    ...
    await api.stop()

Routes (all but ``/health`` need ``Authorization: Bearer <admin token>``)::

    GET  /health   GET /status   POST /shutdown   GET /operations/{id}
    GET  /endpoints                          GET|PUT*|DELETE* /endpoints/{e}
    PUT  /endpoints/{e}/traffic              GET /endpoints/{e}/previous-traffic
    GET  /endpoints/{e}/credentials          POST /endpoints/{e}/keys
    POST /endpoints/{e}/invoke               GET /endpoints/{e}/metrics
    GET  /endpoints/{e}/deployments          GET|PUT*|DELETE* /endpoints/{e}/deployments/{d}
    PUT* /endpoints/{e}/deployments/{d}/scale    PUT /endpoints/{e}/deployments/{d}/autoscale
    GET  /endpoints/{e}/deployments/{d}/logs
    GET  /endpoints/{e}/deployments/{d}/autoscale-decisions
    GET  /metrics  (Prometheus text: every endpoint's last ``window_minutes``, default 1)
    GET  /models    GET|PUT /models/{name}/versions/{version}          (* = long operation)
"""

from __future__ import annotations

import hmac
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from aiohttp import web

from deploy.backend import Backend
from deploy.errors import FlightdeckError, NotFoundError, ValidationError
from deploy.local.control.operations import Operations, Work
from deploy.local.control.provisioning import Provisioning
from deploy.local.control.wire import INTERNAL_ERROR_CODE, encode_error, encode_invoke, status_for
from deploy.local.logsafety import BadRequestLog
from deploy.local.metrics import prometheus
from deploy.local.metrics.autoscale_policy import ScaleDecision
from deploy.types import (
    AutoscalePolicy,
    ContainerType,
    DeploymentSpec,
    EndpointSpec,
    from_json,
    to_json,
)

__all__ = ["ControlAPI"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The longest a client may ask ``GET /operations/{id}`` to wait (seconds).
MAX_POLL_WAIT = 30.0


class ControlAPI:
    """An aiohttp server exposing ``backend`` to ``LocalBackend`` clients."""

    def __init__(
        self,
        *,
        backend: Backend,
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        on_shutdown: Callable[[], None] | None = None,
        status: Callable[[], Mapping[str, Any]] | None = None,
        decisions: Callable[[str, str], list[ScaleDecision]] | None = None,
    ) -> None:
        """``decisions(endpoint, deployment)``: the autoscaler's last decisions, if any."""
        self._backend = backend
        self._token = token
        self._host = host
        self._port = port
        self._on_shutdown = on_shutdown
        self._status = status
        self._decisions = decisions
        self._operations = Operations()
        self._provisioning = Provisioning()
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self._host}:{self._port}"

    def application(self) -> web.Application:
        """The aiohttp application (routes and middlewares)."""
        app = web.Application(middlewares=[self._errors, self._auth], client_max_size=64 * 2**20)
        add = app.router.add_route
        add("GET", "/health", self._health)
        add("GET", "/status", self._get_status)
        add("POST", "/shutdown", self._shutdown)
        add("GET", "/operations/{op}", self._poll_operation)
        add("GET", "/endpoints", self._list_endpoints)
        add("GET", "/endpoints/{e}", self._get_endpoint)
        add("PUT", "/endpoints/{e}", self._put_endpoint)
        add("DELETE", "/endpoints/{e}", self._delete_endpoint)
        add("PUT", "/endpoints/{e}/traffic", self._put_traffic)
        add("GET", "/endpoints/{e}/previous-traffic", self._previous_traffic)
        add("GET", "/endpoints/{e}/credentials", self._credentials)
        add("POST", "/endpoints/{e}/keys", self._regenerate_keys)
        add("POST", "/endpoints/{e}/invoke", self._invoke)
        add("GET", "/endpoints/{e}/metrics", self._metrics)
        add("GET", "/endpoints/{e}/deployments", self._list_deployments)
        add("GET", "/endpoints/{e}/deployments/{d}", self._get_deployment)
        add("PUT", "/endpoints/{e}/deployments/{d}", self._put_deployment)
        add("DELETE", "/endpoints/{e}/deployments/{d}", self._delete_deployment)
        add("PUT", "/endpoints/{e}/deployments/{d}/scale", self._scale)
        add("PUT", "/endpoints/{e}/deployments/{d}/autoscale", self._autoscale)
        add("GET", "/endpoints/{e}/deployments/{d}/logs", self._logs)
        add("GET", "/endpoints/{e}/deployments/{d}/autoscale-decisions", self._autoscale_decisions)
        add("GET", "/metrics", self._prometheus)
        add("GET", "/models", self._list_models)
        add("GET", "/models/{name}/versions/{version}", self._get_model)
        add("PUT", "/models/{name}/versions/{version}", self._register_model)
        add("PUT", "/models/{name}/archived", self._archive_model)
        return app

    async def start(self) -> int:
        """Listen; return the bound port."""
        self._runner = web.AppRunner(
            self.application(), access_log=None, logger=BadRequestLog(logger)
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        return self._port

    async def stop(self) -> None:
        """Cancel running operations and stop listening."""
        await self._operations.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ middlewares

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != "/health":
            given = request.headers.get("Authorization", "")
            expected = f"Bearer {self._token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return web.json_response(
                    {"error": {"code": "permission_denied", "message": "Bad admin token."}},
                    status=401,
                )
        return await handler(request)

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except FlightdeckError as exc:
            return web.json_response(encode_error(exc), status=status_for(exc.code))
        except web.HTTPException:
            raise
        except Exception:
            logger.exception("control API: %s %s failed", request.method, request.path)
            message = "The local platform failed (an internal error; the daemon log has details)."
            return web.json_response(
                {"error": {"code": INTERNAL_ERROR_CODE, "message": message}}, status=500
            )

    # ------------------------------------------------------------ daemon

    async def _health(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    async def _get_status(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(dict(self._status()) if self._status else {"status": "running"})

    async def _shutdown(self, request: web.Request) -> web.StreamResponse:
        if self._on_shutdown is None:
            raise ValidationError("This server cannot be shut down over the API.")
        self._on_shutdown()
        return web.json_response({"status": "stopping"}, status=202)

    async def _poll_operation(self, request: web.Request) -> web.StreamResponse:
        op = self._operations.get(request.match_info["op"])
        if op is None:
            raise NotFoundError(f"Operation '{request.match_info['op']}' is not known.")
        after = _int_param(request, "after", 0)
        wait = min(float(_int_param(request, "wait", 0)), MAX_POLL_WAIT)
        return web.json_response(await op.poll(after=max(0, after), wait=wait))

    def _operation(self, kind: str, work: Work) -> web.StreamResponse:
        op = self._operations.start(kind, work)
        return web.json_response({"operation": op.id}, status=202)

    async def _endpoint_state(self, name: str) -> str:
        """``Creating`` for a new endpoint, ``Updating`` for an existing one."""
        try:
            await self._backend.get_endpoint(name)
        except NotFoundError:
            return "Creating"
        return "Updating"

    async def _deployment_state(self, endpoint: str, name: str) -> str:
        """``Creating`` for a new deployment, ``Updating`` for an existing one."""
        try:
            await self._backend.get_deployment(endpoint, name)
        except NotFoundError:
            return "Creating"
        return "Updating"

    # ------------------------------------------------------------ endpoints

    async def _list_endpoints(self, request: web.Request) -> web.StreamResponse:
        endpoints = [self._provisioning.endpoint(e) for e in await self._backend.list_endpoints()]
        return web.json_response(to_json(endpoints))

    async def _get_endpoint(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["e"]
        try:
            endpoint = self._provisioning.endpoint(await self._backend.get_endpoint(name))
        except NotFoundError:
            creating = self._provisioning.creating_endpoint(name)
            if creating is None:
                raise
            endpoint = creating
        return web.json_response(to_json(endpoint))

    async def _put_endpoint(self, request: web.Request) -> web.StreamResponse:
        spec = await _body(request, EndpointSpec)
        _same("endpoint", spec.name, request.match_info["e"])

        state = await self._endpoint_state(spec.name)

        async def work(progress: Callable[[str], Awaitable[None]]) -> Any:
            async with self._provisioning.busy(spec.name, None, state, spec=spec):
                endpoint = await self._backend.create_or_update_endpoint(spec, progress=progress)
            return to_json(endpoint)

        return self._operation(f"create or update endpoint {spec.name}", work)

    async def _delete_endpoint(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["e"]

        async def work(progress: Callable[[str], Awaitable[None]]) -> Any:
            async with self._provisioning.busy(name, None, "Deleting"):
                await self._backend.delete_endpoint(name, progress=progress)
            return None

        return self._operation(f"delete endpoint {name}", work)

    async def _put_traffic(self, request: web.Request) -> web.StreamResponse:
        data = await _json(request)
        traffic = _weights(data.get("traffic"), "traffic")
        mirror = _weights(data.get("mirror_traffic"), "mirror_traffic")
        endpoint = await self._backend.set_traffic(
            request.match_info["e"], traffic, mirror_traffic=mirror
        )
        return web.json_response(to_json(endpoint))

    async def _previous_traffic(self, request: web.Request) -> web.StreamResponse:
        method = getattr(self._backend, "previous_traffic", None)
        if method is None:
            raise NotFoundError("This backend does not keep the previous traffic split.")
        value = method(request.match_info["e"])
        if inspect.isawaitable(value):
            value = await value
        return web.json_response(None if value is None else dict(value))

    async def _credentials(self, request: web.Request) -> web.StreamResponse:
        credentials = await self._backend.get_credentials(request.match_info["e"])
        return web.json_response(to_json(credentials))

    async def _regenerate_keys(self, request: web.Request) -> web.StreamResponse:
        data = await _json(request)
        key_type = str(data.get("key_type", "primary"))
        credentials = await self._backend.regenerate_keys(
            request.match_info["e"], key_type=key_type
        )
        return web.json_response(to_json(credentials))

    async def _invoke(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        deployment = request.query.get("deployment") or None
        result = await self._backend.invoke(request.match_info["e"], body, deployment=deployment)
        return web.json_response(encode_invoke(result))

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        try:
            seconds = float(request.query.get("window_seconds", "300"))
        except ValueError:
            raise ValidationError("window_seconds must be a number.") from None
        snapshot = await self._backend.metrics(request.match_info["e"], timedelta(seconds=seconds))
        return web.json_response(to_json(snapshot))

    async def _prometheus(self, request: web.Request) -> web.StreamResponse:
        window = timedelta(minutes=_int_param(request, "window_minutes", 1))
        snapshots = [
            await self._backend.metrics(endpoint.name, window)
            for endpoint in await self._backend.list_endpoints()
        ]
        body = prometheus.render(snapshots)
        return web.Response(body=body, headers={"Content-Type": prometheus.CONTENT_TYPE_LATEST})

    async def _autoscale_decisions(self, request: web.Request) -> web.StreamResponse:
        endpoint, name = request.match_info["e"], request.match_info["d"]
        deployment = await self._backend.get_deployment(endpoint, name)
        made = self._decisions(endpoint, name) if self._decisions is not None else []
        return web.json_response(
            {"policy": to_json(deployment.autoscale), "decisions": [to_json(d) for d in made]}
        )

    # ------------------------------------------------------------ deployments

    async def _list_deployments(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["e"]
        listed = [
            self._provisioning.deployment(d) for d in await self._backend.list_deployments(endpoint)
        ]
        known = {d.name for d in listed}
        creating = self._provisioning.creating_deployments(endpoint)
        listed += [d for d in creating if d.name not in known]
        return web.json_response(to_json(listed))

    async def _get_deployment(self, request: web.Request) -> web.StreamResponse:
        endpoint, name = request.match_info["e"], request.match_info["d"]
        try:
            deployment = self._provisioning.deployment(
                await self._backend.get_deployment(endpoint, name)
            )
        except NotFoundError:
            creating = [
                d for d in self._provisioning.creating_deployments(endpoint) if d.name == name
            ]
            if not creating:
                raise
            deployment = creating[0]
        return web.json_response(to_json(deployment))

    async def _put_deployment(self, request: web.Request) -> web.StreamResponse:
        spec = await _body(request, DeploymentSpec)
        _same("endpoint", spec.endpoint_name, request.match_info["e"])
        _same("deployment", spec.name, request.match_info["d"])

        state = await self._deployment_state(spec.endpoint_name, spec.name)

        async def work(progress: Callable[[str], Awaitable[None]]) -> Any:
            async with self._provisioning.busy(spec.endpoint_name, spec.name, state, spec=spec):
                deployment = await self._backend.create_or_update_deployment(
                    spec, progress=progress
                )
            return to_json(deployment)

        return self._operation(f"create or update deployment {spec.name}", work)

    async def _delete_deployment(self, request: web.Request) -> web.StreamResponse:
        endpoint, name = request.match_info["e"], request.match_info["d"]

        async def work(progress: Callable[[str], Awaitable[None]]) -> Any:
            async with self._provisioning.busy(endpoint, name, "Deleting"):
                await self._backend.delete_deployment(endpoint, name, progress=progress)
            return None

        return self._operation(f"delete deployment {name}", work)

    async def _scale(self, request: web.Request) -> web.StreamResponse:
        endpoint, name = request.match_info["e"], request.match_info["d"]
        data = await _json(request)
        count = data.get("instance_count")
        if not isinstance(count, int) or isinstance(count, bool):
            raise ValidationError("instance_count must be a whole number.")

        async def work(progress: Callable[[str], Awaitable[None]]) -> Any:
            async with self._provisioning.busy(endpoint, name, "Updating"):
                deployment = await self._backend.scale(endpoint, name, count, progress=progress)
            return to_json(deployment)

        return self._operation(f"scale deployment {name}", work)

    async def _autoscale(self, request: web.Request) -> web.StreamResponse:
        endpoint, name = request.match_info["e"], request.match_info["d"]
        data = await _json(request)
        raw = data.get("policy")
        policy = None if raw is None else _convert(AutoscalePolicy, raw)
        deployment = await self._backend.set_autoscale(endpoint, name, policy)
        return web.json_response(to_json(deployment))

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        endpoint, name = request.match_info["e"], request.match_info["d"]
        lines = _int_param(request, "lines", 100)
        container = request.query.get("container", "inference-server")
        if container not in ("inference-server", "storage-initializer"):
            raise ValidationError(
                f"Unknown container '{container}': use inference-server or storage-initializer."
            )
        kind: ContainerType = (
            "inference-server" if container == "inference-server" else "storage-initializer"
        )
        text = await self._backend.get_logs(endpoint, name, lines=lines, container=kind)
        return web.json_response({"logs": text})

    # ------------------------------------------------------------ models

    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(to_json(await self._backend.list_models()))

    async def _get_model(self, request: web.Request) -> web.StreamResponse:
        name, version = request.match_info["name"], request.match_info["version"]
        return web.json_response(to_json(await self._backend.get_model(name, version)))

    async def _register_model(self, request: web.Request) -> web.StreamResponse:
        name, version = request.match_info["name"], request.match_info["version"]
        data = await _json(request)
        path = data.get("path")
        if not isinstance(path, str) or not path:
            raise ValidationError("A model needs a path.")
        description = data.get("description")
        model = await self._backend.register_model(
            name, version, path, description=None if description is None else str(description)
        )
        return web.json_response(to_json(model))

    async def _archive_model(self, request: web.Request) -> web.StreamResponse:
        data = await _json(request)
        version, archived = data.get("version"), data.get("archived")
        if version is not None and not isinstance(version, str):
            raise ValidationError("'version' must be a string or null.")
        if not isinstance(archived, bool):
            raise ValidationError("'archived' must be true or false.")
        name = request.match_info["name"]
        await self._backend.set_model_archived(name, version, archived=archived)
        return web.json_response({"name": name, "version": version, "archived": archived})


# ---------------------------------------------------------------- helpers


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise ValidationError("The request body is not JSON.") from None
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object.")
    return data


async def _body(request: web.Request, cls: type[T]) -> T:
    return _convert(cls, await _json(request))


def _convert(cls: type[T], data: Any) -> T:
    from pydantic import ValidationError as PydanticError

    try:
        return from_json(cls, data)
    except PydanticError as exc:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        where = ".".join(str(part) for part in first["loc"]) or cls.__name__
        raise ValidationError(f"Malformed {cls.__name__}: {where}: {first['msg']}.") from None


def _weights(raw: Any, what: str) -> dict[str, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in raw.values()
    ):
        raise ValidationError(f"{what} must map deployment names to whole percentages.")
    return {str(k): int(v) for k, v in raw.items()}


def _same(kind: str, in_body: str, in_path: str) -> None:
    if in_body != in_path:
        raise ValidationError(f"The {kind} name in the body ('{in_body}') is not '{in_path}'.")


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(f"'{name}' must be a whole number, not '{raw}'.") from None
