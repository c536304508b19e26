"""``flightdeck online-endpoint``: the verbs of ``az ml online-endpoint``, with its flags.

    flightdeck online-endpoint create --file endpoint.yml [--name N] [--auth-mode key]
    flightdeck online-endpoint update --name N --traffic "blue=90 green=10"
    flightdeck online-endpoint update --name N --mirror-traffic "green=10"
    flightdeck online-endpoint update --name N --set description="v2" tags.team=ml
    flightdeck online-endpoint show --name N [--query scoring_uri -o tsv]
    flightdeck online-endpoint list [-o table]
    flightdeck online-endpoint get-credentials --name N [--query primaryKey -o tsv]
    flightdeck online-endpoint regenerate-keys --name N [--key-type secondary]
    flightdeck online-endpoint invoke --name N --request-file req.json [--deployment-name green]
    flightdeck online-endpoint delete --name N [--yes] [--no-wait]
    flightdeck online-endpoint metrics --name N [--window 5m]

Results print as az ml prints them (``cli.entities``; ``--query``, ``--output``); progress
goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cli import messages
from cli.azargs import (
    UsageError,
    add_generic_update,
    add_no_wait,
    az_globals,
    not_meaningful,
    yaml_edit,
)
from cli.azexamples import AZ_EXAMPLES
from cli.azhelp import az_style
from cli.backends import backend_options, run_with_backend
from cli.entities import credentials_dict, endpoint_dict
from cli.metrics import add_metrics_verb
from cli.output import emit, progress_line, say
from deploy.backend import Backend
from deploy.errors import ConflictError, FlightdeckError, NotFoundError, ValidationError
from deploy.rules import parse_weights
from deploy.specs import (
    apply_overrides,
    endpoint_spec_from_yaml,
    load_endpoint_spec,
    read_spec_file,
)
from deploy.types import Endpoint

__all__ = ["register"]

_FILE_HELP = (
    "Local path to the YAML file containing the Azure ML online-endpoint specification. "
    "The YAML reference docs for online-endpoint can be found at: "
    "https://aka.ms/ml-cli-v2-endpoint-online-yaml-reference"
)
_NAME_HELP = "Name of the online endpoint."


def register(subparsers: Any) -> None:
    """Add ``online-endpoint`` and its verbs."""
    group = subparsers.add_parser(
        "online-endpoint",
        help="Manage Azure ML online endpoints.",
        description="Manage Azure ML online endpoints (here: on the local platform, or on "
        "Azure with --backend azure). Azure ML endpoints provide a simple interface for "
        "creating and managing model deployments. Each endpoint can have one or more "
        "deployments. Online endpoints are for real-time inference on a model.",
    )
    verbs = group.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    common = [backend_options(az=True), az_globals()]

    create = verbs.add_parser("create", parents=common, help="Create an endpoint.")
    create.add_argument("--file", "-f", help=_FILE_HELP)
    create.add_argument("--name", "-n", help=_NAME_HELP)
    create.add_argument(
        "--auth-mode",
        help="Authentication method for the endpoint. Allowed values: key, aml_token. "
        "Default: key.",
    )
    add_generic_update(create)
    add_no_wait(create)
    not_meaningful(create, "--web", "-e", why=messages.WEB_NOT_HERE)
    create.set_defaults(handler=_create)

    update = verbs.add_parser("update", parents=common, help="Update an endpoint.")
    update.add_argument("--name", "-n", help=_NAME_HELP)
    update.add_argument("--file", "-f", help=_FILE_HELP)
    update.add_argument(
        "--traffic",
        "-r",
        "-t",
        help="Space-separated key-value pairs, in quotes, for the traffic settings for the "
        'endpoint, e.g. "blue=90 green=10".',
    )
    update.add_argument(
        "--mirror-traffic",
        help='Directs a duplicate percentage of live traffic to a deployment, e.g. "green=10" '
        '("green=0" or "" stops it).',
    )
    add_generic_update(update)
    add_no_wait(update)
    not_meaningful(update, "--web", "-e", why=messages.WEB_NOT_HERE)
    update.set_defaults(handler=_update)

    show = verbs.add_parser("show", parents=common, help="Show details for an endpoint.")
    show.add_argument("--name", "-n", required=True, help=_NAME_HELP)
    not_meaningful(show, "--web", "-e", why=messages.WEB_NOT_HERE)
    show.set_defaults(handler=_show)

    listing = verbs.add_parser("list", parents=common, help="List endpoints in a workspace.")
    listing.set_defaults(handler=_list)

    delete = verbs.add_parser("delete", parents=common, help="Delete an endpoint.")
    delete.add_argument("--name", "-n", required=True, help=_NAME_HELP)
    delete.add_argument("--yes", "-y", action="store_true", help="Do not prompt for confirmation.")
    add_no_wait(delete)
    delete.set_defaults(handler=_delete)

    credentials = verbs.add_parser(
        "get-credentials",
        parents=common,
        help="List the token/keys for an online endpoint.",
    )
    credentials.add_argument("--name", "-n", required=True, help=_NAME_HELP)
    credentials.set_defaults(handler=_get_credentials)

    regenerate = verbs.add_parser(
        "regenerate-keys",
        parents=common,
        help="Regenerate the keys for an online endpoint.",
    )
    regenerate.add_argument("--name", "-n", required=True, help=_NAME_HELP)
    regenerate.add_argument(
        "--key-type",
        default="primary",
        type=str.lower,
        choices=("primary", "secondary"),
        help="The type of key to regenerate. Allowed values: primary, secondary.",
    )
    add_no_wait(regenerate)
    regenerate.set_defaults(handler=_regenerate_keys)

    invoke = verbs.add_parser(
        "invoke", parents=common, help="Invoke an endpoint (call its scoring URI)."
    )
    invoke.add_argument("--name", "-n", required=True, help=_NAME_HELP)
    invoke.add_argument(
        "--request-file",
        "-r",
        required=True,
        help="Local path to the JSON file containing the request data.",
    )
    invoke.add_argument("--deployment-name", "-d", help="Name of the deployment to target.")
    invoke.set_defaults(handler=_invoke)

    add_metrics_verb(verbs, [backend_options()])
    az_style(group, AZ_EXAMPLES["online-endpoint"])


# ---------------------------------------------------------------- handlers


def _create(args: argparse.Namespace) -> int:
    if not args.file:
        raise UsageError("the following arguments are required: --file/-f")
    spec = load_endpoint_spec(
        args.file,
        overrides=args.set,
        edit=yaml_edit(
            args,
            name=args.name.lower() if args.name else None,
            auth_mode=args.auth_mode.lower() if args.auth_mode else None,
        ),
    )

    async def work(backend: Backend) -> Endpoint:
        try:
            await backend.get_endpoint(spec.name)
        except NotFoundError:
            return await backend.create_or_update_endpoint(spec, progress=progress_line)
        raise ConflictError(messages.endpoint_exists(spec.name))

    endpoint = run_with_backend(args, work)
    if args.no_wait:
        say(
            messages.NO_WAIT_STARTED.format(
                what="Endpoint create", show=f"az ml online-endpoint show -n {spec.name}"
            )
        )
    emit(args, endpoint_dict(endpoint))
    return 0


_TRAFFIC_KEYS = ("traffic", "mirror_traffic")


def _update(args: argparse.Namespace) -> int:
    generic = bool(args.set or args.add or args.remove)
    if not (args.file or generic or args.traffic is not None or args.mirror_traffic is not None):
        raise ValidationError(messages.UPDATE_NEEDS_SOMETHING)
    if not args.name and not args.file:
        raise ValidationError("Name the endpoint: --name N (or --file F).")

    async def work(backend: Backend) -> Endpoint:
        name = args.name
        if args.file:
            data: dict[str, Any] = read_spec_file(args.file)
            name = name or data.get("name")
        endpoint = await backend.get_endpoint(str(name))
        if not args.file:
            data = {
                "name": endpoint.name,
                "auth_mode": endpoint.auth_mode,
                "description": endpoint.description,
                "tags": dict(endpoint.tags),
                "traffic": dict(endpoint.traffic),
                "mirror_traffic": dict(endpoint.mirror_traffic),
            }
        before = {k: data.get(k) for k in _TRAFFIC_KEYS}
        if args.set:
            data = apply_overrides(data, args.set)
        data = yaml_edit(args, name=endpoint.name)(data)
        traffic = _weights(data.pop("traffic", None), args.traffic, "traffic")
        mirror = _weights(data.pop("mirror_traffic", None), args.mirror_traffic, "mirror traffic")
        if traffic == before["traffic"] and args.traffic is None:
            traffic = None
        if mirror == before["mirror_traffic"] and args.mirror_traffic is None:
            mirror = None
        settings_changed = bool(args.file) or any(
            data.get(k) != v
            for k, v in (("description", endpoint.description), ("tags", dict(endpoint.tags)))
        )
        if traffic is not None or mirror is not None:
            deployments = [d.name for d in await backend.list_deployments(endpoint.name)]
            # As az ml: the given split replaces the old one; deployments not named get 0.
            full = None if traffic is None else {d: 0 for d in deployments} | traffic
            endpoint = await backend.set_traffic(endpoint.name, full, mirror_traffic=mirror)
        if settings_changed:
            where = Path(args.file) if args.file else Path("--set")
            spec = endpoint_spec_from_yaml(data, file=where)
            endpoint = await backend.create_or_update_endpoint(spec, progress=progress_line)
        return endpoint

    emit(args, endpoint_dict(run_with_backend(args, work)))
    return 0


def _weights(from_data: Any, flag: str | None, what: str) -> dict[str, int] | None:
    """A split from the flag (``"blue=90 green=10"``), else from the YAML or ``--set``."""
    if flag is not None:
        return parse_weights(flag, what=what) if flag.strip() else {}
    if from_data is None:
        return None
    if not isinstance(from_data, dict):
        raise ValidationError(f"{what} must map deployment names to percentages.")
    text = " ".join(f"{k}={v}" for k, v in from_data.items())
    return parse_weights(text, what=what) if text else {}


def _show(args: argparse.Namespace) -> int:
    endpoint = run_with_backend(args, lambda backend: backend.get_endpoint(args.name))
    emit(args, endpoint_dict(endpoint))
    return 0


def _list(args: argparse.Namespace) -> int:
    endpoints = run_with_backend(args, lambda backend: backend.list_endpoints())
    emit(args, [endpoint_dict(e) for e in endpoints])
    return 0


def _delete(args: argparse.Namespace) -> int:
    if not args.yes and sys.stdin.isatty():
        answer = input(
            f"Are you sure you want to perform this operation? Endpoint '{args.name}' and all "
            "its deployments will be deleted. (y/n): "
        )
        if answer.strip().lower() not in ("y", "yes"):
            say(messages.DELETE_ABORTED)
            return 1

    async def work(backend: Backend) -> None:
        await backend.get_endpoint(args.name)  # az: "does not exist" before anything starts
        await backend.delete_endpoint(args.name, progress=progress_line)

    run_with_backend(args, work)
    return 0


def _get_credentials(args: argparse.Namespace) -> int:
    credentials = run_with_backend(args, lambda backend: backend.get_credentials(args.name))
    emit(args, credentials_dict(credentials))
    return 0


def _regenerate_keys(args: argparse.Namespace) -> int:
    run_with_backend(
        args, lambda backend: backend.regenerate_keys(args.name, key_type=args.key_type)
    )
    return 0  # az ml prints nothing: read the new keys with get-credentials


def _invoke(args: argparse.Namespace) -> int:
    try:
        body = Path(args.request_file).read_bytes()
    except OSError:
        raise ValidationError(messages.request_file_missing(args.request_file)) from None
    deployment = args.deployment_name

    result = run_with_backend(
        args, lambda backend: backend.invoke(args.name, body, deployment=deployment)
    )
    text = result.body.decode("utf-8", "replace")
    if not 200 <= result.status < 300:
        raise FlightdeckError(messages.invoke_failed(result.status, result.deployment, text))
    emit(args, text)  # as az ml: the answer's text, printed as a JSON string (bare with tsv)
    return 0
