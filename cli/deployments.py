"""``flightdeck online-deployment``: the verbs of ``az ml online-deployment``.

    flightdeck online-deployment create --file blue-deployment.yml [--all-traffic]
    flightdeck online-deployment update --file blue-deployment.yml [--set k=v ...]
    flightdeck online-deployment create|update --file F --server fast|azmlinfsrv
    flightdeck online-deployment update --name blue --endpoint-name product-recommender \
        --set instance_count=3
    flightdeck online-deployment update --name blue --endpoint-name product-recommender \
        --set scale_settings.min_instances=1 --set scale_settings.max_instances=3
    flightdeck online-deployment update -n blue -e product-recommender \
        --set request_settings.request_timeout_ms=3000 environment_variables.MODE=fast
    flightdeck online-deployment show --name blue --endpoint-name product-recommender
    flightdeck online-deployment list --endpoint-name product-recommender
    flightdeck online-deployment get-logs --name blue --endpoint-name product-recommender \
        [--lines 50] [--container inference-server|storage-initializer]
    flightdeck online-deployment delete --name green --endpoint-name product-recommender

Progress lines go to stderr as they come; the deployment's JSON to stdout. ``--server`` sets
``FLIGHTDECK_SERVER`` in the spec's environment variables: the local platform's inference
server for its instances (azmlinfsrv by default, or fast: fastserve).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

import yaml

from cli import messages
from cli.azargs import add_generic_update, add_no_wait, az_globals, not_meaningful, yaml_edit
from cli.azexamples import AZ_EXAMPLES
from cli.azhelp import az_style
from cli.backends import backend_options, run_with_backend
from cli.entities import deployment_dict
from cli.output import emit, print_text, progress_line, say
from cli.scale_settings import split_scale_settings, updated_policy
from deploy.backend import Backend
from deploy.errors import ConflictError, NotFoundError, SpecError, ValidationError
from deploy.local.instances.servers import SERVER_ENV, SERVERS
from deploy.rules import MAX_INSTANCES_PER_DEPLOYMENT
from deploy.specs import (
    SETTABLE_DEPLOYMENT_KEYS,
    apply_overrides,
    deployment_settings,
    load_deployment_spec,
    with_deployment_settings,
)
from deploy.types import Deployment, DeploymentSpec, ModelRef

__all__ = ["register"]


_FILE_HELP = (
    "Local path to the YAML file containing the Azure ML online-deployment specification. "
    "The YAML reference docs for online-deployment can be found at: "
    "https://aka.ms/ml-cli-v2-deployment-managed-online-yaml-reference"
)


def register(subparsers: Any) -> None:
    """Add ``online-deployment`` and its verbs."""
    group = subparsers.add_parser(
        "online-deployment",
        help="Manage Azure ML online deployments.",
        description="Manage Azure ML online deployments (here: on the local platform, or on "
        "Azure with --backend azure). Azure ML deployments provide compute resources for "
        "hosting the model; each endpoint can have several, with the traffic split between "
        "them.",
    )
    verbs = group.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    common = [backend_options(az=True), az_globals()]

    create = verbs.add_parser("create", parents=common, help="Create a deployment.")
    _names(create, required=False)
    create.add_argument("--file", "-f", required=True, help=_FILE_HELP)
    create.add_argument(
        "--all-traffic",
        action="store_true",
        help="Sets endpoint traffic 100%% to this deployment after successful creation, "
        "does not work with --no-wait",
    )
    create.add_argument(
        "--skip-script-validation",
        action="store_true",
        help="Allows user to bypass deployment scoring script validation.",
    )
    add_generic_update(create)
    add_no_wait(create)
    _server_option(create)
    _not_here(create)
    not_meaningful(create, "--package-model", why=messages.PACKAGE_MODEL_NOT_HERE)
    create.set_defaults(handler=_create)

    update = verbs.add_parser("update", parents=common, help="Update a deployment.")
    _names(update, required=False)
    update.add_argument("--file", "-f", help=_FILE_HELP)
    update.add_argument(
        "--skip-script-validation",
        action="store_true",
        help="Allows user to bypass deployment scoring script validation.",
    )
    add_generic_update(update)
    add_no_wait(update)
    _server_option(update)
    _not_here(update)
    update.set_defaults(handler=_update)

    show = verbs.add_parser("show", parents=common, help="Show a deployment.")
    _names(show)
    not_meaningful(show, "--web", why=messages.WEB_NOT_HERE)
    show.set_defaults(handler=_show)

    listing = verbs.add_parser("list", parents=common, help="List deployments.")
    listing.add_argument("--endpoint-name", "-e", required=True, help="Name of the endpoint")
    listing.set_defaults(handler=_list)

    delete = verbs.add_parser("delete", parents=common, help="Delete a deployment.")
    _names(delete)
    delete.add_argument("--yes", "-y", action="store_true", help="Do not prompt for confirmation.")
    add_no_wait(delete)
    delete.set_defaults(handler=_delete)

    logs = verbs.add_parser(
        "get-logs", parents=common, help="Get the container logs for an online deployment."
    )
    _names(logs)
    logs.add_argument(
        "--lines", "-l", type=int, default=5000, help="The maximum number of lines to tail."
    )
    logs.add_argument(
        "--container",
        "-c",
        choices=("inference-server", "storage-initializer"),
        default="inference-server",
        help="The type of container from which to retrieve logs. Allowed values: "
        "inference-server, storage-initializer.",
    )
    logs.set_defaults(handler=_get_logs)
    az_style(group, AZ_EXAMPLES["online-deployment"])


def _not_here(parser: argparse.ArgumentParser) -> None:
    """az ml's flags for its Docker-based --local and for the studio."""
    not_meaningful(parser, "--web", why=messages.WEB_NOT_HERE)
    not_meaningful(parser, "--vscode-debug", why=messages.VSCODE_DEBUG_NOT_HERE)
    not_meaningful(parser, "--local-enable-gpu", why=messages.LOCAL_GPU_NOT_HERE)


