"""``MemoryBackend``: endpoints, deployments and models in dictionaries.

The in-memory ``Backend`` beside the real ones (as httpx ships ``MockTransport``
beside its transports), for tests of what sits on top of the interface and for
trying the bot without a platform. It is held to the same contract suite as the
local platform and the Azure backend (``tests/contract/``): it refuses what they
refuse, with the same error classes — names through ``deploy.rules.validate_name``,
traffic through ``deploy.rules.validate_traffic``, autoscale policies through
``deploy.specs.validate_policy``, instance counts and deployments per endpoint
within Azure's limits, an auth mode that cannot change, keys only on key
endpoints, unknown resources as ``NotFoundError``, a deployment taking traffic
cannot be deleted. Long operations report progress lines. Scoring answers with
an echo from the deployment the traffic (or the ``deployment`` argument) picks,
and every answer is counted in the metrics of its minute, with its latency.

Three knobs let tests reach the failure paths:

- ``fail_deployments``: names whose create/update fails (``DeploymentFailedError``
  with log lines; an update keeps the previous version serving, and a create is kept as
  Azure keeps it, in the ``Failed`` state: no instances, no traffic (setting some or scaling
  it is refused), its logs readable, a 503 when the header names it, until it is updated
  with a fix or deleted);
- a deployment whose ``environment_variables`` set ``FAKE_INIT_ERROR`` fails the
  same way with that message in its traceback (as the fake ARM service does);
- ``crash_on``: method names that raise a plain ``RuntimeError`` (a bug).

    backend = MemoryBackend()
    await backend.create_or_update_endpoint(EndpointSpec(name="product-recommender"))
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from base.numbers import format_number
from deploy.backend import Backend
from deploy.errors import (
    ConflictError,
    DeploymentFailedError,
    NotFoundError,
    ValidationError,
)
from deploy.memory import messages as msg
from deploy.memory.metrics import Answers, minute_of
from deploy.rules import (
    MAX_DEPLOYMENTS_PER_ENDPOINT,
    MAX_INSTANCES_PER_DEPLOYMENT,
    validate_name,
    validate_traffic,
)
from deploy.specs import validate_policy
from deploy.types import (
    AutoscalePolicy,
    ContainerType,
    Credentials,
    Deployment,
    DeploymentSpec,
    Endpoint,
    EndpointSpec,
    InstanceStatus,
    InvokeResult,
    MetricsSnapshot,
    ProgressCallback,
    RegisteredModel,
)

__all__ = ["INIT_ERROR_VARIABLE", "MemoryBackend"]

#: A deployment whose environment variables set this fails as if its init() raised the value.
INIT_ERROR_VARIABLE = "FAKE_INIT_ERROR"

_AUTH_MODES = ("key", "aml_token")
_CONTAINERS: tuple[ContainerType, ...] = ("inference-server", "storage-initializer")
_LOG_LINES = 200
#: Lifetime of an aml_token, as the local platform and Azure issue them.
_TOKEN_SECONDS = 3600


async def _say(progress: ProgressCallback | None, line: str) -> None:
    if progress is not None:
        await progress(line)


class MemoryBackend(Backend):
    """Endpoints, deployments and models in dictionaries (registered as ``memory``)."""

    name: ClassVar[str] = "memory"
    #: As Azure Monitor: one-minute points for up to 30 days.
    metrics_retention: ClassVar[timedelta] = timedelta(days=30)

    def __init__(
        self,
        *,
        base_url: str = "http://127.0.0.1:9",
        fail_deployments: set[str] | None = None,
        crash_on: set[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``base_url``: where scoring URIs point (nothing listens there);
        ``fail_deployments``, ``crash_on``: see the module's docstring; ``clock``: the
        time in seconds, for metrics and token expiry."""
        self.base_url = base_url
        self.fail_deployments = fail_deployments if fail_deployments is not None else set()
        self.crash_on = crash_on if crash_on is not None else set()
        self.clock = clock
        self.endpoints: dict[str, Endpoint] = {}
        self.keys: dict[str, list[str]] = {}
        self.previous: dict[str, dict[str, int]] = {}
        self.specs: dict[tuple[str, str], DeploymentSpec] = {}
        self.models: dict[tuple[str, str], RegisteredModel] = {}
        #: Deployments kept in the Failed state, with the log lines of their failure.
        self.failed: dict[tuple[str, str], tuple[str, ...]] = {}
        self.archived_models: set[str] = set()  # archived as a whole (az's model container)
        self._answers = Answers()
        self._turn = 0

    # ------------------------------------------------------------ helpers

    def _check(self, method: str) -> None:
        if method in self.crash_on:
            raise RuntimeError(msg.CRASH.format(method=method))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    def _endpoint(self, name: str) -> Endpoint:
        try:
            return self.endpoints[name]
        except KeyError:
            raise NotFoundError(msg.ENDPOINT_NOT_FOUND.format(name=name)) from None

    def _names(self, endpoint: str) -> list[str]:
        return [d for (e, d) in self.specs if e == endpoint]

    def _spec(self, endpoint: str, name: str) -> DeploymentSpec:
        self._endpoint(endpoint)
        try:
            return self.specs[(endpoint, name)]
        except KeyError:
            raise NotFoundError(
                msg.DEPLOYMENT_NOT_FOUND.format(name=name, endpoint=endpoint)
            ) from None

    def _refuse_failed(self, endpoint: str, name: str, action: str) -> None:
        if (endpoint, name) in self.failed:
            raise ValidationError(msg.DEPLOYMENT_IS_FAILED.format(name=name, action=action))

    def _deployment(self, spec: DeploymentSpec) -> Deployment:
        if (spec.endpoint_name, spec.name) in self.failed:
            return replace(self._serving(spec), provisioning_state="Failed", instances=())
        return self._serving(spec)

    def _serving(self, spec: DeploymentSpec) -> Deployment:
        return Deployment(
            name=spec.name,
            endpoint_name=spec.endpoint_name,
            model=spec.model.display() if spec.model else None,
            instance_type=spec.instance_type,
            instance_count=spec.instance_count,
            request_settings=spec.request_settings,
            liveness_probe=spec.liveness_probe,
            readiness_probe=spec.readiness_probe,
            environment_variables=dict(spec.environment_variables),
            environment_spec=spec.environment,
            code_path=spec.code_path,
            scoring_script=spec.scoring_script,
            autoscale=spec.autoscale,
            instances=tuple(
                InstanceStatus(name=f"{spec.name}-{i}", state="ready")
                for i in range(1, spec.instance_count + 1)
            ),
        )

    @staticmethod
    def _check_count(count: int) -> None:
        if not 1 <= count <= MAX_INSTANCES_PER_DEPLOYMENT:
            raise ValidationError(
                msg.INSTANCE_COUNT_INVALID.format(limit=MAX_INSTANCES_PER_DEPLOYMENT, count=count)
            )

    # ------------------------------------------------------------ endpoints

    async def list_endpoints(self) -> list[Endpoint]:
        self._check("list_endpoints")
        return [self.endpoints[name] for name in sorted(self.endpoints)]

    async def get_endpoint(self, name: str) -> Endpoint:
        self._check("get_endpoint")
        return self._endpoint(name)

    async def create_or_update_endpoint(
        self, spec: EndpointSpec, *, progress: ProgressCallback | None = None
    ) -> Endpoint:
        self._check("create_or_update_endpoint")
        validate_name("endpoint", spec.name)
        if spec.auth_mode not in _AUTH_MODES:
            raise ValidationError(
                msg.AUTH_MODE_UNSUPPORTED.format(name=spec.name, mode=spec.auth_mode)
            )
        old = self.endpoints.get(spec.name)
        if old is None:
            await _say(progress, msg.CREATING_ENDPOINT.format(name=spec.name))
            self.keys[spec.name] = [secrets.token_hex(16), secrets.token_hex(16)]
            endpoint = Endpoint(
                name=spec.name,
                auth_mode=spec.auth_mode,
                scoring_uri=f"{self.base_url}/{spec.name}/score",
                swagger_uri=f"{self.base_url}/{spec.name}/swagger.json",
                description=spec.description,
                tags=dict(spec.tags),
            )
        else:
            if spec.auth_mode != old.auth_mode:
                raise ValidationError(
                    msg.AUTH_MODE_CHANGE.format(
                        name=spec.name, current=old.auth_mode, mode=spec.auth_mode
                    )
                )
            endpoint = replace(old, description=spec.description, tags=dict(spec.tags))
        self.endpoints[spec.name] = endpoint
        return endpoint

    async def delete_endpoint(self, name: str, *, progress: ProgressCallback | None = None) -> None:
        self._check("delete_endpoint")
        self._endpoint(name)
        for deployment in self._names(name):
            await _say(progress, msg.DELETING_DEPLOYMENT.format(name=deployment))
            del self.specs[(name, deployment)]
            self.failed.pop((name, deployment), None)
            self._answers.forget(name, deployment)
        await _say(progress, msg.DELETING_ENDPOINT.format(name=name))
        del self.endpoints[name]
        self.keys.pop(name, None)
        self.previous.pop(name, None)

    async def set_traffic(
        self,
        endpoint: str,
        traffic: Mapping[str, int] | None = None,
        *,
        mirror_traffic: Mapping[str, int] | None = None,
    ) -> Endpoint:
        self._check("set_traffic")
        old = self._endpoint(endpoint)
        new_traffic = dict(old.traffic if traffic is None else traffic)
        new_mirror = dict(old.mirror_traffic if mirror_traffic is None else mirror_traffic)
        validate_traffic(self._names(endpoint), new_traffic, new_mirror)
        for name, percent in {**(traffic or {}), **(mirror_traffic or {})}.items():
            if percent > 0:
                self._refuse_failed(endpoint, name, "take traffic")
        if traffic is not None:
            self.previous[endpoint] = dict(old.traffic)
        updated = replace(old, traffic=new_traffic, mirror_traffic=new_mirror)
        self.endpoints[endpoint] = updated
        return updated

    async def previous_traffic(self, endpoint: str) -> dict[str, int] | None:
        """The split before the last change."""
        self._endpoint(endpoint)
        return self.previous.get(endpoint)

    async def get_credentials(self, endpoint: str) -> Credentials:
        self._check("get_credentials")
        found = self._endpoint(endpoint)
        if found.auth_mode == "aml_token":
            now = self.clock()
            return Credentials(
                auth_mode="aml_token",
                access_token=f"{endpoint}.{secrets.token_urlsafe(32)}",
                expiry_time_utc=datetime.fromtimestamp(now + _TOKEN_SECONDS, UTC),
                refresh_after_time_utc=datetime.fromtimestamp(now + _TOKEN_SECONDS / 2, UTC),
            )
        primary, secondary = self.keys[endpoint]
        return Credentials(auth_mode="key", primary_key=primary, secondary_key=secondary)

    async def regenerate_keys(self, endpoint: str, *, key_type: str = "primary") -> Credentials:
        self._check("regenerate_keys")
        found = self._endpoint(endpoint)
        if key_type not in ("primary", "secondary"):
            raise ValidationError(msg.KEY_TYPE_INVALID.format(key_type=key_type))
        if found.auth_mode != "key":
            raise ValidationError(
                msg.KEYS_NEED_KEY_AUTH.format(name=endpoint, mode=found.auth_mode)
            )
        self.keys[endpoint][0 if key_type == "primary" else 1] = secrets.token_hex(16)
        return await self.get_credentials(endpoint)

    async def invoke(
        self, endpoint: str, body: bytes, *, deployment: str | None = None
    ) -> InvokeResult:
        self._check("invoke")
        started = time.perf_counter()
        found = self._endpoint(endpoint)
        chosen = deployment or self._pick(found.traffic)
        if chosen is None or (endpoint, chosen) not in self.specs:
            return InvokeResult(status=404, headers={}, body=msg.NO_DEPLOYMENT_BODY)
        if (endpoint, chosen) in self.failed:  # only the header reaches it: no instance
            self._answers.count(endpoint, chosen, at=self._now(), status="503", latency_ms=0.0)
            return InvokeResult(
                status=503,
                headers={"azureml-model-deployment": chosen, "content-type": "application/json"},
                body=msg.FAILED_DEPLOYMENT_BODY,
            )
        answer = json.dumps({"deployment": chosen, "echo": body.decode("latin-1")}).encode()
        latency_ms = (time.perf_counter() - started) * 1000
        self._answers.count(endpoint, chosen, at=self._now(), status="200", latency_ms=latency_ms)
        return InvokeResult(
            status=200,
            headers={"azureml-model-deployment": chosen, "content-type": "application/json"},
            body=answer,
        )

    def _pick(self, traffic: Mapping[str, int]) -> str | None:
        """Deterministic weighted choice: request n goes where n mod 100 falls."""
        slot = self._turn % 100
        self._turn += 1
        for name, weight in sorted(traffic.items()):
            if slot < weight:
                return name
            slot -= weight
        return None

    async def metrics(self, endpoint: str, window: timedelta) -> MetricsSnapshot:
        self._check("metrics")
        minutes = window.total_seconds() / 60
        longest = self.metrics_retention.total_seconds() / 60
        if not 1 <= minutes <= longest:
            raise ValidationError(
                msg.METRICS_WINDOW.format(
                    minutes=format_number(minutes), longest=format_number(longest)
                )
            )
        self._endpoint(endpoint)
        # Whole minutes, the current one included, as Azure Monitor's points are.
        end = minute_of(self._now()) + timedelta(minutes=1)
        start = end - timedelta(minutes=math.ceil(minutes))
        deployments = {
            name: self._answers.deployment_metrics(endpoint, name, start=start, end=end)
            for name in sorted(self._names(endpoint))
        }
        return MetricsSnapshot(endpoint=endpoint, start=start, end=end, deployments=deployments)

    # ------------------------------------------------------------ deployments

    async def list_deployments(self, endpoint: str) -> list[Deployment]:
        self._check("list_deployments")
        self._endpoint(endpoint)
        return [self._deployment(self.specs[(endpoint, d)]) for d in sorted(self._names(endpoint))]

    async def get_deployment(self, endpoint: str, name: str) -> Deployment:
        self._check("get_deployment")
        return self._deployment(self._spec(endpoint, name))

    async def create_or_update_deployment(
        self, spec: DeploymentSpec, *, progress: ProgressCallback | None = None
    ) -> Deployment:
        self._check("create_or_update_deployment")
        validate_name("endpoint", spec.endpoint_name)
        validate_name("deployment", spec.name)
        self._check_count(spec.instance_count)
        if spec.autoscale is not None:
            validate_policy(spec.autoscale)
        self._endpoint(spec.endpoint_name)
        names = self._names(spec.endpoint_name)
        if spec.name not in names and len(names) >= MAX_DEPLOYMENTS_PER_ENDPOINT:
            raise ValidationError(
                msg.TOO_MANY_DEPLOYMENTS.format(
                    endpoint=spec.endpoint_name,
                    count=len(names),
                    limit=MAX_DEPLOYMENTS_PER_ENDPOINT,
                )
            )
        if spec.model is not None and spec.model.registered:
            await self.get_model(spec.model.name or "", spec.model.version or "")
        await _say(progress, msg.COPYING_MODEL.format(name=spec.name))
        for i in range(1, spec.instance_count + 1):
            await _say(progress, msg.STARTING_INSTANCE.format(instance=f"{spec.name}-{i}"))
        init_error = spec.environment_variables.get(INIT_ERROR_VARIABLE)
        key = (spec.endpoint_name, spec.name)
        if spec.name in self.fail_deployments or init_error:
            error = init_error or msg.DEFAULT_INIT_ERROR
            lines = tuple(line.format(error=error) for line in msg.INIT_TRACEBACK)
            if key in self.specs and key not in self.failed:  # an update: the old one serves
                raise DeploymentFailedError(msg.INIT_FAILED.format(name=spec.name), log_lines=lines)
            self.specs[key] = spec  # a create is kept, Failed, as Azure keeps it
            self.failed[key] = lines
            raise DeploymentFailedError(
                msg.INIT_FAILED_KEPT.format(name=spec.name), log_lines=lines
            )
        self.specs[key] = spec
        self.failed.pop(key, None)
        for i in range(1, spec.instance_count + 1):
            await _say(
                progress,
                msg.INSTANCE_READY.format(
                    instance=f"{spec.name}-{i}", number=i, count=spec.instance_count
                ),
            )
        return self._deployment(spec)

    async def delete_deployment(
        self, endpoint: str, name: str, *, progress: ProgressCallback | None = None
    ) -> None:
        self._check("delete_deployment")
        self._spec(endpoint, name)
        found = self.endpoints[endpoint]
        if found.traffic.get(name, 0) > 0 or found.mirror_traffic.get(name, 0) > 0:
            raise ConflictError(msg.TAKES_TRAFFIC.format(name=name))
        await _say(progress, msg.STOPPING.format(name=name))
        del self.specs[(endpoint, name)]
        self.failed.pop((endpoint, name), None)
        self._answers.forget(endpoint, name)
        self.endpoints[endpoint] = replace(
            found,
            traffic={k: v for k, v in found.traffic.items() if k != name},
            mirror_traffic={k: v for k, v in found.mirror_traffic.items() if k != name},
        )

    async def scale(
        self,
        endpoint: str,
        deployment: str,
        instance_count: int,
        *,
        progress: ProgressCallback | None = None,
    ) -> Deployment:
        self._check("scale")
        current = self._spec(endpoint, deployment)
        self._refuse_failed(endpoint, deployment, "scale")
        self._check_count(instance_count)
        spec = replace(current, instance_count=instance_count)
        await _say(progress, msg.SCALING.format(name=deployment, count=instance_count))
        self.specs[(endpoint, deployment)] = spec
        return self._deployment(spec)

    async def set_autoscale(
        self, endpoint: str, deployment: str, policy: AutoscalePolicy | None
    ) -> Deployment:
        self._check("set_autoscale")
        if policy is not None:
            validate_policy(policy)
        spec = replace(self._spec(endpoint, deployment), autoscale=policy)
        self.specs[(endpoint, deployment)] = spec
        return self._deployment(spec)

    async def get_logs(
        self,
        endpoint: str,
        deployment: str,
        *,
        lines: int = 100,
        container: ContainerType = "inference-server",
    ) -> str:
        self._check("get_logs")
        if container not in _CONTAINERS:
            raise ValidationError(msg.LOGS_CONTAINER_INVALID.format(container=container))
        if lines < 1:
            raise ValidationError(msg.LOGS_LINES_INVALID.format(lines=lines))
        self._spec(endpoint, deployment)
        log = [msg.LOG_LINE.format(container=container, number=i) for i in range(1, _LOG_LINES + 1)]
        failure = self.failed.get((endpoint, deployment))
        if failure is not None:
            if container == "inference-server":
                log += failure
            else:
                kept = msg.INIT_FAILED_KEPT.format(name=deployment)
                log.append(msg.PROVISIONING_FAILED.format(message=kept))
        return "\n".join(log[-lines:])

    # ------------------------------------------------------------ models

    async def register_model(
        self, name: str, version: str, path: str, *, description: str | None = None
    ) -> RegisteredModel:
        self._check("register_model")
        if not await asyncio.to_thread(os.path.exists, path):
            raise ValidationError(msg.MODEL_PATH_MISSING.format(path=path))
        if (name, version) in self.models:
            raise ConflictError(msg.MODEL_EXISTS.format(name=name, version=version))
        model = RegisteredModel(
            name=name,
            version=version,
            path=path,
            description=description,
            created_at=self._now(),
        )
        self.models[(name, version)] = model
        return model

    async def list_models(self) -> list[RegisteredModel]:
        self._check("list_models")
        return [self._model_view(self.models[key]) for key in sorted(self.models)]

    async def get_model(self, name: str, version: str) -> RegisteredModel:
        self._check("get_model")
        try:
            return self._model_view(self.models[(name, version)])
        except KeyError:
            raise NotFoundError(msg.MODEL_NOT_FOUND.format(name=name, version=version)) from None

    async def set_model_archived(self, name: str, version: str | None, *, archived: bool) -> None:
        self._check("set_model_archived")
        if not any(n == name for n, _ in self.models):
            raise NotFoundError(msg.MODEL_NAME_NOT_FOUND.format(name=name))
        if version is None:
            (self.archived_models.add if archived else self.archived_models.discard)(name)
            return
        model = self.models.get((name, version))
        if model is None:
            raise NotFoundError(msg.MODEL_NOT_FOUND.format(name=name, version=version))
        if not archived and name in self.archived_models:
            raise ValidationError(msg.MODEL_RESTORE_WHOLE.format(name=name, version=version))
        self.models[(name, version)] = replace(model, archived=archived)

    def _model_view(self, model: RegisteredModel) -> RegisteredModel:
        """``model`` archived when its whole model is."""
        if model.name in self.archived_models and not model.archived:
            return replace(model, archived=True)
        return model
