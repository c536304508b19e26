"""uv, the resolver and installer environments are built with: its binary, the package index
pip is configured with on this machine, and the interpreter a conda file's python pin asks for.

uv does not read pip's configuration. Where pip works (a mirror in ``/etc/pip.conf``,
``PIP_INDEX_URL``, find-links, a CA bundle), uv is given the same settings, read with
``pip config list``; when uv is configured on its own (``UV_INDEX_URL``, ``UV_DEFAULT_INDEX``,
``UV_INDEX``, ``UV_EXTRA_INDEX_URL``, ``UV_FIND_LINKS``), pip's settings are left out.

Python interpreters are found, never downloaded: ``uv python find`` with downloads off
looks on the machine and among uv's managed Pythons already installed.

    index = await pip_index_settings(sys.executable)
    found = await find_python("==3.10.*")          # None: not on this machine
"""

from __future__ import annotations

import asyncio
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import uv

__all__ = [
    "UV_ENV",
    "FoundPython",
    "IndexSettings",
    "find_python",
    "parse_pip_config",
    "pip_index_settings",
    "uv_binary",
]

#: Set for every uv command: no interpreter downloads at run time, no progress bars in logs.
UV_ENV: Mapping[str, str] = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
#: Variables that configure uv's index itself; with any set, pip's configuration is not used.
_UV_INDEX_VARIABLES = (
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_NO_INDEX",
)
_FIND_TIMEOUT = 60.0


@dataclass(frozen=True, kw_only=True)
class IndexSettings:
    """uv options and variables equivalent to pip's configuration on this machine."""

    options: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)


def uv_binary() -> str:
    """The uv executable installed with Flightdeck (the ``uv`` package on PyPI)."""
    return uv.find_uv_bin()


def parse_pip_config(text: str, *, environ: Mapping[str, str] | None = None) -> IndexSettings:
    """uv's equivalent of ``pip config list`` output (``global.index-url='…'`` lines).

    index-url, extra-index-url, find-links, trusted-host, constraint (when its file
    exists) and cert (as ``SSL_CERT_FILE``) carry over; other keys do not concern uv.
    """
    source = os.environ if environ is None else environ
    if any(source.get(name) for name in _UV_INDEX_VARIABLES):
        return IndexSettings()
    values: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, raw = line.partition("=")
        if not sep:
            continue
        key = name.rsplit(".", 1)[-1].strip()
        try:
            words = shlex.split(raw)
        except ValueError:
            continue
        # Environment (":env:") lines come after the files' and win, as they do for pip.
        values[key] = " ".join(words)
    options: list[str] = []
    flags = {
        "index-url": "--index-url",
        "extra-index-url": "--extra-index-url",
        "find-links": "--find-links",
        "trusted-host": "--allow-insecure-host",
    }
    for key, flag in flags.items():
        for value in values.get(key, "").split():
            options += [flag, value]
    if values.get("extra-index-url", "").strip():
        # pip picks the best version across all its indexes; uv only does when told so.
        options += ["--index-strategy", "unsafe-best-match"]
    for constraint in values.get("constraint", "").split():
        if Path(constraint).is_file():
            options += ["--constraint", constraint]
    environment: dict[str, str] = {}
    cert = values.get("cert", "")
    if cert and Path(cert).is_file() and not source.get("SSL_CERT_FILE"):
        environment["SSL_CERT_FILE"] = cert
    return IndexSettings(options=tuple(options), environment=environment)


async def pip_index_settings(python: str) -> IndexSettings:
    """pip's index configuration as ``python -m pip`` sees it, for uv (empty without pip)."""
    try:
        process = await asyncio.create_subprocess_exec(
            python,
            "-m",
            "pip",
            "config",
            "list",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(process.communicate(), _FIND_TIMEOUT)
    except (OSError, TimeoutError):
        return IndexSettings()
    if process.returncode != 0:
        return IndexSettings()
    return parse_pip_config(out.decode(errors="replace"))


@dataclass(frozen=True, kw_only=True)
class FoundPython:
    """An interpreter on this machine for a python pin, or why there is none."""

    executable: str | None
    reason: str = ""


async def find_python(request: str) -> FoundPython:
    """The interpreter ``uv python find`` gives for ``request`` (``==3.10.*``, ``3.10``),
    without downloading one; ``executable`` is ``None`` (with uv's reason) when none is found."""
    env = {**os.environ, **UV_ENV}
    try:
        process = await asyncio.create_subprocess_exec(
            uv_binary(),
            "python",
            "find",
            "--no-python-downloads",
            request,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        out, err = await asyncio.wait_for(process.communicate(), _FIND_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        return FoundPython(executable=None, reason=str(exc) or type(exc).__name__)
    if process.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        first = lines[0].removeprefix("error: ") if lines else f"exit code {process.returncode}"
        return FoundPython(executable=None, reason=first)
    return FoundPython(executable=out.decode().strip())
