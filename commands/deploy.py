"""``/deploy``: a new or updated deployment, cloned with another model or read from a spec file.

    /deploy <endpoint> <deployment> --model <name>:<version>
            [--instance-type T] [--instance-count K] [--server fast|azmlinfsrv]
    /deploy --spec <file> [--server fast|azmlinfsrv]

A clone takes the settings of the deployment itself when it exists, else of the
endpoint's live deployment (the one with the most traffic); a new deployment
starts at 0% traffic. Spec files are read from the configured folder only. ``--server``
picks the inference server of the local platform (``FLIGHTDECK_SERVER`` in the spec's
environment variables).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from commands import messages
from commands.args import is_help, parse_args
from commands.errors import UsageError
from deploy.backend import Backend
from deploy.errors import FlightdeckError, ValidationError
from deploy.local.instances.servers import SERVER_ENV, SERVERS
from deploy.rules import MAX_INSTANCES_PER_DEPLOYMENT, validate_name
from deploy.specs import load_deployment_spec
from deploy.types import (
    Deployment,
    DeploymentSpec,
    Endpoint,
    ModelRef,
    ProgressCallback,
    from_json,
    to_json,
)

__all__ = [
    "HELP",
    "DeployFromModel",
    "DeployFromSpec",
    "DeployHelp",
    "DeployPlan",
    "execute",
    "live_share",
    "parse",
    "plan",
    "resolve_spec_file",
]

HELP = messages.DEPLOY_HELP
SHIFT_PERCENT = 10

SpecLoader = Callable[[Path], DeploymentSpec]


@dataclass(frozen=True, kw_only=True)
class DeployHelp:
    """``/deploy help``."""

    writes: ClassVar[bool] = False


@dataclass(frozen=True, kw_only=True)
class DeployFromModel:
    """``/deploy <endpoint> <deployment> --model name:version ...``."""

    writes: ClassVar[bool] = True
    endpoint: str
    deployment: str
    model: ModelRef
    instance_type: str | None = None
    instance_count: int | None = None
    #: ``FLIGHTDECK_SERVER`` for the deployment (``None``: as the cloned one has it).
    server: str | None = None
    dry_run: bool = False
    force: bool = False


@dataclass(frozen=True, kw_only=True)
class DeployFromSpec:
    """``/deploy --spec <file>``."""

    writes: ClassVar[bool] = True
    spec_file: str
    #: ``FLIGHTDECK_SERVER`` for the deployment (``None``: as the file has it).
    server: str | None = None
    dry_run: bool = False
    force: bool = False


DeployRequest = DeployHelp | DeployFromModel | DeployFromSpec


def parse(text: str) -> DeployRequest:
    """The typed request for ``text``; ``UsageError`` naming what is wrong."""
    if is_help(text):
        return DeployHelp()
    args = parse_args(
        text,
        help_text=HELP,
        options={"--model", "--instance-type", "--instance-count", "--spec", "--server"},
        flags={"--dry-run", "--force"},
    )
    dry_run, force = "--dry-run" in args.flags, "--force" in args.flags
    server = args.options.get("--server")
    if server is not None and server not in SERVERS:
        raise args.usage(messages.DEPLOY_BAD_SERVER.format(server=server))
    if "--spec" in args.options:
        alone = ("--spec", "--server")
        extra = [*args.positionals, *(o for o in args.options if o not in alone)]
        if extra:
            raise args.usage(messages.DEPLOY_SPEC_ALONE.format(extra=" ".join(extra)))
        return DeployFromSpec(
            spec_file=args.options["--spec"], server=server, dry_run=dry_run, force=force
        )
    if len(args.positionals) < 2:
        raise args.usage(messages.DEPLOY_MISSING_NAMES)
    if len(args.positionals) > 2:
        raise args.usage(messages.UNEXPECTED.format(words=" ".join(args.positionals[2:])))
    endpoint, deployment = args.positionals
    for kind, name in (("endpoint", endpoint), ("deployment", deployment)):
        try:
            validate_name(kind, name)
        except ValidationError as exc:
            raise args.usage(exc.message) from None
    if "--model" not in args.options:
        raise args.usage(messages.DEPLOY_NO_MODEL)
    return DeployFromModel(
        endpoint=endpoint,
        deployment=deployment,
        model=_model(args.options["--model"]),
        instance_type=args.options.get("--instance-type"),
        instance_count=args.int_option(
            "--instance-count", default=None, low=1, high=MAX_INSTANCES_PER_DEPLOYMENT
        ),
        server=server,
        dry_run=dry_run,
        force=force,
    )


def _model(raw: str) -> ModelRef:
    name, sep, version = raw.removeprefix("azureml:").partition(":")
    if not sep or not name or not version or ":" in version:
        raise UsageError(messages.DEPLOY_BAD_MODEL.format(model=raw), help_text=HELP)
    return ModelRef(name=name, version=version)


@dataclass(frozen=True, kw_only=True)
class DeployPlan:
    """What will be deployed, checked against the endpoint."""

    spec: DeploymentSpec
    exists: bool
    source: str | None = None
    spec_file: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (stored with an approval request)."""
        return {
            "spec": to_json(self.spec),
            "exists": self.exists,
            "source": self.source,
            "spec_file": self.spec_file,
        }

    @classmethod
    def from_json(cls, data: Any) -> DeployPlan:
        """Rebuild from ``to_json``'s output."""
        return cls(
            spec=from_json(DeploymentSpec, data["spec"]),
            exists=bool(data["exists"]),
            source=data.get("source"),
            spec_file=data.get("spec_file"),
        )


