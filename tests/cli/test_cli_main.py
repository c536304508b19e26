"""The ``flightdeck`` command's registry: every listed module registers, none is skipped.

A command module that fails to import once made its verbs vanish without a word
(skipped as "not built yet"); now the failure stops the command.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

import cli
from cli.main import COMMAND_MODULES, build_parser

CLI_DIR = Path(cli.__file__).parent


def _verbs(parser: argparse.ArgumentParser) -> set[str]:
    """The sub-command names a parser knows."""
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    return set(actions[0].choices)


def test_a_missing_command_module_stops_the_command() -> None:
    with pytest.raises(ModuleNotFoundError) as missing:
        build_parser(("cli.local", "cli.no_such_verbs", "cli.endpoints"))
    assert missing.value.name == "cli.no_such_verbs"


def test_a_module_that_fails_to_import_stops_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fd_broken_verbs.py").write_text(
        "import fd_renamed_helper\n\n\ndef register(subparsers):\n    pass\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as broken:
        build_parser(("cli.local", "fd_broken_verbs"))
    assert broken.value.name == "fd_renamed_helper"


def test_every_listed_module_registers_verbs() -> None:
    seen: set[str] = set()
    for name in COMMAND_MODULES:
        verbs = _verbs(build_parser((name,)))
        assert verbs, f"{name} registers no verb"
        assert not verbs & seen, f"{name} registers a verb another module has: {verbs & seen}"
        seen |= verbs
    assert _verbs(build_parser()) == seen
    assert {"local", "online-endpoint", "online-deployment", "console"} <= seen


def test_every_cli_module_with_register_is_listed() -> None:
    """A new command module added without its line in ``COMMAND_MODULES`` would never run."""
    defining = set()
    for path in sorted(CLI_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        if any(isinstance(n, ast.FunctionDef) and n.name == "register" for n in tree.body):
            defining.add(f"cli.{path.stem}")
    assert defining, "the scan finds the command modules"
    assert defining == set(COMMAND_MODULES)
