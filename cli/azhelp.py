"""``--help`` for the verbs that mirror ``az ml``, in the Azure CLI's layout.

az (knack) prints a group as ``Group`` (the command and its summary, then the longer text)
and ``Commands:`` (each subcommand and its one-line summary); a command as ``Command``,
``Arguments`` (required ones first, marked ``[Required]``), ``Global Arguments`` and
``Examples``. ``FlightdeckParser`` is the parser class of the whole ``flightdeck`` tree;
``az_style`` turns that layout on for a group and its verbs, the rest keep argparse's::

    group = subparsers.add_parser("online-endpoint", description=...)
    verbs = group.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    ...  # the verbs
    az_style(group, AZ_EXAMPLES["online-endpoint"])
"""

from __future__ import annotations

import argparse
import shutil
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Example", "FlightdeckParser", "az_style"]

#: (what it does, the command line), as az's help lists its examples.
Example = tuple[str, str]

_GLOBAL = "Global Arguments"
#: Arguments az lists under Global Arguments although they are not in that group here.
_GLOBAL_FLAGS = frozenset({"--help", "--subscription", "--subscription-id"})


class FlightdeckParser(argparse.ArgumentParser):
    """argparse's parser; with ``az_style`` applied, ``--help`` reads like az's."""

    az_summary: str | None = None
    az_examples: Sequence[Example] | None = None

    def format_help(self) -> str:
        """az's layout for a group or command marked by ``az_style``, argparse's otherwise."""
        if self.az_summary is None:
            return super().format_help()
        verbs = _verbs(self)
        return _group_help(self, verbs) if verbs is not None else _command_help(self)


def az_style(group: argparse.ArgumentParser, examples: Mapping[str, Sequence[Example]]) -> None:
    """Give ``group`` and each of its verbs az's ``--help`` (``examples`` by verb name)."""
    if not isinstance(group, FlightdeckParser):
        return  # a parser built outside build_parser keeps argparse's help
    group.az_summary = _first_sentence(group.description or "")
    action = _verbs(group)
    if action is None:
        return
    for choice in action._choices_actions:
        verb = action.choices.get(choice.dest)
        if isinstance(verb, FlightdeckParser):
            verb.az_summary = choice.help or ""
            verb.az_examples = examples.get(choice.dest, ())


# ---------------------------------------------------------------- layout


def _width() -> int:
    return max(60, min(120, shutil.get_terminal_size((100, 24)).columns) - 2)


def _verbs(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _first_sentence(text: str) -> str:
    head, sep, _ = text.partition(". ")
    return head + "." if sep else text


def _group_help(parser: FlightdeckParser, verbs: argparse._SubParsersAction[Any]) -> str:
    width = _width()
    summary = parser.az_summary or ""
    rest = (parser.description or "")[len(summary) :].strip()
    lines = ["", "Group", *_wrap(f"{parser.prog} : {summary}", width)]
    if rest:
        lines += textwrap.wrap(rest, width, initial_indent=" " * 8, subsequent_indent=" " * 8)
    lines += ["", "Commands:"]
    rows = [(choice.dest, choice.help or "") for choice in verbs._choices_actions]
    lines += _rows(rows, width)
    return "\n".join(lines) + "\n\n"


def _command_help(parser: FlightdeckParser) -> str:
    width = _width()
    lines = ["", "Command", *_wrap(f"{parser.prog} : {parser.az_summary}", width)]
    if parser.description:
        lines += textwrap.wrap(
            parser.description, width, initial_indent=" " * 8, subsequent_indent=" " * 8
        )
    arguments: list[tuple[bool, str, str]] = []
    global_: list[tuple[bool, str, str]] = []
    titles = {id(a): g.title for g in parser._action_groups for a in g._group_actions}
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or not action.option_strings:
            continue
        names = sorted(action.option_strings, key=lambda s: (not s.startswith("--"), 0))
        is_global = titles.get(id(action)) == _GLOBAL or names[0] in _GLOBAL_FLAGS
        label = " ".join(names) + (" [Required]" if action.required else "")
        row = (not action.required, label, _describe(action))
        (global_ if is_global else arguments).append(row)
    for title, rows in (("Arguments", arguments), (_GLOBAL, global_)):
        if rows:
            ordered = sorted(rows, key=lambda r: (r[0], r[1]))
            lines += ["", title, *_rows([(label, text) for _, label, text in ordered], width)]
    if parser.az_examples:
        lines += ["", "Examples"]
        for what, command in parser.az_examples:
            lines.append(f"    {what}")
            lines += textwrap.wrap(
                command, width, initial_indent=" " * 8, subsequent_indent=" " * 8,
                break_on_hyphens=False, break_long_words=False,
            )  # fmt: skip
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n\n"


def _wrap(text: str, width: int) -> list[str]:
    """A heading line (4 spaces in), its continuation 8 in."""
    return textwrap.wrap(text, width, initial_indent=" " * 4, subsequent_indent=" " * 8)


def _describe(action: argparse.Action) -> str:
    """An argument's help, with az's "Allowed values" and "Default" when it has them."""
    text = (action.help or "").strip()
    if text == "show this help message and exit":
        return "Show this help message and exit."
    if action.choices and "Allowed values" not in text:
        text += f"  Allowed values: {', '.join(str(c) for c in action.choices)}."
    default = action.default
    if (
        default not in (None, False, [], argparse.SUPPRESS)
        and "Default" not in text
        and "default" not in text
        and not isinstance(action, argparse._StoreConstAction)
    ):
        text += f"  Default: {default}."
    return text.strip()


def _rows(rows: Sequence[tuple[str, str]], width: int) -> list[str]:
    """``name : text`` rows, the colons aligned (long names push only their own row)."""
    column = min(max((len(name) for name, _ in rows), default=0), 32)
    lines: list[str] = []
    for name, text in rows:
        head = f"    {name.ljust(column)} : "
        indent = " " * (4 + column + 3)
        wrapped = textwrap.wrap(text, max(20, width - len(indent))) or [""]
        lines.append(head + wrapped[0])
        lines += [indent + more for more in wrapped[1:]]
    return lines
