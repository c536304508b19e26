"""``flightdeck online-endpoint``: the verbs of ``az ml online-endpoint``.

    flightdeck online-endpoint create --file endpoint.yml
    flightdeck online-endpoint update --name product-recommender --traffic "blue=90 green=10"
    flightdeck online-endpoint update --name product-recommender --mirror-traffic "green=10"
    flightdeck online-endpoint show --name product-recommender
    flightdeck online-endpoint list
    flightdeck online-endpoint get-credentials --name product-recommender
    flightdeck online-endpoint invoke --name product-recommender --request-file req.json \
        [--deployment-name green]
    flightdeck online-endpoint delete --name product-recommender [--yes]
    flightdeck online-endpoint metrics --name product-recommender [--window 5m]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from cli import messages
from cli.backends import backend_options, run_with_backend
from cli.metrics import add_metrics_verb
from cli.output import print_json, print_text, progress_line, say
from deploy.backend import Backend
from deploy.errors import ConflictError, FlightdeckError, NotFoundError, ValidationError
from deploy.rules import parse_weights, validate_name
from deploy.specs import load_endpoint_spec
from deploy.types import Endpoint, to_json

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``online-endpoint`` and its verbs."""
    group = subparsers.add_parser(
        "online-endpoint", help="create, update, show, list, delete and call endpoints"
    )
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    common = [backend_options()]

    create = verbs.add_parser("create", parents=common, help="create an endpoint from YAML")
    create.add_argument("--file", "-f", required=True, help="endpoint YAML (Azure ML v2)")
    create.add_argument("--name", "-n", help="override the name in the file")
    create.set_defaults(handler=_create)

    update = verbs.add_parser(
        "update", parents=common, help="change traffic, mirror traffic, or settings from YAML"
    )
    update.add_argument("--name", "-n", help="the endpoint (or the name in --file)")
    update.add_argument("--file", "-f", help="endpoint YAML: description and tags")
    update.add_argument("--traffic", "-t", help='live split, e.g. "blue=90 green=10"')
    update.add_argument("--mirror-traffic", help='mirror, e.g. "green=10" ("" to stop)')
    update.set_defaults(handler=_update)

    show = verbs.add_parser("show", parents=common, help="show an endpoint")
    show.add_argument("--name", "-n", required=True)
    show.set_defaults(handler=_show)

    listing = verbs.add_parser("list", parents=common, help="list endpoints")
    listing.set_defaults(handler=_list)

    delete = verbs.add_parser(
        "delete", parents=common, help="delete an endpoint and its deployments"
    )
    delete.add_argument("--name", "-n", required=True)
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(handler=_delete)

    credentials = verbs.add_parser(
        "get-credentials", parents=common, help="keys, or a fresh token (aml_token)"
    )
    credentials.add_argument("--name", "-n", required=True)
    credentials.set_defaults(handler=_get_credentials)

    invoke = verbs.add_parser("invoke", parents=common, help="call the scoring URI")
    invoke.add_argument("--name", "-n", required=True)
    invoke.add_argument("--request-file", "-r", required=True, help="the request body (JSON)")
    invoke.add_argument(
        "--deployment-name", "-d", help="send to this deployment, whatever its share"
    )
    invoke.set_defaults(handler=_invoke)

    add_metrics_verb(verbs, common)


# ---------------------------------------------------------------- handlers


def _create(args: argparse.Namespace) -> int:
    spec = load_endpoint_spec(args.file)
    if args.name:
        spec = replace(spec, name=validate_name("endpoint", args.name))

    async def work(backend: Backend) -> Endpoint:
        try:
            await backend.get_endpoint(spec.name)
        except NotFoundError:
            return await backend.create_or_update_endpoint(spec, progress=progress_line)
        raise ConflictError(messages.endpoint_exists(spec.name))

    print_json(run_with_backend(args, work))
    return 0


def _update(args: argparse.Namespace) -> int:
    spec = load_endpoint_spec(args.file) if args.file else None
    name = args.name or (spec.name if spec else None)
    if not name:
        raise ValidationError("Name the endpoint: --name N (or --file F).")
    if spec is not None and spec.name != name:
        spec = replace(spec, name=name)
    traffic = parse_weights(args.traffic) if args.traffic is not None else None
    mirror = (
        parse_weights(args.mirror_traffic, what="mirror traffic")
        if args.mirror_traffic is not None
        else None
    )
    if spec is None and traffic is None and mirror is None:
        raise ValidationError("Nothing to update: give --traffic, --mirror-traffic or --file.")

    async def work(backend: Backend) -> Endpoint:
        endpoint = await backend.get_endpoint(name)
        if traffic is not None or mirror is not None:
            deployments = [d.name for d in await backend.list_deployments(name)]
            # As az ml: the given split replaces the old one; deployments not named get 0.
            full = None if traffic is None else {d: 0 for d in deployments} | traffic
            endpoint = await backend.set_traffic(name, full, mirror_traffic=mirror)
        if spec is not None:
            endpoint = await backend.create_or_update_endpoint(spec, progress=progress_line)
        return endpoint

    print_json(run_with_backend(args, work))
    return 0


def _show(args: argparse.Namespace) -> int:
    print_json(run_with_backend(args, lambda backend: backend.get_endpoint(args.name)))
    return 0


def _list(args: argparse.Namespace) -> int:
    print_json(run_with_backend(args, lambda backend: backend.list_endpoints()))
    return 0


def _delete(args: argparse.Namespace) -> int:
    if not args.yes and sys.stdin.isatty():
        answer = input(f"Delete endpoint '{args.name}' and all its deployments? (y/n): ")
        if answer.strip().lower() not in ("y", "yes"):
            say(messages.DELETE_ABORTED)
            return 1

    async def work(backend: Backend) -> None:
        await backend.delete_endpoint(args.name, progress=progress_line)

    run_with_backend(args, work)
    return 0


def _get_credentials(args: argparse.Namespace) -> int:
    credentials = run_with_backend(args, lambda backend: backend.get_credentials(args.name))
    print_json({k: v for k, v in to_json(credentials).items() if v is not None})
    return 0


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
    try:
        print_json(json.loads(text))
    except ValueError:
        print_text(text)
    return 0
