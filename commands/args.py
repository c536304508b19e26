"""Splitting a slash command's text into positionals and ``--options``.

Slack sends the text as typed, with ``&``, ``<`` and ``>`` escaped and quotes often
turned into curly ones by the client; both are undone here. Every problem is a
``UsageError`` naming what is wrong, followed by the command's help.

    args = parse_args("product-recommender blue --lines 50", help_text=HELP,
                      options={"--lines"}, flags=set())
    args.positionals  # ['product-recommender', 'blue']
    args.int_option("--lines", default=100, low=1, high=5000)  # 50
"""

from __future__ import annotations

import shlex
from collections.abc import Collection
from dataclasses import dataclass, field

from commands import messages
from commands.errors import UsageError

__all__ = ["HELP_WORDS", "ParsedArgs", "is_help", "parse_args"]

#: Texts that ask for a command's help.
HELP_WORDS = frozenset({"help", "--help", "-h"})

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})


def is_help(text: str) -> bool:
    """True when the text asks for help."""
    return text.strip().lower() in HELP_WORDS


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass(kw_only=True)
class ParsedArgs:
    """A command's text, split."""

    help_text: str
    positionals: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    def usage(self, problem: str) -> UsageError:
        """A ``UsageError`` for ``problem`` with this command's help."""
        return UsageError(problem, help_text=self.help_text)

    def int_option(self, name: str, *, default: int | None, low: int, high: int) -> int | None:
        """The option's value as a whole number in ``[low, high]``, or ``default``."""
        raw = self.options.get(name)
        if raw is None:
            return default
        return parse_int(raw, what=name, low=low, high=high, help_text=self.help_text)


def parse_int(raw: str, *, what: str, low: int, high: int, help_text: str) -> int:
    """``raw`` as a whole number in ``[low, high]``; a ``UsageError`` naming ``what`` otherwise."""
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(
            messages.NOT_A_NUMBER.format(what=what, value=raw), help_text=help_text
        ) from None
    if not low <= value <= high:
        raise UsageError(
            messages.OUT_OF_RANGE.format(what=what, value=value, low=low, high=high),
            help_text=help_text,
        )
    return value


def parse_args(
    text: str,
    *,
    help_text: str,
    options: Collection[str] = (),
    flags: Collection[str] = (),
) -> ParsedArgs:
    """Split ``text``: ``--name value`` / ``--name=value`` for ``options``, bare ``flags``."""
    parsed = ParsedArgs(help_text=help_text)
    try:
        tokens = shlex.split(_unescape(text.translate(_QUOTES)))
    except ValueError:
        raise parsed.usage(messages.UNBALANCED_QUOTES) from None
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("--") or token == "--":
            parsed.positionals.append(token)
            continue
        name, sep, value = token.partition("=")
        if name in flags and not sep:
            parsed.flags.add(name)
            continue
        if name not in options:
            known = ", ".join(sorted([*options, *flags])) or messages.NO_OPTIONS
            raise parsed.usage(messages.UNKNOWN_OPTION.format(option=name, known=known))
        if name in parsed.options:
            raise parsed.usage(messages.OPTION_TWICE.format(option=name))
        if not sep:
            if index >= len(tokens) or tokens[index].startswith("--"):
                raise parsed.usage(messages.OPTION_NEEDS_VALUE.format(option=name))
            value = tokens[index]
            index += 1
        if not value:
            raise parsed.usage(messages.OPTION_NEEDS_VALUE.format(option=name))
        parsed.options[name] = value
    return parsed
