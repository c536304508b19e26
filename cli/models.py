"""``flightdeck model``: registered models, as ``az ml model``.

    flightdeck model create --file model.yml [--set version=2]
    flightdeck model create --name recommendation-model --version 1 --path ./model-v1
    flightdeck model list [--name recommendation-model] [--max-results 10]
    flightdeck model show --name recommendation-model --version 1

    flightdeck model archive --name recommendation-model [--version 1]
    flightdeck model restore --name recommendation-model [--version 1]

A deployment then uses ``model: azureml:recommendation-model:1``. Archiving, as on Azure,
hides a model from ``list`` (``--include-archived``, ``--archived-only`` show it) and from
``--label latest``; ``show --version`` and deployments of ``azureml:name:version`` still find
it. Without ``--version`` the model as a whole (every version) is archived, as az archives the
model container; then no single version of it can be restored alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli import messages
from cli.azargs import UsageError, add_generic_update, az_globals, not_meaningful, yaml_edit
from cli.azexamples import AZ_EXAMPLES
from cli.azhelp import az_style
from cli.backends import backend_options, run_with_backend
from cli.entities import model_dict
from cli.output import emit
from deploy.errors import NotFoundError, SpecError, ValidationError
from deploy.specs import apply_overrides, read_spec_file
from deploy.types import RegisteredModel

__all__ = ["register"]

_NAME = "Name of the model."
_VERSION = "Version of the model."


def register(subparsers: Any) -> None:
    """Add ``model`` and its verbs."""
    group = subparsers.add_parser(
        "model",
        help="Manage Azure ML models.",
        description="Manage Azure ML models: register a model file or folder, list and show "
        "its versions; deployments name one as azureml:<name>:<version>.",
    )
    verbs = group.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    common = [backend_options(az=True), az_globals()]

    create = verbs.add_parser("create", parents=common, help="Create a model.")
    create.add_argument("--name", "-n", help=_NAME)
    create.add_argument("--version", "-v", help=_VERSION)
    create.add_argument(
        "--file",
        "-f",
        help="Local path to the YAML file containing the Azure ML model specification. The "
        "YAML reference docs for model can be found at: "
        "https://aka.ms/ml-cli-v2-model-yaml-reference",
    )
    create.add_argument(
        "--path",
        "-p",
        help="Path to the model file(s). If specified, --name/-n and --version/-v must also "
        "be provided.",
    )
    create.add_argument(
        "--type",
        "-t",
        default=None,
        choices=("custom_model", "mlflow_model", "triton_model"),
        help="Type of the model. The default type is custom_model.",
    )
    create.add_argument("--description", help="Description of the model.")
    create.add_argument(
        "--tags", nargs="*", default=[], metavar="KEY=VALUE",
        help="Space-separated key-value pairs for the tags of the object.",
    )  # fmt: skip
    create.add_argument("--stage", "-s", help="Stage of the model (kept as a tag).")
    add_generic_update(create, add_remove=False)
    not_meaningful(
        create, "--default-deployment-template", "-d", why=messages.DEFAULT_TEMPLATE_NOT_HERE
    )
    not_meaningful(create, "--registry-name", why=messages.REGISTRY_NOT_HERE)
    not_meaningful(create, "--datastore", why=messages.DATASTORE_NOT_HERE)
    create.set_defaults(handler=_create)

    listing = verbs.add_parser("list", parents=common, help="List models in a workspace.")
    listing.add_argument(
        "--name",
        "-n",
        help="Name of the model. If provided, all the model versions under this name will "
        "be returned.",
    )
    listing.add_argument("--max-results", "-r", type=int, help="Max number of results to return.")
    listing.add_argument(
        "--include-archived", action="store_true", help="List archived models and active models."
    )
    listing.add_argument("--archived-only", action="store_true", help="List archived models only.")
    not_meaningful(listing, "--registry-name", why=messages.REGISTRY_NOT_HERE)
    listing.set_defaults(handler=_list)

    show = verbs.add_parser("show", parents=common, help="Show details for a model.")
    show.add_argument("--name", "-n", required=True, help=_NAME)
    show.add_argument("--version", "-v", help=_VERSION)
    show.add_argument("--label", "-l", help="Label of the model (latest: the newest version).")
    not_meaningful(show, "--registry-name", why=messages.REGISTRY_NOT_HERE)
    show.set_defaults(handler=_show)

    for verb, what, archived in (
        ("archive", "Archive a model.", True),
        ("restore", "Restore an archived model.", False),
    ):
        parser = verbs.add_parser(verb, parents=common, help=what)
        parser.add_argument("--name", "-n", required=True, help=_NAME)
        parser.add_argument(
            "--version", "-v",
            help=f"Version of the model. Without it (and --label) the model as a whole "
            f"(every version) is {'archived' if archived else 'restored'}.",
        )  # fmt: skip
        parser.add_argument("--label", "-l", help="Label of the model (latest: the newest).")
        not_meaningful(parser, "--registry-name", why=messages.REGISTRY_NOT_HERE)
        parser.set_defaults(handler=_archive, archived=archived)
    az_style(group, AZ_EXAMPLES["model"])


def _create(args: argparse.Namespace) -> int:
    if args.file:
        data = read_spec_file(args.file)
        base = Path(args.file).resolve().parent
        if args.set:
            data = apply_overrides(data, args.set, file=args.file)
    elif args.path:
        data, base = {}, Path.cwd()
    else:
        raise UsageError(messages.MODEL_NEEDS)
    data = yaml_edit(
        args, name=args.name, version=args.version, path=args.path,
        description=args.description, type=args.type,
    )(data)  # fmt: skip
    name, version, raw_path = data.get("name"), data.get("version"), data.get("path")
    if not name or version is None or not raw_path:
        missing = [
            k for k, v in (("name", name), ("version", version), ("path", raw_path)) if not v
        ]
        raise SpecError(f"missing {', '.join(missing)}", file=args.file or "model create")
    path = (base / str(raw_path)).expanduser().resolve()
    if not path.exists():
        raise ValidationError(f"Model path '{raw_path}' does not exist.")
    description = data.get("description")
    model = run_with_backend(
        args,
        lambda backend: backend.register_model(
            str(name), str(version), str(path),
            description=None if description is None else str(description),
        ),
    )  # fmt: skip
    emit(args, model_dict(model))
    return 0


def _list(args: argparse.Namespace) -> int:
    if args.archived_only and args.include_archived:
        raise UsageError(messages.MODEL_LIST_VIEWS)
    models = run_with_backend(args, lambda backend: backend.list_models())
    if args.archived_only:
        models = [m for m in models if m.archived]
    elif not args.include_archived:
        models = [m for m in models if not m.archived]
    chosen = [m for m in models if args.name is None or m.name == args.name]
    if args.max_results is not None:
        chosen = chosen[: max(0, args.max_results)]
    emit(args, [model_dict(m) for m in chosen])
    return 0


def _show(args: argparse.Namespace) -> int:
    if args.version is None:
        emit(args, model_dict(_latest(args)))
        return 0
    model = run_with_backend(args, lambda backend: backend.get_model(args.name, args.version))
    emit(args, model_dict(model))
    return 0


def _latest(args: argparse.Namespace) -> RegisteredModel:
    """The newest active version of ``args.name`` (Azure's ``latest`` label skips archived)."""
    if args.label not in (None, "latest"):
        raise ValidationError(messages.MODEL_LABEL_UNKNOWN.format(label=args.label))
    models = run_with_backend(args, lambda backend: backend.list_models())
    versions = [m for m in models if m.name == args.name]
    if not versions:
        raise NotFoundError(messages.MODEL_NOT_REGISTERED.format(name=args.name))
    active = [m for m in versions if not m.archived]
    if not active:
        raise NotFoundError(messages.MODEL_NONE_ACTIVE.format(name=args.name))
    return max(active, key=lambda m: (m.created_at is not None, m.created_at, m.version))


def _archive(args: argparse.Namespace) -> int:
    """``model archive``/``restore``: prints nothing, as az."""
    if args.version is not None and args.label is not None:
        raise UsageError(messages.MODEL_VERSION_OR_LABEL)
    version = args.version
    if args.label is not None:
        version = _latest(args).version
    archived: bool = args.archived
    run_with_backend(
        args,
        lambda backend: backend.set_model_archived(args.name, version, archived=archived),
    )
    return 0
