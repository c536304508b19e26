"""``flightdeck model``: registered models, as ``az ml model``.

    flightdeck model create --name recommendation-model --version 1 --path ./model-v1
    flightdeck model list [--name recommendation-model]
    flightdeck model show --name recommendation-model --version 1

A deployment then uses ``model: azureml:recommendation-model:1``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli.backends import backend_options, run_with_backend
from cli.output import print_json
from deploy.errors import ValidationError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``model`` and its verbs."""
    group = subparsers.add_parser("model", help="register, list and show models")
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    common = [backend_options()]

    create = verbs.add_parser("create", parents=common, help="register a model version")
    create.add_argument("--name", "-n", required=True)
    create.add_argument("--version", "-v", required=True)
    create.add_argument("--path", "-p", required=True, help="a model file or folder")
    create.add_argument("--description", "-d")
    create.set_defaults(handler=_create)

    listing = verbs.add_parser("list", parents=common, help="list registered models")
    listing.add_argument("--name", "-n", help="only this model's versions")
    listing.set_defaults(handler=_list)

    show = verbs.add_parser("show", parents=common, help="show a model version")
    show.add_argument("--name", "-n", required=True)
    show.add_argument("--version", "-v", required=True)
    show.set_defaults(handler=_show)


def _create(args: argparse.Namespace) -> int:
    path = Path(args.path).expanduser().resolve()
    if not path.exists():
        raise ValidationError(f"Model path '{args.path}' does not exist.")
    model = run_with_backend(
        args,
        lambda backend: backend.register_model(
            args.name, args.version, str(path), description=args.description
        ),
    )
    print_json(model)
    return 0


def _list(args: argparse.Namespace) -> int:
    models = run_with_backend(args, lambda backend: backend.list_models())
    print_json([m for m in models if args.name is None or m.name == args.name])
    return 0


def _show(args: argparse.Namespace) -> int:
    print_json(run_with_backend(args, lambda backend: backend.get_model(args.name, args.version)))
    return 0
