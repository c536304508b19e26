"""``/loadtest``: registered ahead of the load-test engine (its own issue); answers its help."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from commands import messages

__all__ = ["HELP", "LoadtestHelp", "parse"]

HELP = messages.LOADTEST_HELP


@dataclass(frozen=True, kw_only=True)
class LoadtestHelp:
    """Any ``/loadtest`` text, for now."""

    writes: ClassVar[bool] = False


def parse(text: str) -> LoadtestHelp:
    """Every text asks for the help until the load-test engine lands."""
    return LoadtestHelp()
