"""Several server processes on one port, for instances with more than one core.

One Python process runs Python code on one core at a time (the GIL): run() calls in its
threads share that core, and only the parts that release the GIL (a model's own kernels)
spread further. ``FASTSERVE_PROCESSES=N`` (or ``auto``: one per core) starts N complete
servers, each loading the script, running init() and listening on the same port with
``SO_REUSEPORT``, so the kernel spreads connections over them; ``WORKER_COUNT`` stays the
threads of each. This parent only supervises, as gunicorn's master does for azmlinfsrv:

- a child that fails to start (exit code 2 or 3) stops them all, with that exit code;
- a child that dies later is started again;
- SIGTERM or SIGINT is passed on to every child, and the parent exits 0 once they have.

Usage::

    sys.exit(supervise(count=4, argv=sys.argv[1:]))
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from . import messages as msg
from .errors import EXIT_CONFIG, EXIT_STARTUP
from .unix import UNIX_FD_ENV, UNIX_SOCKET_ENV, bind_unix, remove_unix

logger = logging.getLogger("fastserve")

CHILD_ENV = "FASTSERVE_CHILD"
_RESTART_PAUSE_S = 1.0
_UNIX_BACKLOG = 2048


def supervise(*, count: int, argv: Sequence[str]) -> int:
    """Run ``count`` server processes until a signal; the exit code for the parent."""
    command = [sys.executable, str(Path(__file__).resolve().parent), *argv]
    environ = {**os.environ, CHILD_ENV: "1"}
    children: dict[int, subprocess.Popen[bytes]] = {}
    stopping: list[int] = []
    unix_path = os.environ.get(UNIX_SOCKET_ENV)
    passed: tuple[int, ...] = ()
    if unix_path:  # bound once here; the children inherit the listening socket
        try:
            unix_sock = bind_unix(unix_path, _UNIX_BACKLOG)
        except OSError as error:
            logger.error(msg.UNIX_SOCKET_FAILED.format(path=unix_path, reason=error))
            return EXIT_STARTUP
        passed = (unix_sock.fileno(),)
        environ[UNIX_FD_ENV] = str(unix_sock.fileno())

    def start() -> None:
        child = subprocess.Popen(command, env=environ, pass_fds=passed)
        children[child.pid] = child

    try:
        return _run(count, start, children, stopping)
    finally:
        if unix_path:
            remove_unix(unix_path)


def _run(
    count: int,
    start: Callable[[], None],
    children: dict[int, subprocess.Popen[bytes]],
    stopping: list[int],
) -> int:
    """Start ``count`` children with ``start``; supervise them until a signal."""

    def on_signal(number: int, _frame: FrameType | None) -> None:
        stopping.append(number)
        for child in children.values():
            child.send_signal(number)

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, on_signal)
    for _ in range(count):
        start()
    logger.info(msg.PROCESSES_STARTED.format(count=count, pids=", ".join(map(str, children))))
    while children:
        pid, status = os.wait()
        child = children.pop(pid, None)
        if child is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        if stopping:
            continue
        if code in (EXIT_CONFIG, EXIT_STARTUP):
            logger.error(msg.CHILD_FAILED_TO_START.format(pid=pid, code=code))
            on_signal(signal.SIGTERM, None)
            _reap(children)
            return code
        logger.error(msg.CHILD_DIED.format(pid=pid, code=code))
        time.sleep(_RESTART_PAUSE_S)  # a pause before restarting, as a crash loop would spin
        start()
    return 0


def _reap(children: dict[int, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        child.wait()
    children.clear()
