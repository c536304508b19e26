"""Printing as ``az ml`` prints: results on stdout, progress on stderr.

Results go through ``emit(args, value)``: ``--query`` (JMESPath, as knack applies it), then
``--output``/``-o`` in the Azure CLI's formats (``json`` by default, ``jsonc``, ``yaml``,
``yamlc``, ``table``, ``tsv``, ``none``), following knack's rules: a scalar prints bare in
``tsv``, a list of objects becomes rows (keys sorted, or in the query's order), ``table``
shows an object's scalar fields with capitalised headers and skips ``id``, ``type`` and
``etag``. ``None`` prints nothing::

    emit(args, entities.endpoint_dict(endpoint))
    await progress_line("Starting instance blue-1 ...")
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import OrderedDict
from io import StringIO
from typing import Any

import yaml

from deploy.errors import FlightdeckError, ValidationError
from deploy.types import to_json

__all__ = [
    "OUTPUT_FORMATS",
    "UsageErrorText",
    "emit",
    "format_result",
    "json_text",
    "print_json",
    "print_text",
    "progress_line",
    "say",
    "set_quiet",
]

#: ``--output`` choices, as the Azure CLI lists them.
OUTPUT_FORMATS: tuple[str, ...] = ("json", "jsonc", "none", "table", "tsv", "yaml", "yamlc")

_quiet = False


class UsageErrorText(FlightdeckError):
    """A bad ``--query``: one line, exit code 2 (``cli.main`` treats ``code == "usage"``)."""

    code = "usage"


def set_quiet(quiet: bool) -> None:
    """``--only-show-errors``: progress lines are not shown."""
    global _quiet
    _quiet = quiet


def json_text(value: Any) -> str:
    """``value`` as az ml's JSON: two-space indent, sorted keys."""
    if dataclasses.is_dataclass(value) or (
        isinstance(value, list) and any(dataclasses.is_dataclass(item) for item in value)
    ):
        value = to_json(value)
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def print_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout."""
    sys.stdout.write(json_text(value) + "\n")
    sys.stdout.flush()


def print_text(text: str) -> None:
    """Print text (logs, a scoring answer that is not JSON) as is on stdout."""
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    sys.stdout.flush()


def say(line: str) -> None:
    """A line of progress on stderr, at once (none with ``--only-show-errors``)."""
    if _quiet:
        return
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


async def progress_line(line: str) -> None:
    """The ``progress`` callback of long backend operations: each line to stderr as it comes."""
    say(line)


def emit(args: argparse.Namespace, value: Any) -> None:
    """Print a command's result as ``--query`` and ``--output`` ask (``None``: nothing)."""
    if dataclasses.is_dataclass(value) or (
        isinstance(value, list) and any(dataclasses.is_dataclass(item) for item in value)
    ):
        value = to_json(value)
    query = getattr(args, "query", None)
    if query:
        value = _search(query, value)
    if value is None:
        return
    text = format_result(value, getattr(args, "output", None) or "json", queried=bool(query))
    sys.stdout.write(text)
    sys.stdout.flush()


def _search(query: str, value: Any) -> Any:
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        compiled = jmespath.compile(query)
    except JMESPathError as exc:
        raise UsageErrorText(f"argument --query: invalid jmespath_type value: {query!r}") from exc
    return compiled.search(value, jmespath.Options(dict_cls=OrderedDict))


def format_result(value: Any, output: str, *, queried: bool = False) -> str:
    """``value`` in an Azure CLI output format (knack's rules); ends with a newline."""
    if output in ("json", "jsonc"):  # no colour: stdout is captured more often than not
        return (
            json.dumps(
                value,
                ensure_ascii=False,
                indent=2,
                sort_keys=True,
                separators=(",", ": "),
                default=str,
            )
            + "\n"
        )
    if output in ("yaml", "yamlc"):
        plain = json.loads(json.dumps(value, default=str))
        return str(yaml.safe_dump(plain, default_flow_style=False, allow_unicode=True))
    if output == "none":
        return ""
    if output == "tsv":
        return _tsv(value if isinstance(value, list) else [value])
    if output == "table":
        return _table(value if isinstance(value, list) else [value], sort_keys=not queried)
    choices = ", ".join(OUTPUT_FORMATS)
    raise ValidationError(
        f"argument --output/-o: invalid choice: '{output}' (choose from {choices})"
    )


# ---------------------------------------------------------------- knack's tsv and table


def _tsv_cell(value: Any, out: StringIO) -> None:
    if isinstance(value, list):
        out.write(str(len(value)))
    elif isinstance(value, dict):
        out.write("")
    else:
        out.write(value if isinstance(value, str) else str(value))


def _tsv(rows: list[Any]) -> str:
    out = StringIO()
    for row in rows:
        if isinstance(row, dict | list):
            if isinstance(row, OrderedDict):
                values: Any = list(row.values())
            elif isinstance(row, dict):
                values = [v for _, v in sorted(row.items())]
            else:
                values = row
            out.write("\t".join(_cell_text(v) for v in values))
        elif isinstance(row, bool):
            _tsv_cell(str(row).lower(), out)
        else:
            _tsv_cell(row, out)
        out.write("\n")
    return out.getvalue()


def _cell_text(value: Any) -> str:
    cell = StringIO()
    _tsv_cell(value, cell)
    return cell.getvalue()


_TABLE_SKIP = ("id", "type", "etag")


def _table_row(item: Any, *, sort_keys: bool) -> OrderedDict[str, Any]:
    row: OrderedDict[str, Any] = OrderedDict()
    if isinstance(item, dict):
        keys = sorted(item) if sort_keys and not isinstance(item, OrderedDict) else list(item)
        for key in keys:
            value = item[key]
            if key in _TABLE_SKIP or value is None or isinstance(value, list | dict | set):
                continue
            row[key[:1].upper() + key[1:]] = value
    elif isinstance(item, list):
        for column, value in enumerate(item):
            row[f"Column{column + 1}"] = value
    else:
        row["Result"] = item
    return row


def _table(rows: list[Any], *, sort_keys: bool) -> str:
    from tabulate import tabulate

    data = [_table_row(item, sort_keys=sort_keys) for item in rows]
    text = tabulate(data, headers="keys", tablefmt="simple", disable_numparse=True) if data else ""
    if text == "\n":
        raise ValidationError(
            "Table output unavailable. Use the --query option to specify an appropriate query."
        )
    return text + "\n"
