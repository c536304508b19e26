"""LocalBackend: the ``Backend`` interface over the local platform daemon's control API.

    backend = create_local_backend({"home": "/tmp/fd"})   # reads daemon.json + admin token
    endpoint = await backend.get_endpoint("product-recommender")
    await backend.aclose()

Errors come back as the exception class the daemon raised (``NotFoundError``,
``DeploymentFailedError`` with its log lines...); an unreachable daemon is
``BackendUnavailableError``. Long operations stream their progress lines to the
``progress`` callback as the daemon reports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import aiohttp

from deploy.backend import Backend
from deploy.errors import BackendUnavailableError, FlightdeckError, OutcomeUnknownError
from deploy.local.control import messages as messages
from deploy.local.control.wire import decode_error, decode_invoke
from deploy.local.metrics.autoscale_policy import ScaleDecision
from deploy.local.metrics.recorder import RETENTION_MINUTES
from deploy.local.state.home import Home, process_alive
from deploy.types import (
    AutoscalePolicy,
    ContainerType,
    Credentials,
    Deployment,
    DeploymentSpec,
    Endpoint,
    EndpointSpec,
    InvokeResult,
    MetricsSnapshot,
    ProgressCallback,
    RegisteredModel,
    from_json,
    to_json,
)

__all__ = ["LocalBackend", "create_local_backend"]

T = TypeVar("T")

#: How long one long-poll of an operation may wait on the daemon (seconds).
POLL_WAIT = 20
#: Timeout of one ordinary control API call (seconds).
CALL_TIMEOUT = 60.0
#: Timeout of an invoke (Azure's request_timeout_ms is at most 180 s).
INVOKE_TIMEOUT = 200.0


class LocalBackend(Backend):
    """The local platform, reached through its control API at ``control_url``."""

    name: ClassVar[str] = "local"
    loopback_only: ClassVar[bool] = True
    #: The daemon's metrics recorder keeps a day of minutes.
    metrics_retention: ClassVar[timedelta] = timedelta(minutes=RETENTION_MINUTES)

    def __init__(self, *, control_url: str, token: str, no_wait: bool = False) -> None:
        """``no_wait``: long operations return once the daemon accepted them (``az ml
        --no-wait``); the daemon carries them on and ``show`` reports ``Creating``,
        ``Updating`` or ``Deleting`` until they end. Create and update then return the
        resource as it stands."""
        self._url = control_url.rstrip("/")
        self._token = token
        self._no_wait = no_wait
        self._session: aiohttp.ClientSession | None = None

    @property
    def control_url(self) -> str:
        """The daemon's control API base URL."""
        return self._url

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------ endpoints

    async def list_endpoints(self) -> list[Endpoint]:
        return from_json(list[Endpoint], await self._call("GET", "/endpoints"))

    async def get_endpoint(self, name: str) -> Endpoint:
        return from_json(Endpoint, await self._call("GET", _path("endpoints", name)))

    async def create_or_update_endpoint(
        self, spec: EndpointSpec, *, progress: ProgressCallback | None = None
    ) -> Endpoint:
        result = await self._operation(
            "PUT", _path("endpoints", spec.name), to_json(spec), progress
        )
        if result is None and self._no_wait:
            return await self.get_endpoint(spec.name)
        return from_json(Endpoint, result)

    async def delete_endpoint(self, name: str, *, progress: ProgressCallback | None = None) -> None:
        await self._operation("DELETE", _path("endpoints", name), None, progress)

    async def set_traffic(
        self,
        endpoint: str,
        traffic: Mapping[str, int] | None = None,
        *,
        mirror_traffic: Mapping[str, int] | None = None,
    ) -> Endpoint:
        body = {
            "traffic": None if traffic is None else dict(traffic),
            "mirror_traffic": None if mirror_traffic is None else dict(mirror_traffic),
        }
        result = await self._call("PUT", _path("endpoints", endpoint, "traffic"), json=body)
        return from_json(Endpoint, result)

    async def previous_traffic(self, endpoint: str) -> dict[str, int] | None:
        """The split before the last change (for a rollback), if the platform kept one."""
        result = await self._call("GET", _path("endpoints", endpoint, "previous-traffic"))
        return None if result is None else {str(k): int(v) for k, v in result.items()}

    async def get_credentials(self, endpoint: str) -> Credentials:
        result = await self._call("GET", _path("endpoints", endpoint, "credentials"))
        return from_json(Credentials, result)

    async def regenerate_keys(self, endpoint: str, *, key_type: str = "primary") -> Credentials:
        result = await self._call(
            "POST", _path("endpoints", endpoint, "keys"), json={"key_type": key_type}
        )
        return from_json(Credentials, result)

    async def invoke(
        self, endpoint: str, body: bytes, *, deployment: str | None = None
    ) -> InvokeResult:
        params = {"deployment": deployment} if deployment else None
        result = await self._call(
            "POST",
            _path("endpoints", endpoint, "invoke"),
            data=body,
            params=params,
            seconds=INVOKE_TIMEOUT,
        )
        return decode_invoke(result)

    async def metrics(self, endpoint: str, window: timedelta) -> MetricsSnapshot:
        params = {"window_seconds": str(window.total_seconds())}
        result = await self._call("GET", _path("endpoints", endpoint, "metrics"), params=params)
        return from_json(MetricsSnapshot, result)

    # ------------------------------------------------------------ deployments

    async def list_deployments(self, endpoint: str) -> list[Deployment]:
        result = await self._call("GET", _path("endpoints", endpoint, "deployments"))
        return from_json(list[Deployment], result)

    async def get_deployment(self, endpoint: str, name: str) -> Deployment:
        result = await self._call("GET", _path("endpoints", endpoint, "deployments", name))
        return from_json(Deployment, result)

    async def create_or_update_deployment(
        self, spec: DeploymentSpec, *, progress: ProgressCallback | None = None
    ) -> Deployment:
        path = _path("endpoints", spec.endpoint_name, "deployments", spec.name)
        result = await self._operation("PUT", path, to_json(spec), progress)
        if result is None and self._no_wait:
            return await self.get_deployment(spec.endpoint_name, spec.name)
        return from_json(Deployment, result)

    async def delete_deployment(
        self, endpoint: str, name: str, *, progress: ProgressCallback | None = None
    ) -> None:
        path = _path("endpoints", endpoint, "deployments", name)
        await self._operation("DELETE", path, None, progress)

    async def scale(
        self,
        endpoint: str,
        deployment: str,
        instance_count: int,
        *,
        progress: ProgressCallback | None = None,
    ) -> Deployment:
        path = _path("endpoints", endpoint, "deployments", deployment, "scale")
        result = await self._operation("PUT", path, {"instance_count": instance_count}, progress)
        if result is None and self._no_wait:
            return await self.get_deployment(endpoint, deployment)
        return from_json(Deployment, result)

    async def set_autoscale(
        self, endpoint: str, deployment: str, policy: AutoscalePolicy | None
    ) -> Deployment:
        path = _path("endpoints", endpoint, "deployments", deployment, "autoscale")
        body = {"policy": None if policy is None else to_json(policy)}
        return from_json(Deployment, await self._call("PUT", path, json=body))

    async def autoscale_decisions(self, endpoint: str, deployment: str) -> list[ScaleDecision]:
        """The daemon autoscaler's last decisions for a deployment, oldest first."""
        path = _path("endpoints", endpoint, "deployments", deployment, "autoscale-decisions")
        result = await self._call("GET", path)
        return from_json(list[ScaleDecision], result["decisions"])

    async def get_logs(
        self,
        endpoint: str,
        deployment: str,
        *,
        lines: int = 100,
        container: ContainerType = "inference-server",
    ) -> str:
        path = _path("endpoints", endpoint, "deployments", deployment, "logs")
        params = {"lines": str(lines), "container": container}
        result = await self._call("GET", path, params=params)
        return str(result["logs"])

    # ------------------------------------------------------------ models

    async def register_model(
        self, name: str, version: str, path: str, *, description: str | None = None
    ) -> RegisteredModel:
        body = {"path": path, "description": description}
        result = await self._call("PUT", _path("models", name, "versions", version), json=body)
        return from_json(RegisteredModel, result)

    async def list_models(self) -> list[RegisteredModel]:
        return from_json(list[RegisteredModel], await self._call("GET", "/models"))

    async def get_model(self, name: str, version: str) -> RegisteredModel:
        result = await self._call("GET", _path("models", name, "versions", version))
        return from_json(RegisteredModel, result)

    async def set_model_archived(self, name: str, version: str | None, *, archived: bool) -> None:
        body = {"version": version, "archived": archived}
        await self._call("PUT", _path("models", name, "archived"), json=body)

    # ------------------------------------------------------------ daemon

    async def daemon_status(self) -> dict[str, Any]:
        """The daemon's ``/status``: pid, URLs, home, counts."""
        result = await self._call("GET", "/status")
        return dict(result)

    async def shutdown(self) -> None:
        """Ask the daemon to stop (its instances stop, its state stays)."""
        await self._call("POST", "/shutdown")

    # ------------------------------------------------------------ transport

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self._token}"}
            )
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
        seconds: float = CALL_TIMEOUT,
    ) -> Any:
        """One request; the decoded JSON answer, or the daemon's error raised."""
        kwargs: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(total=seconds)}
        if json is not None:
            kwargs["json"] = json
        if data is not None:
            kwargs["data"] = data
        if params:
            kwargs["params"] = dict(params)
        try:
            async with self._client().request(method, self._url + path, **kwargs) as response:
                status = response.status
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
        except aiohttp.ClientConnectorError:
            raise BackendUnavailableError(messages.NOT_RUNNING) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise BackendUnavailableError(messages.stopped_answering(exc)) from None
        if status == 401:
            raise BackendUnavailableError(messages.TOKEN_REFUSED)
        if status >= 400:
            if isinstance(body, dict) and "error" in body:
                raise decode_error(body)
            raise FlightdeckError(messages.unexpected_answer(status, method, path))
        return body

    async def _operation(
        self, method: str, path: str, body: Any, progress: ProgressCallback | None
    ) -> Any:
        """Start a long operation, relay its progress lines, return its result.

        Once the daemon accepted it, losing the daemon (killed, restarted) leaves the change
        maybe committed: ``OutcomeUnknownError`` says so and that ``show`` tells, rather than
        reporting a failure for a change that may have taken effect."""
        started = await self._call(method, path, json=body)
        if self._no_wait:
            return None
        op_path = _path("operations", str(started["operation"]))
        after = 0
        while True:
            try:
                page = await self._call(
                    "GET",
                    op_path,
                    params={"after": str(after), "wait": str(POLL_WAIT)},
                    seconds=POLL_WAIT + CALL_TIMEOUT,
                )
            except BackendUnavailableError as exc:
                raise OutcomeUnknownError(messages.outcome_unknown(method, path, exc)) from None
            except FlightdeckError as exc:
                if exc.code != "not_found":
                    raise
                # A daemon restarted meanwhile forgot the operation: the same unknown outcome.
                raise OutcomeUnknownError(messages.outcome_unknown(method, path, exc)) from None
            for line in page.get("lines", []):
                if progress is not None:
                    await progress(str(line))
            after = int(page.get("next", after))
            if page.get("done"):
                if "error" in page:
                    raise decode_error(page)
                return page.get("result")


def _path(*parts: str) -> str:
    return "/" + "/".join(quote(part, safe="") for part in parts)


def create_local_backend(settings: Mapping[str, Any]) -> LocalBackend:
    """The backend registered as ``local``: the daemon of ``settings["home"]``.

    ``home`` defaults to $FLIGHTDECK_HOME, then ``~/.flightdeck``.
    ``BackendUnavailableError`` when no daemon runs there.
    """
    home = Home.resolve(settings.get("home"))
    info = home.read_daemon_info()
    token = home.admin_token()
    if info is None or token is None or not process_alive(info.pid):
        raise BackendUnavailableError(messages.NOT_RUNNING)
    return LocalBackend(
        control_url=info.control_url, token=token, no_wait=bool(settings.get("no_wait"))
    )
