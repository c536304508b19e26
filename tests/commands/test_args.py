"""Splitting a command's text: quotes, Slack's escapes, options, and what is wrong."""

from __future__ import annotations

import pytest

from commands.args import is_help, parse_args
from commands.errors import UsageError

HELP = "HELP TEXT"


def test_positionals_options_and_flags() -> None:
    args = parse_args(
        "pr blue --lines 50 --grep=“a b” --all",
        help_text=HELP,
        options={"--lines", "--grep"},
        flags={"--all"},
    )
    assert args.positionals == ["pr", "blue"]
    assert args.options == {"--lines": "50", "--grep": "a b"}
    assert args.flags == {"--all"}
    assert args.int_option("--lines", default=100, low=1, high=5000) == 50


def test_slack_escapes_are_undone() -> None:
    args = parse_args("--grep 'a &lt;b&gt; &amp; c'", help_text=HELP, options={"--grep"})
    assert args.options["--grep"] == "a <b> & c"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("pr --bogus 1", "Unknown option `--bogus` (options: --lines)."),
        ("pr --lines", "`--lines` needs a value."),
        ("pr --lines 1 --lines 2", "`--lines` is given twice."),
        ("pr 'open", "A quote is not closed."),
    ],
)
def test_problems_are_named_with_the_help(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_args(text, help_text=HELP, options={"--lines"})
    assert caught.value.problem == problem
    assert caught.value.message == f"{problem}\n\n{HELP}"


@pytest.mark.parametrize(("raw", "problem"), [("x", "whole number"), ("0", "between 1 and 10")])
def test_int_options(raw: str, problem: str) -> None:
    args = parse_args(f"--n {raw}", help_text=HELP, options={"--n"})
    with pytest.raises(UsageError, match=problem):
        args.int_option("--n", default=None, low=1, high=10)


def test_help_words() -> None:
    assert is_help(" help ") and is_help("--help") and is_help("-h")
    assert not is_help("") and not is_help("pr")
