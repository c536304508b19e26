"""The Unix socket fastserve also listens on, when ``FASTSERVE_UNIX_SOCKET`` names one.

The local platform's router reaches a fastserve instance over it: a loopback TCP hop
costs both processes the kernel's TCP stack on every request, a Unix socket does not.
The TCP port stays (probes, direct use). The socket file is made readable and writable
by its owner only. With ``FASTSERVE_PROCESSES`` above 1 the supervising parent binds it
and its children inherit the listening socket (``FASTSERVE_UNIX_FD``), as they share the
TCP port.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Mapping

__all__ = ["UNIX_FD_ENV", "UNIX_SOCKET_ENV", "bind_unix", "inherited_unix", "remove_unix"]

UNIX_SOCKET_ENV = "FASTSERVE_UNIX_SOCKET"
UNIX_FD_ENV = "FASTSERVE_UNIX_FD"


def bind_unix(path: str, backlog: int) -> socket.socket:
    """A listening, non-blocking Unix socket at ``path`` (a stale socket file is replaced).

    Raises ``OSError`` (a path that is not a socket is never removed).
    """
    remove_unix(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o600)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def inherited_unix(environ: Mapping[str, str]) -> socket.socket | None:
    """The listening Unix socket a supervising parent passed down, if any."""
    fd = environ.get(UNIX_FD_ENV)
    if not fd:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=int(fd))
    sock.setblocking(False)
    return sock


def remove_unix(path: str) -> None:
    """Remove the socket file (a stale one, or ours at shutdown), if it is a socket."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
