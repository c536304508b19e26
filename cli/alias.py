"""``flightdeck alias install|uninstall``: an ``az`` shim that runs ``az ml ...`` as flightdeck.

    flightdeck alias install [--dir ~/.local/bin]
    az ml online-endpoint list -o table      # now flightdeck online-endpoint list -o table

The shim maps only ``az ml``: anything else stops with one line (exit 2). It never replaces
a file that is not a flightdeck shim (a real ``az``), and ``uninstall`` removes only its own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from cli.output import emit, say
from deploy.errors import ConflictError, NotFoundError

__all__ = ["MARKER", "register", "shim_text"]

#: The line that marks a file as flightdeck's shim.
MARKER = "# flightdeck az shim"
DEFAULT_DIR = Path("~/.local/bin")


def shim_text(python: str) -> str:
    """The shim: ``az ml X`` runs ``flightdeck X`` with this Python."""
    return f"""#!/bin/sh
{MARKER}: `az ml ...` runs `flightdeck ...` (installed by `flightdeck alias install`).
if [ "$1" = "ml" ]; then
  shift
  exec "{python}" -m cli.main "$@"
fi
echo "ERROR: this az is flightdeck's shim: only 'az ml ...' is mapped (remove it with \
'flightdeck alias uninstall')." >&2
exit 2
"""


def register(subparsers: Any) -> None:
    """Add ``alias`` and its verbs."""
    group = subparsers.add_parser("alias", help="install an `az` shim that maps `az ml ...`")
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, what, handler in (
        ("install", "write the az shim into --dir", _install),
        ("uninstall", "remove the az shim from --dir", _uninstall),
    ):
        parser = verbs.add_parser(verb, help=what)
        parser.add_argument(
            "--dir", default=str(DEFAULT_DIR), help=f"where the shim goes (default {DEFAULT_DIR})"
        )
        parser.set_defaults(handler=handler)


def _target(args: argparse.Namespace) -> Path:
    return Path(args.dir).expanduser() / "az"


def _is_shim(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")[:400]
    except OSError:
        return False


def _install(args: argparse.Namespace) -> int:
    target = _target(args)
    if target.exists() and not _is_shim(target):
        raise ConflictError(
            f"{target} exists and is not flightdeck's shim (a real az?): not replaced. "
            "Choose another folder with --dir."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(shim_text(sys.executable), encoding="utf-8")
    target.chmod(0o755)
    found = shutil.which("az")
    if found is None or Path(found).resolve() != target.resolve():
        say(f'Put {target.parent} first on PATH to use it: export PATH="{target.parent}:$PATH"')
    emit(args, {"path": str(target), "maps": "az ml ... -> flightdeck ..."})
    return 0


def _uninstall(args: argparse.Namespace) -> int:
    target = _target(args)
    if not target.exists():
        raise NotFoundError(f"No az shim at {target}.")
    if not _is_shim(target):
        raise ConflictError(f"{target} is not flightdeck's shim: left alone.")
    os.unlink(target)
    return 0