def _server_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        choices=SERVERS,
        help=f"the local platform's inference server (sets {SERVER_ENV}; default azmlinfsrv)",
    )


def _overrides(args: argparse.Namespace) -> list[str]:
    """``--set`` items, plus ``--server`` as the FLIGHTDECK_SERVER variable."""
    server = [f"environment_variables.{SERVER_ENV}={args.server}"] if args.server else []
    return [*args.set, *server]


def _names(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument("--name", "-n", required=required, help="Name of the deployment.")
    parser.add_argument(
        "--endpoint-name", "-e", required=required, help="Name of the online endpoint"
    )


def _spec(args: argparse.Namespace) -> DeploymentSpec:
    """The deployment YAML with --set, --add, --remove, then --name and --endpoint-name."""
    return load_deployment_spec(
        args.file,
        overrides=_overrides(args),
        edit=yaml_edit(args, name=args.name, endpoint_name=args.endpoint_name),
    )


# ---------------------------------------------------------------- handlers


def _create(args: argparse.Namespace) -> int:
    spec = _spec(args)
    if args.all_traffic and args.no_wait:
        say(messages.NO_WAIT_ALL_TRAFFIC.format(name=spec.name))

    async def work(backend: Backend) -> Deployment:
        endpoint = await backend.get_endpoint(spec.endpoint_name)
        try:
            await backend.get_deployment(spec.endpoint_name, spec.name)
        except NotFoundError:
            pass
        else:
            raise ConflictError(messages.deployment_exists(spec.name, spec.endpoint_name))
        deployment = await backend.create_or_update_deployment(spec, progress=progress_line)
        if args.all_traffic and not args.no_wait:
            others = {d.name: 0 for d in await backend.list_deployments(spec.endpoint_name)}
            mirror = {k: v for k, v in endpoint.mirror_traffic.items() if k != spec.name}
            await backend.set_traffic(
                spec.endpoint_name, others | {spec.name: 100}, mirror_traffic=mirror
            )
            await progress_line(f"Traffic: {spec.name}=100")
        return deployment

    emit(args, deployment_dict(run_with_backend(args, work)))
    return 0


def _update(args: argparse.Namespace) -> int:
    if args.file:
        spec = _spec(args)

        async def rollout(backend: Backend) -> Deployment:
            await backend.get_deployment(spec.endpoint_name, spec.name)  # must exist
            return await backend.create_or_update_deployment(spec, progress=progress_line)

        emit(args, deployment_dict(run_with_backend(args, rollout)))
        return 0
    if not args.name or not args.endpoint_name:
        raise ValidationError("Give --file F, or --name D --endpoint-name N --set key=value.")
    if args.server:
        raise ValidationError(messages.SERVER_NEEDS_FILE)
    rest, settings = split_scale_settings(args.set)
    keys = _top_keys(rest, args.add, args.remove)
    unknown = sorted(keys - set(SETTABLE_DEPLOYMENT_KEYS))
    if unknown:
        raise ValidationError(messages.set_not_supported(unknown))
    if keys - {"instance_count"} or args.add or args.remove:
        return _update_settings(args, rest, settings)
    count = _instance_count(rest) if rest or not settings else None
    if count is not None and not 1 <= count <= MAX_INSTANCES_PER_DEPLOYMENT:
        raise ValidationError(
            f"instance_count must be between 1 and {MAX_INSTANCES_PER_DEPLOYMENT}, not {count}."
        )

    async def scale(backend: Backend) -> Deployment:
        deployment = await backend.get_deployment(args.endpoint_name, args.name)
        if settings:  # checked in full before anything changes
            policy = updated_policy(deployment.autoscale, settings)
            deployment = await backend.set_autoscale(args.endpoint_name, args.name, policy)
        if count is not None:
            deployment = await backend.scale(
                args.endpoint_name, args.name, count, progress=progress_line
            )
        return deployment

    emit(args, deployment_dict(run_with_backend(args, scale)))
    return 0


def _top_keys(items: list[str], adds: list[list[str]], removes: list[list[str]]) -> set[str]:
    """The top-level YAML keys ``--set`` items and ``--add``/``--remove`` paths touch."""
    paths = [item.partition("=")[0] for item in items] + [p[0] for p in adds + removes if p]
    return {path.strip().split(".", 1)[0] for path in paths}


def _update_settings(args: argparse.Namespace, rest: list[str], settings: dict[str, str]) -> int:
    """``update --name --endpoint-name --set/--add/--remove`` on settings beyond the count:
    az's generic update. The live deployment's settings are loaded, changed and checked
    (azure-ai-ml's schema) before the deployment is updated with them; bad input changes
    nothing."""

    async def work(backend: Backend) -> Deployment:
        live = await backend.get_deployment(args.endpoint_name, args.name)
        data = apply_overrides(deployment_settings(live), rest, file="--set")
        for item in rest:  # variables are text: as az hands them to the schema, not YAML's on=True
            key, _, value = item.partition("=")
            if key.strip().startswith(_VARIABLES):
                data["environment_variables"][key.strip().removeprefix(_VARIABLES)] = value
        data = yaml_edit(args)(data)
        ref = _model_ref(live.model)
        current = await backend.clone_deployment_spec(
            args.endpoint_name, args.name, name=args.name, model=ref or ModelRef()
        )
        spec = with_deployment_settings(replace(current, model=ref), data)
        if settings:
            spec = replace(spec, autoscale=updated_policy(live.autoscale, settings))
        return await backend.create_or_update_deployment(spec, progress=progress_line)

    emit(args, deployment_dict(run_with_backend(args, work)))
    return 0


_VARIABLES = "environment_variables."


def _model_ref(model: str | None) -> ModelRef | None:
    """The live deployment's model (``name:version`` when registered, else a path) as a ref."""
    if model is None:
        return None
    text = model.removeprefix("azureml:")
    if text.startswith("/") or ":" not in text:
        return ModelRef(path=text)
    name, _, version = text.rpartition(":")
    return ModelRef(name=name, version=version)


def _instance_count(overrides: list[str]) -> int:
    """The instance_count of ``--set`` items; other keys cannot be set without a file."""
    values: dict[str, str] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpecError(f"'{item}' is not key=value", file="--set", key="--set")
        values[key.strip()] = value.strip()
    others = sorted(key for key in values if key != "instance_count")
    if others:
        raise ValidationError(messages.set_not_supported(others))
    if "instance_count" not in values:
        raise ValidationError("Nothing to update: give --set instance_count=K (or --file F).")
    parsed = yaml.safe_load(values["instance_count"]) if values["instance_count"] else None
    if not isinstance(parsed, int) or isinstance(parsed, bool):
        raise ValidationError(
            f"instance_count must be a whole number, not '{values['instance_count']}'."
        )
    return parsed


def _show(args: argparse.Namespace) -> int:
    deployment = run_with_backend(
        args, lambda backend: backend.get_deployment(args.endpoint_name, args.name)
    )
    emit(args, deployment_dict(deployment))
    return 0


def _list(args: argparse.Namespace) -> int:
    deployments = run_with_backend(
        args, lambda backend: backend.list_deployments(args.endpoint_name)
    )
    emit(args, [deployment_dict(d) for d in deployments])
    return 0


def _delete(args: argparse.Namespace) -> int:
    if not args.yes and sys.stdin.isatty():
        answer = input(f"Delete deployment '{args.name}' of '{args.endpoint_name}'? (y/n): ")
        if answer.strip().lower() not in ("y", "yes"):
            say(messages.DELETE_ABORTED)
            return 1

    async def work(backend: Backend) -> None:
        await backend.get_deployment(args.endpoint_name, args.name)  # missing: exit 3 at once
        await backend.delete_deployment(args.endpoint_name, args.name, progress=progress_line)

    run_with_backend(args, work)
    return 0


def _get_logs(args: argparse.Namespace) -> int:
    if args.lines < 1:
        raise ValidationError("--lines must be at least 1.")
    text = run_with_backend(
        args,
        lambda backend: backend.get_logs(
            args.endpoint_name, args.name, lines=args.lines, container=args.container
        ),
    )
    print_text(text)
    return 0
