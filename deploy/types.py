"""Domain types shared by every backend and everything above deploy/.

Small frozen dataclasses: neither Slack nor Azure SDK types leak above deploy/.
``to_json`` / ``from_json`` convert them to and from plain JSON values (the
control API's wire format), through pydantic's TypeAdapter.

    >>> spec = RequestSettings(request_timeout_ms=3000)
    >>> from_json(RequestSettings, to_json(spec)) == spec
    True
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import TypeAdapter

__all__ = [
    "MODEL_FAILURES",
    "AutoscalePolicy",
    "ContainerType",
    "Credentials",
    "Deployment",
    "DeploymentMetrics",
    "DeploymentSpec",
    "Endpoint",
    "EndpointSpec",
    "EnvironmentSpec",
    "InstanceStatus",
    "InvokeResult",
    "MetricsSnapshot",
    "MinuteMetrics",
    "ModelRef",
    "ProbeSettings",
    "ProgressCallback",
    "RegisteredModel",
    "RequestSettings",
    "ResourceSettings",
    "from_json",
    "to_json",
]

T = TypeVar("T")

#: Called with a line of progress while a long operation runs.
ProgressCallback = Callable[[str], Awaitable[None]]

AuthMode = Literal["key", "aml_token", "aad_token"]
ContainerType = Literal["inference-server", "storage-initializer"]
ScaleMetric = Literal["utilization", "cpu"]
DeploymentType = Literal["managed", "kubernetes"]


# ---------------------------------------------------------------- settings


@dataclass(frozen=True, kw_only=True)
class RequestSettings:
    """``request_settings`` of a deployment, with Azure's defaults."""

    request_timeout_ms: int = 5000
    max_concurrent_requests_per_instance: int = 1
    max_queue_wait_ms: int = 500


@dataclass(frozen=True, kw_only=True)
class ProbeSettings:
    """A liveness or readiness probe, with Azure's defaults (seconds, counts)."""

    initial_delay: float = 10
    period: float = 10
    timeout: float = 2
    success_threshold: int = 1
    failure_threshold: int = 30


@dataclass(frozen=True, kw_only=True)
class AutoscalePolicy:
    """Flightdeck's target-utilization autoscale policy (the seed's ``scale_settings``).

    ``metric`` is ``utilization`` (in-flight requests over capacity) or ``cpu``.
    ``polling_interval`` and ``scale_down_delay`` are in seconds.
    """

    min_instances: int
    max_instances: int
    target_utilization_percentage: int = 70
    polling_interval: int = 60
    scale_down_delay: int = 300
    metric: ScaleMetric = "utilization"


# ---------------------------------------------------------------- specs


@dataclass(frozen=True, kw_only=True)
class EndpointSpec:
    """An endpoint as its YAML describes it."""

    name: str
    auth_mode: AuthMode = "key"
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    source_file: str | None = None
    #: Settings only a cloud platform acts on, as the YAML gave them (``compute``,
    #: ``identity``, ``public_network_access``); the local platform names them in a warning.
    cloud_settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ModelRef:
    """A deployment's model: a registered one (name and version) or a local path."""

    name: str | None = None
    version: str | None = None
    path: str | None = None
    #: Azure's model type: ``custom_model``, ``mlflow_model``, ``triton_model`` (None: not given).
    type: str | None = None

    @property
    def registered(self) -> bool:
        """True when the model is a registered ``azureml:name:version`` reference."""
        return self.path is None and self.name is not None

    def display(self) -> str:
        """``name:version`` for a registered model, the path otherwise."""
        if self.registered:
            return f"{self.name}:{self.version}"
        return self.path or ""


@dataclass(frozen=True, kw_only=True)
class EnvironmentSpec:
    """A deployment's environment: a registered reference, or an image and a conda file."""

    registered: str | None = None
    image: str | None = None
    conda_file: Mapping[str, Any] | None = None
    #: A custom container's routes (``liveness_route``, ``readiness_route``, ``scoring_route``).
    inference_config: Mapping[str, Any] | None = None

    def display(self) -> str:
        """A short description for listings."""
        if self.registered:
            return f"azureml:{self.registered}"
        return self.image or ("conda" if self.conda_file else "")