def live_share(deploy_plan: DeployPlan, endpoint: Endpoint) -> tuple[int, int]:
    """The live and mirrored traffic (percent) the planned deployment takes now: ``(0, 0)``
    for a new one or one at 0%, where a deploy changes no answer anyone gets."""
    if not deploy_plan.exists:
        return 0, 0
    name = deploy_plan.spec.name
    return endpoint.traffic.get(name, 0), endpoint.mirror_traffic.get(name, 0)


async def plan(
    backend: Backend,
    request: DeployFromModel | DeployFromSpec,
    *,
    spec_folder: Path | None,
    load_spec: SpecLoader = load_deployment_spec,
) -> DeployPlan:
    """Check the request: endpoint, model and source deployment exist; the spec file loads."""
    if isinstance(request, DeployFromSpec):
        file = resolve_spec_file(spec_folder, request.spec_file)
        spec = await asyncio.to_thread(load_spec, file)
        names = await _deployment_names(backend, spec.endpoint_name)
        await _check_model(backend, spec.model)
        spec = _with_server(spec, request.server)
        return DeployPlan(spec=spec, exists=spec.name in names, spec_file=request.spec_file)
    names = await _deployment_names(backend, request.endpoint)
    exists = request.deployment in names
    source = request.deployment if exists else await _live_deployment(backend, request.endpoint)
    await _check_model(backend, request.model)
    spec = await backend.clone_deployment_spec(
        request.endpoint,
        source,
        name=request.deployment,
        model=request.model,
        instance_type=request.instance_type,
        instance_count=request.instance_count,
    )
    return DeployPlan(spec=_with_server(spec, request.server), exists=exists, source=source)


def _with_server(spec: DeploymentSpec, server: str | None) -> DeploymentSpec:
    if server is None:
        return spec
    return replace(spec, environment_variables={**spec.environment_variables, SERVER_ENV: server})


async def _deployment_names(backend: Backend, endpoint: str) -> set[str]:
    await backend.get_endpoint(endpoint)
    return {d.name for d in await backend.list_deployments(endpoint)}


async def _check_model(backend: Backend, model: ModelRef | None) -> None:
    if model is not None and model.registered and model.name and model.version:
        await backend.get_model(model.name, model.version)


async def _live_deployment(backend: Backend, endpoint: str) -> str:
    found = await backend.get_endpoint(endpoint)
    live = sorted(found.traffic.items(), key=lambda item: (-item[1], item[0]))
    if live and live[0][1] > 0:
        return live[0][0]
    deployments = await backend.list_deployments(endpoint)
    if len(deployments) == 1:
        return deployments[0].name
    raise ValidationError(messages.DEPLOY_NO_SOURCE.format(endpoint=endpoint))


def resolve_spec_file(folder: Path | None, name: str) -> Path:
    """``name`` inside the spec folder (``.yml`` optional); never a path outside it."""
    if folder is None:
        raise FlightdeckError(messages.DEPLOY_NO_SPEC_FOLDER)
    root = folder.resolve()
    for candidate in (name, f"{name}.yml", f"{name}.yaml"):
        path = (root / candidate).resolve()
        if not path.is_relative_to(root):
            raise ValidationError(messages.DEPLOY_SPEC_OUTSIDE.format(name=name))
        if path.is_file():
            return path
    available = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix in (".yml", ".yaml")
    )
    listing = ", ".join(available[:20]) or messages.NONE
    raise ValidationError(messages.DEPLOY_SPEC_NOT_FOUND.format(name=name, available=listing))


async def execute(
    backend: Backend, deploy_plan: DeployPlan, *, progress: ProgressCallback
) -> tuple[Deployment, Endpoint]:
    """Create or update the deployment (waits until it serves); the endpoint afterwards."""
    deployment = await backend.create_or_update_deployment(deploy_plan.spec, progress=progress)
    endpoint = await backend.get_endpoint(deploy_plan.spec.endpoint_name)
    return deployment, endpoint
