"""What an interpreter's environment has installed, read from its ``*.dist-info`` folders
without running it (instances' settings depend on it: gunicorn's options by version).

    installed_version("/home/.../envs/ab12/bin/python", "gunicorn")   # '21.2.0' or None
"""

from __future__ import annotations

from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = ["gunicorn_has_control_socket", "installed_version"]

#: gunicorn 23 added its control socket, and with it ``--no-control-socket``.
_CONTROL_SOCKET_SINCE = Version("23")
_DIST_INFO = ("lib/python*/site-packages/*.dist-info", "lib/python*/dist-packages/*.dist-info")


def installed_version(python: str, distribution: str) -> str | None:
    """The version of ``distribution`` in the environment of ``python`` (a venv's
    ``bin/python`` or an installation's), ``None`` when it is not installed there."""
    prefix = Path(python).parent.parent
    wanted = canonicalize_name(distribution)
    for pattern in (
        "lib/python*/site-packages/*.dist-info",
        "lib/python*/dist-packages/*.dist-info",
    ):
        for info in prefix.glob(pattern):
            name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
            if canonicalize_name(name) == wanted:
                return version
    return None


def gunicorn_has_control_socket(python: str) -> bool:
    """True when the gunicorn ``python`` runs is 23 or later (it knows ``--no-control-socket``)."""
    version = installed_version(python, "gunicorn")
    if version is None:
        return False
    try:
        return Version(version) >= _CONTROL_SOCKET_SINCE
    except InvalidVersion:
        return False
