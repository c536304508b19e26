"""The Azure CLI's arguments, for the verbs that mirror ``az ml``.

``az_globals()`` is a parent parser with az's global arguments (``--query``, ``--output``/
``-o``, ``--only-show-errors``, ``--verbose``, ``--debug``); ``add_generic_update`` adds
``--set``/``--add``/``--remove``; ``add_no_wait`` adds ``--no-wait``; ``not_meaningful``
adds a flag az ml has that means nothing on one machine, which then stops the command with
one line (exit 2) rather than a usage dump::

    verb = verbs.add_parser("create", parents=[backend_options(), az_globals()])
    add_generic_update(verb)
    not_meaningful(verb, "--web", messages.WEB_NOT_HERE)
    spec = load_deployment_spec(args.file, overrides=args.set, edit=yaml_edit(args))
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from cli import messages
from cli.output import OUTPUT_FORMATS
from deploy.errors import FlightdeckError, SpecError

__all__ = [
    "UsageError",
    "add_generic_update",
    "add_no_wait",
    "az_globals",
    "not_meaningful",
    "yaml_edit",
]


class UsageError(FlightdeckError):
    """Bad arguments: shown as one ``ERROR:`` line, exit code 2 (as az)."""

    code = "usage"


def az_globals() -> argparse.ArgumentParser:
    """A parent parser with the Azure CLI's global arguments."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("Global Arguments")
    group.add_argument(
        "--output",
        "-o",
        choices=OUTPUT_FORMATS,
        default="json",
        type=str.lower,
        help="Output format. Allowed values: json, jsonc, none, table, tsv, yaml, yamlc. "
        "Default: json.",
    )
    group.add_argument(
        "--query",
        metavar="JMESPATH",
        help="JMESPath query string. See http://jmespath.org/ for more information and examples.",
    )
    group.add_argument(
        "--only-show-errors",
        action="store_true",
        help="Only show errors, suppressing warnings (here: progress lines).",
    )
    group.add_argument(
        "--verbose",
        action="store_true",
        help="Increase logging verbosity. Use --debug for full debug logs.",
    )
    group.add_argument(
        "--debug", action="store_true", help="Increase logging verbosity to show all debug logs."
    )
    parent.set_defaults(az_exit_codes=True)  # a missing resource exits 3 (cli.main)
    return parent


def add_no_wait(parser: argparse.ArgumentParser) -> None:
    """az ml's ``--no-wait`` (return once the operation is accepted)."""
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="Do not wait for the long-running-operation to finish. Default is False",
    )


def add_generic_update(parser: argparse.ArgumentParser, *, add_remove: bool = True) -> None:
    """``--set`` (and ``--add``/``--remove``), as az ml's create and update take them."""
    parser.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="Update an object by specifying a property path and value to set. "
        "Example: --set property1.property2=value.",
    )
    if not add_remove:
        return
    parser.add_argument(
        "--add",
        nargs="+",
        action="append",
        default=[],
        metavar="PATH VALUE",
        help="Add an object to a list of objects (or KEY=VALUE pairs to a mapping) by "
        "specifying a path and key value pairs. Example: --add property.listProperty "
        "<key=value, string or JSON string>.",
    )
    parser.add_argument(
        "--remove",
        nargs="+",
        action="append",
        default=[],
        metavar="PATH [INDEX]",
        help="Remove a property or an element from a list. Example: --remove property.list "
        "<indexToRemove> OR --remove propertyToRemove.",
    )


class _NotMeaningful(argparse.Action):
    """A flag that stops the command with one line saying why it means nothing here."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        self.why: str = kwargs.pop("why")
        super().__init__(option_strings, dest, nargs="?", default=None, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if values is not None and str(values).lower() == "false":
            return  # --flag false: asked for nothing
        raise UsageError(messages.not_meaningful(option_string or self.dest, self.why))


def not_meaningful(parser: argparse.ArgumentParser, *flags: str, why: str) -> None:
    """Accept az ml's ``flags`` only to refuse them with one clear line (exit 2)."""
    parser.add_argument(
        *flags, action=_NotMeaningful, why=why, help=argparse.SUPPRESS, dest=f"_{flags[0][2:]}"
    )


def yaml_edit(
    args: argparse.Namespace, **names: str | None
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The changes ``--add``, ``--remove`` and the name flags make to a spec's YAML.

    ``names`` maps YAML keys to the value a flag gave (``name=args.name``); as az ml
    appends them to its overrides, they win over the file and over ``--set``.
    """
    adds: list[list[str]] = getattr(args, "add", None) or []
    removes: list[list[str]] = getattr(args, "remove", None) or []

    def edit(data: dict[str, Any]) -> dict[str, Any]:
        for item in adds:
            _add(data, item)
        for item in removes:
            _remove(data, item)
        for key, value in names.items():
            if value:
                data[key] = value
        return data

    return edit


def _walk(data: dict[str, Any], path: str, *, flag: str) -> tuple[Any, str]:
    """The container holding the last part of ``path``, and that part."""
    parts = path.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = _child(node, part)
        if node is None:
            raise SpecError(messages.REMOVE_NOT_FOUND.format(path=path), file=flag, key=path)
    return node, parts[-1]


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if (
        isinstance(node, list)
        and part.lstrip("-").isdigit()
        and -len(node) <= int(part) < len(node)
    ):
        return node[int(part)]
    return None


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return yaml.safe_load(text) if text else ""


def _add(data: dict[str, Any], item: list[str]) -> None:
    path, values = item[0], item[1:]
    if not values:
        raise SpecError(messages.ADD_NEEDS_VALUE.format(path=path), file="--add", key=path)
    holder, key = _walk(data, path, flag="--add")
    if not isinstance(holder, dict):
        raise SpecError(messages.REMOVE_NOT_FOUND.format(path=path), file="--add", key=path)
    pairs = all("=" in v for v in values)
    current = holder.get(key)
    if current is None:
        current = {} if pairs else []
        holder[key] = current
    if isinstance(current, list):
        if pairs:
            current.append({k: _value(v) for k, _, v in (p.partition("=") for p in values)})
        else:
            current.extend(_value(v) for v in values)
    elif isinstance(current, dict) and pairs:
        current.update({k: _value(v) for k, _, v in (p.partition("=") for p in values)})
    else:
        raise SpecError(
            messages.ADD_NOT_LIST_OR_MAP.format(path=path, key=key), file="--add", key=path
        )


def _remove(data: dict[str, Any], item: list[str]) -> None:
    path, index = item[0], (item[1] if len(item) > 1 else None)
    holder, key = _walk(data, path, flag="--remove")
    missing = SpecError(messages.REMOVE_NOT_FOUND.format(path=path), file="--remove", key=path)
    if index is None:
        if isinstance(holder, dict) and key in holder:
            del holder[key]
            return
        raise missing
    target = _child(holder, key)
    if isinstance(target, list) and _child(target, index) is not None:
        del target[int(index)]
        return
    if isinstance(target, dict) and index in target:
        del target[index]
        return
    raise missing
