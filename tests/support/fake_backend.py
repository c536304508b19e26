"""An in-memory Backend for unit tests of what sits on top of the interface.

Honest about Azure's rules: names through ``deploy.rules.validate_name``, traffic
through ``deploy.rules.validate_traffic``, unknown resources raise
``NotFoundError``, a deployment taking traffic cannot be deleted. Long operations
report progress lines. Two knobs let tests reach the failure paths:
``fail_deployments`` (names whose create/update fails with log lines, the previous
version kept) and ``crash_on`` (method names that raise a plain ``RuntimeError``, a bug).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from deploy.backend import Backend
from deploy.errors import (
    ConflictError,
    DeploymentFailedError,
    NotFoundError,
    ValidationError,
)
from deploy.local.state.tokens import issue_token
from deploy.rules import validate_name, validate_traffic
from deploy.types import (
    AutoscalePolicy,
    ContainerType,
    Credentials,
    Deployment,
    DeploymentMetrics,
    DeploymentSpec,
    Endpoint,
    EndpointSpec,
    InstanceStatus,
    InvokeResult,
    MetricsSnapshot,
    MinuteMetrics,
    ProgressCallback,
    RegisteredModel,
)

__all__ = ["FakeBackend"]


async def _say(progress: ProgressCallback | None, line: str) -> None:
    if progress is not None:
        await progress(line)


class FakeBackend(Backend):
    """Endpoints, deployments and models in dictionaries."""

    name: ClassVar[str] = "fake"

    def __init__(
        self,
        *,
        base_url: str = "http://127.0.0.1:9",
        fail_deployments: set[str] | None = None,
        crash_on: set[str] | None = None,
    ) -> None:
        self.base_url = base_url
        self.fail_deployments = fail_deployments if fail_deployments is not None else set()
        self.crash_on = crash_on if crash_on is not None else set()
        self.endpoints: dict[str, Endpoint] = {}
        self.keys: dict[str, list[str]] = {}
        self.secrets: dict[str, bytes] = {}
        self.previous: dict[str, dict[str, int]] = {}
        self.specs: dict[tuple[str, str], DeploymentSpec] = {}
        self.models: dict[tuple[str, str], RegisteredModel] = {}
        self.invocations: dict[tuple[str, str], int] = {}
        self._turn = 0

    def _check(self, method: str) -> None:
        if method in self.crash_on:
            raise RuntimeError(f"fake crash in {method}")

    def _endpoint(self, name: str) -> Endpoint:
        try:
            return self.endpoints[name]
        except KeyError:
            raise NotFoundError(f"Endpoint '{name}' does not exist.") from None

    def _names(self, endpoint: str) -> list[str]:
        return [d for (e, d) in self.specs if e == endpoint]

    def _deployment(self, spec: DeploymentSpec) -> Deployment:
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
        old = self.endpoints.get(spec.name)
        if old is None:
            await _say(progress, f"Creating endpoint {spec.name} ...")
            self.keys[spec.name] = [secrets.token_hex(16), secrets.token_hex(16)]
            self.secrets[spec.name] = secrets.token_bytes(32)
            endpoint = Endpoint(
                name=spec.name,
                auth_mode=spec.auth_mode,
                scoring_uri=f"{self.base_url}/{spec.name}/score",
                swagger_uri=f"{self.base_url}/{spec.name}/swagger.json",
                description=spec.description,
                tags=dict(spec.tags),
            )
        else:
            endpoint = replace(old, description=spec.description, tags=dict(spec.tags))
        self.endpoints[spec.name] = endpoint
        return endpoint

    async def delete_endpoint(self, name: str, *, progress: ProgressCallback | None = None) -> None:
        self._check("delete_endpoint")
        self._endpoint(name)
        for deployment in self._names(name):
            await _say(progress, f"Deleting deployment {deployment} ...")
            del self.specs[(name, deployment)]
        await _say(progress, f"Deleting endpoint {name} ...")
        del self.endpoints[name]

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
            now = time.time()
            token, expiry = issue_token(self.secrets[endpoint], endpoint, now=now)
            return Credentials(
                auth_mode="aml_token",
                access_token=token,
                expiry_time_utc=datetime.fromtimestamp(expiry, UTC),
                refresh_after_time_utc=datetime.fromtimestamp(now + 1800, UTC),
            )
        primary, secondary = self.keys[endpoint]
        return Credentials(auth_mode="key", primary_key=primary, secondary_key=secondary)

    async def regenerate_keys(self, endpoint: str, *, key_type: str = "primary") -> Credentials:
        self._check("regenerate_keys")
        self._endpoint(endpoint)
        if key_type not in ("primary", "secondary"):
            raise ValidationError(f"Unknown key type '{key_type}': use primary or secondary.")
        self.keys[endpoint][0 if key_type == "primary" else 1] = secrets.token_hex(16)
        return await self.get_credentials(endpoint)

    async def invoke(
        self, endpoint: str, body: bytes, *, deployment: str | None = None
    ) -> InvokeResult:
        self._check("invoke")
        found = self._endpoint(endpoint)
        chosen = deployment or self._pick(found.traffic)
        if chosen is None or (endpoint, chosen) not in self.specs:
            return InvokeResult(status=404, headers={}, body=b'{"message": "no deployment"}')
        key = (endpoint, chosen)
        self.invocations[key] = self.invocations.get(key, 0) + 1
        answer = json.dumps({"deployment": chosen, "echo": body.decode("latin-1")}).encode()
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
        self._endpoint(endpoint)
        if not timedelta(minutes=1) <= window <= timedelta(minutes=60):
            raise ValidationError("A metrics window is 1 to 60 minutes.")
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        start = end - window
        deployments = {}
        for name in self._names(endpoint):
            count = self.invocations.get((endpoint, name), 0)
            minute = MinuteMetrics(
                timestamp=start, requests=count, requests_by_status={"200": count}
            )
            deployments[name] = DeploymentMetrics(deployment=name, minutes=(minute,), window=minute)
        return MetricsSnapshot(endpoint=endpoint, start=start, end=end, deployments=deployments)

    # ------------------------------------------------------------ deployments

    async def list_deployments(self, endpoint: str) -> list[Deployment]:
        self._check("list_deployments")
        self._endpoint(endpoint)
        return [self._deployment(self.specs[(endpoint, d)]) for d in sorted(self._names(endpoint))]

    async def get_deployment(self, endpoint: str, name: str) -> Deployment:
        self._check("get_deployment")
        self._endpoint(endpoint)
        try:
            return self._deployment(self.specs[(endpoint, name)])
        except KeyError:
            raise NotFoundError(
                f"Deployment '{name}' does not exist on endpoint '{endpoint}'."
            ) from None

    async def create_or_update_deployment(
        self, spec: DeploymentSpec, *, progress: ProgressCallback | None = None
    ) -> Deployment:
        self._check("create_or_update_deployment")
        validate_name("deployment", spec.name)
        self._endpoint(spec.endpoint_name)
        if spec.model is not None and spec.model.registered:
            await self.get_model(spec.model.name or "", spec.model.version or "")
        await _say(progress, f"Copying model for {spec.name} ...")
        for i in range(1, spec.instance_count + 1):
            await _say(progress, f"Starting instance {spec.name}-{i} ...")
        if spec.name in self.fail_deployments:
            raise DeploymentFailedError(
                f"Deployment '{spec.name}' failed: init() raised.",
                log_lines=("Traceback (most recent call last):", "RuntimeError: init failed"),
            )
        self.specs[(spec.endpoint_name, spec.name)] = spec
        for i in range(1, spec.instance_count + 1):
            await _say(progress, f"Instance {spec.name}-{i} ready ({i}/{spec.instance_count})")
        return self._deployment(spec)

    async def delete_deployment(
        self, endpoint: str, name: str, *, progress: ProgressCallback | None = None
    ) -> None:
        self._check("delete_deployment")
        found = self._endpoint(endpoint)
        await self.get_deployment(endpoint, name)
        if found.traffic.get(name, 0) > 0 or found.mirror_traffic.get(name, 0) > 0:
            raise ConflictError(f"Deployment '{name}' takes traffic: set its traffic to 0 first.")
        await _say(progress, f"Stopping instances of {name} ...")
        del self.specs[(endpoint, name)]
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
        await self.get_deployment(endpoint, deployment)
        if not 1 <= instance_count <= 50:
            raise ValidationError("instance_count must be between 1 and 50.")
        spec = replace(self.specs[(endpoint, deployment)], instance_count=instance_count)
        await _say(progress, f"Scaling {deployment} to {instance_count} ...")
        self.specs[(endpoint, deployment)] = spec
        return self._deployment(spec)

    async def set_autoscale(
        self, endpoint: str, deployment: str, policy: AutoscalePolicy | None
    ) -> Deployment:
        self._check("set_autoscale")
        await self.get_deployment(endpoint, deployment)
        spec = replace(self.specs[(endpoint, deployment)], autoscale=policy)
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
        await self.get_deployment(endpoint, deployment)
        log = [f"{container} line {i}" for i in range(1, 201)]
        return "\n".join(log[-lines:]) if lines > 0 else ""

    # ------------------------------------------------------------ models

    async def register_model(
        self, name: str, version: str, path: str, *, description: str | None = None
    ) -> RegisteredModel:
        self._check("register_model")
        if not await asyncio.to_thread(os.path.exists, path):
            raise ValidationError(f"Model path '{path}' does not exist.")
        if (name, version) in self.models:
            raise ConflictError(f"Model {name}:{version} is registered already.")
        model = RegisteredModel(
            name=name,
            version=version,
            path=path,
            description=description,
            created_at=datetime.now(UTC),
        )
        self.models[(name, version)] = model
        return model

    async def list_models(self) -> list[RegisteredModel]:
        self._check("list_models")
        return [self.models[key] for key in sorted(self.models)]

    async def get_model(self, name: str, version: str) -> RegisteredModel:
        self._check("get_model")
        try:
            return self.models[(name, version)]
        except KeyError:
            raise NotFoundError(f"Model {name}:{version} is not registered.") from None
