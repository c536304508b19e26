"""The Backend interface: the Azure ML operations Flightdeck uses, as async methods.

Three implementations: ``deploy.local.LocalBackend`` (the local platform daemon's
client), ``deploy.azure.AzureMLBackend`` (azure-ai-ml) and ``deploy.memory.MemoryBackend``
(in memory, for tests). They are chosen by name through ``deploy.registry``. Every
method raises ``FlightdeckError`` subclasses for known failures (``NotFoundError``,
``ValidationError``...).

Usage::

    backend = create_backend("local", settings)
    await backend.create_or_update_endpoint(load_endpoint_spec("endpoint.yml"))
    await backend.create_or_update_deployment(spec, progress=print_line)
    await backend.set_traffic("product-recommender", {"blue": 90, "green": 10})
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import timedelta
from typing import ClassVar

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
    ModelRef,
    ProgressCallback,
    RegisteredModel,
)

__all__ = ["Backend"]


class Backend(ABC):
    """Operations on managed online endpoints, mirroring ``az ml`` and MLClient."""

    #: The name the registry knows this backend by.
    name: ClassVar[str]

    #: True when scoring URIs must be loopback addresses (load tests check it).
    loopback_only: ClassVar[bool] = False

    #: The longest window ``metrics`` answers for: an hour unless the platform keeps more.
    metrics_retention: ClassVar[timedelta] = timedelta(minutes=60)

    # ------------------------------------------------------------ endpoints

    @abstractmethod
    async def list_endpoints(self) -> list[Endpoint]:
        """Every endpoint."""

    @abstractmethod
    async def get_endpoint(self, name: str) -> Endpoint:
        """One endpoint; ``NotFoundError`` when it does not exist."""

    @abstractmethod
    async def create_or_update_endpoint(
        self, spec: EndpointSpec, *, progress: ProgressCallback | None = None
    ) -> Endpoint:
        """Create the endpoint, or update its description, tags (and auth mode on create)."""

    @abstractmethod
    async def delete_endpoint(self, name: str, *, progress: ProgressCallback | None = None) -> None:
        """Delete the endpoint with its deployments."""

    @abstractmethod
    async def set_traffic(
        self,
        endpoint: str,
        traffic: Mapping[str, int] | None = None,
        *,
        mirror_traffic: Mapping[str, int] | None = None,
    ) -> Endpoint:
        """Set the live split and/or the mirror (``None`` leaves that part unchanged).

        Weights sum to 0 or 100 and name existing deployments; a mirror has one
        target at no more than 50% that takes no live traffic.
        """

    @abstractmethod
    async def get_credentials(self, endpoint: str) -> Credentials:
        """Keys (auth_mode key) or a fresh token (aml_token) for the scoring URI."""

    @abstractmethod
    async def regenerate_keys(self, endpoint: str, *, key_type: str = "primary") -> Credentials:
        """Regenerate the primary or secondary key."""

    @abstractmethod
    async def invoke(
        self, endpoint: str, body: bytes, *, deployment: str | None = None
    ) -> InvokeResult:
        """Call the scoring URI with the endpoint's credentials (any status is returned)."""

    @abstractmethod
    async def metrics(self, endpoint: str, window: timedelta) -> MetricsSnapshot:
        """Per-deployment, per-minute metrics for the last ``window`` (1 minute to
        ``metrics_retention``)."""

    # ------------------------------------------------------------ deployments

    @abstractmethod
    async def list_deployments(self, endpoint: str) -> list[Deployment]:
        """Every deployment of an endpoint."""

    @abstractmethod
    async def get_deployment(self, endpoint: str, name: str) -> Deployment:
        """One deployment; ``NotFoundError`` when it (or its endpoint) does not exist."""

    @abstractmethod
    async def create_or_update_deployment(
        self, spec: DeploymentSpec, *, progress: ProgressCallback | None = None
    ) -> Deployment:
        """Create or update a deployment and wait until it serves (or fails).

        On failure of an update, the previous version keeps serving and
        ``DeploymentFailedError`` carries the instances' last log lines.
        """

    @abstractmethod
    async def delete_deployment(
        self, endpoint: str, name: str, *, progress: ProgressCallback | None = None
    ) -> None:
        """Delete a deployment; refused while it takes live traffic."""

    @abstractmethod
    async def scale(
        self,
        endpoint: str,
        deployment: str,
        instance_count: int,
        *,
        progress: ProgressCallback | None = None,
    ) -> Deployment:
        """Set a fixed instance count."""

    @abstractmethod
    async def set_autoscale(
        self, endpoint: str, deployment: str, policy: AutoscalePolicy | None
    ) -> Deployment:
        """Set (or with ``None`` remove) the deployment's autoscale policy."""

    @abstractmethod
    async def get_logs(
        self,
        endpoint: str,
        deployment: str,
        *,
        lines: int = 100,
        container: ContainerType = "inference-server",
    ) -> str:
        """The last ``lines`` lines of a deployment's container logs."""

    # ------------------------------------------------------------ models

    @abstractmethod
    async def register_model(
        self, name: str, version: str, path: str, *, description: str | None = None
    ) -> RegisteredModel:
        """Register a model version from a local file or folder."""

    @abstractmethod
    async def list_models(self) -> list[RegisteredModel]:
        """Every registered model version."""

    @abstractmethod
    async def get_model(self, name: str, version: str) -> RegisteredModel:
        """One registered model version."""

    @abstractmethod
    async def set_model_archived(self, name: str, version: str | None, *, archived: bool) -> None:
        """Archive (``archived=True``) or restore a model version, or every version at once.

        As ``az ml model archive``: with ``version=None`` the model as a whole (Azure's model
        container) is archived, and then no single version of it can be restored. An archived
        version is still listed by ``list_models`` (with ``archived`` set; the caller hides
        it) and a deployment of ``azureml:name:version`` still resolves it. ``NotFoundError``
        when the model (version) is not registered, ``ValidationError`` restoring one version
        of a model archived as a whole.
        """

    # ------------------------------------------------------------ derived

    async def clone_deployment_spec(
        self,
        endpoint: str,
        source: str,
        *,
        name: str,
        model: ModelRef,
        instance_type: str | None = None,
        instance_count: int | None = None,
    ) -> DeploymentSpec:
        """A spec for deployment ``name``: ``source``'s settings with another model.

        What ``/deploy <endpoint> <name> --model m:v`` deploys. Backends fill
        ``Deployment.code_path``, ``scoring_script`` and ``environment_spec`` so that
        this default works for all of them.
        """
        live = await self.get_deployment(endpoint, source)
        return DeploymentSpec(
            name=name,
            endpoint_name=endpoint,
            model=model,
            code_path=live.code_path,
            scoring_script=live.scoring_script,
            environment=live.environment_spec,
            instance_type=instance_type or live.instance_type,
            instance_count=instance_count or live.instance_count,
            request_settings=live.request_settings,
            liveness_probe=live.liveness_probe,
            readiness_probe=live.readiness_probe,
            environment_variables=dict(live.environment_variables),
            autoscale=live.autoscale,
        )

    # ------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release connections. The default does nothing."""