@dataclass(frozen=True, kw_only=True)
class ResourceSettings:
    """A Kubernetes deployment's ``resources``: Kubernetes quantities as given
    (``cpu: "0.2"``, ``memory: 200Mi``, ``nvidia.com/gpu: "1"``)."""

    requests: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DeploymentSpec:
    """A deployment as its YAML (or a clone with another model) describes it.

    Paths are absolute, resolved against the YAML file's folder as ``az ml`` does.
    """

    name: str
    endpoint_name: str
    model: ModelRef | None = None
    code_path: str | None = None
    scoring_script: str | None = None
    environment: EnvironmentSpec | None = None
    instance_type: str = "Standard_DS3_v2"
    instance_count: int = 1
    request_settings: RequestSettings = field(default_factory=RequestSettings)
    liveness_probe: ProbeSettings = field(default_factory=ProbeSettings)
    readiness_probe: ProbeSettings = field(default_factory=ProbeSettings)
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    autoscale: AutoscalePolicy | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    source_file: str | None = None
    #: ``managed`` or ``kubernetes`` (the YAML's ``type``).
    deployment_type: DeploymentType = "managed"
    #: A Kubernetes deployment's ``resources`` (``requests`` and ``limits``: cpu, memory, ...).
    resources: ResourceSettings | None = None
    #: Settings only a cloud platform acts on, as the YAML gave them (``app_insights_enabled``,
    #: ``data_collector``, ``egress_public_network_access``, ...); named in a warning locally.
    cloud_settings: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- state


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """An endpoint as a backend reports it."""

    name: str
    auth_mode: AuthMode
    scoring_uri: str
    swagger_uri: str | None = None
    traffic: Mapping[str, int] = field(default_factory=dict)
    mirror_traffic: Mapping[str, int] = field(default_factory=dict)
    provisioning_state: str = "Succeeded"
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class InstanceStatus:
    """One instance of a deployment: ``starting``, ``ready``, ``unhealthy``, ``restarting``..."""

    name: str
    state: str
    restarts: int = 0


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """A deployment as a backend reports it."""

    name: str
    endpoint_name: str
    model: str | None = None
    instance_type: str = "Standard_DS3_v2"
    instance_count: int = 1
    provisioning_state: str = "Succeeded"
    request_settings: RequestSettings = field(default_factory=RequestSettings)
    liveness_probe: ProbeSettings = field(default_factory=ProbeSettings)
    readiness_probe: ProbeSettings = field(default_factory=ProbeSettings)
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    environment: str | None = None
    environment_spec: EnvironmentSpec | None = None
    code_path: str | None = None
    scoring_script: str | None = None
    autoscale: AutoscalePolicy | None = None
    instances: tuple[InstanceStatus, ...] = ()

    @property
    def ready_instances(self) -> int:
        """How many instances are in rotation."""
        return sum(1 for i in self.instances if i.state == "ready")


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """What a caller needs to call the scoring URI."""

    auth_mode: AuthMode
    primary_key: str | None = None
    secondary_key: str | None = None
    access_token: str | None = None
    expiry_time_utc: datetime | None = None
    refresh_after_time_utc: datetime | None = None

    def bearer(self) -> str:
        """The value to send as ``Authorization: Bearer <value>``."""
        return self.primary_key or self.access_token or ""


@dataclass(frozen=True, kw_only=True)
class InvokeResult:
    """A scoring call's answer, as the router gave it."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def deployment(self) -> str | None:
        """The deployment that answered (the ``azureml-model-deployment`` header)."""
        for key, value in self.headers.items():
            if key.lower() == "azureml-model-deployment":
                return value
        return None


@dataclass(frozen=True, kw_only=True)
class RegisteredModel:
    """A registered model version."""

    name: str
    version: str
    path: str
    description: str | None = None
    created_at: datetime | None = None
    #: Hidden from ``model list`` unless asked for; deployments still resolve it (as Azure).
    archived: bool = False


# ---------------------------------------------------------------- metrics


#: Status codes the scoring URI answers when the model failed: 408 (it took longer than
#: ``request_timeout_ms``) and 424 (it answered non-200). Counted as errors like 5xx.
MODEL_FAILURES: tuple[str, ...] = ("408", "424")


@dataclass(frozen=True, kw_only=True)
class MinuteMetrics:
    """One deployment's metrics for one minute (or, as a window total, for the window).

    Names follow Azure Monitor: ``RequestsPerMinute`` is ``requests`` (split by
    status code in ``requests_by_status``), ``RequestLatency_P99`` is
    ``latency_p99_ms``, and so on. ``None`` means no data (no requests, no sample).
    """

    timestamp: datetime
    requests: int = 0
    requests_by_status: Mapping[str, int] = field(default_factory=dict)
    latency_p50_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    cpu_utilization_percentage: float | None = None
    cpu_memory_utilization_percentage: float | None = None
    deployment_capacity: float | None = None

    @property
    def errors_5xx(self) -> int:
        """Requests answered with a 5xx status."""
        return sum(n for code, n in self.requests_by_status.items() if code.startswith("5"))

    @property
    def errors_4xx(self) -> int:
        """Requests answered with a 4xx status."""
        return sum(n for code, n in self.requests_by_status.items() if code.startswith("4"))

    def failures(self, *, include_4xx: bool = False) -> int:
        """Failed requests: 5xx, and the scoring URI's answers for a failing model, 408 (it
        took longer than ``request_timeout_ms``) and 424 (it answered non-200), which are
        what a model's own 500 becomes (``MODEL_FAILURES``); every 4xx with ``include_4xx``."""
        if include_4xx:
            return self.errors_5xx + self.errors_4xx
        by_status = self.requests_by_status
        return self.errors_5xx + sum(by_status.get(code, 0) for code in MODEL_FAILURES)


@dataclass(frozen=True, kw_only=True)
class DeploymentMetrics:
    """A deployment's metrics over a window: one row a minute, and the window's total."""

    deployment: str
    minutes: tuple[MinuteMetrics, ...]
    window: MinuteMetrics


@dataclass(frozen=True, kw_only=True)
class MetricsSnapshot:
    """An endpoint's metrics, per deployment, for ``[start, end)``."""

    endpoint: str
    start: datetime
    end: datetime
    deployments: Mapping[str, DeploymentMetrics] = field(default_factory=dict)


# ---------------------------------------------------------------- wire format


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(cls: Any) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        adapter = _ADAPTERS[cls] = TypeAdapter(cls)
    return adapter


def to_json(value: Any) -> Any:
    """A domain value (dataclass, list of them, ...) as plain JSON values."""
    return _adapter(type(value)).dump_python(value, mode="json")


def from_json(cls: type[T], data: Any) -> T:
    """Rebuild a domain value of type ``cls`` from plain JSON values (validated)."""
    result: T = _adapter(cls).validate_python(data)
    return result
