"""Starting an instance process (azmlinfsrv or fastserve), and small process and probe helpers.

The command runs Azure's inference server (``azureml_inference_server_http.amlserver``),
or with ``server="fast"`` a fastserve folder, with two changes made before it starts, in
the child only:

- it binds 127.0.0.1 (the server's own default host is 0.0.0.0);
- on Linux the gunicorn master, and every process it forks (the workers), gets
  ``PR_SET_PDEATHSIG`` = SIGKILL: when the platform's process dies (a killed daemon,
  a killed test run), its instances die with it instead of serving on as orphans.

    command = launch_command(sys.executable, entry_script, port=free_port())
    env[PARENT_ENV] = str(os.getpid())
    await probe(port, 2.0)              # GET / answered 200?
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import secrets
import signal
import socket
import stat
import tempfile
from pathlib import Path

import psutil

from deploy.local import messages as msg
from deploy.local.instances.servers import AZMLINFSRV

__all__ = [
    "HOST",
    "PARENT_ENV",
    "UNIX_SOCKET_ENV",
    "create_time",
    "fastserve_folder",
    "free_port",
    "launch_command",
    "probe",
    "signal_group",
    "unix_socket_path",
    "wait_any",
    "watch_exit",
]

HOST = "127.0.0.1"
#: fastserve's variable for the Unix socket it also listens on (scoring/fastserve/unix.py).
UNIX_SOCKET_ENV = "FASTSERVE_UNIX_SOCKET"
_SUN_PATH_MAX = 100  # sockaddr_un holds 104 (macOS) to 108 (Linux) bytes
#: The variable telling the launcher which process must outlive the instance.
PARENT_ENV = "FLIGHTDECK_PLATFORM_PID"
#: On Linux the server process, and every process it forks, is killed when its parent dies
#: (PR_SET_PDEATHSIG): no instance outlives a killed daemon or test run.
_GUARD = (
    "import os, signal, sys\n"
    f"parent = int(os.environ.pop('{PARENT_ENV}', '0'))\n"
    "if sys.platform.startswith('linux'):\n"
    "    import ctypes\n"
    "    libc = ctypes.CDLL(None, use_errno=True)\n"
    "    def guard(expected):\n"
    "        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)\n"
    "        if expected and os.getppid() != expected:\n"
    "            os._exit(1)\n"
    "    guard(parent)\n"
    "    master = os.getpid()\n"
    "    os.register_at_fork(after_in_child=lambda: guard(master))\n"
)
#: Runs azmlinfsrv bound to loopback only (its own default host is 0.0.0.0); the gunicorn
#: workers are forks of the guarded master.
_AZMLINFSRV = (
    _GUARD + "from azureml_inference_server_http import amlserver\n"
    "amlserver.DEFAULT_HOST = '127.0.0.1'\n"
    "sys.argv[0] = 'azmlinfsrv'\n"
    "sys.exit(amlserver.run())\n"
)
#: Runs a fastserve folder (its ``__main__``) as ``python <folder>`` would; the folder is
#: the first argument. Its server processes (``FASTSERVE_PROCESSES``) are started with
#: subprocess, not forked: they get the guard through ``preexec_fn``.
_FASTSERVE = (
    _GUARD + "import runpy, subprocess\n"
    "if sys.platform.startswith('linux'):\n"
    "    class GuardedPopen(subprocess.Popen):\n"
    "        def __init__(self, *args, **kwargs):\n"
    "            kwargs.setdefault('preexec_fn', lambda parent=os.getpid(): guard(parent))\n"
    "            super().__init__(*args, **kwargs)\n"
    "    subprocess.Popen = GuardedPopen\n"
    "sys.argv[:2] = [sys.argv[1]]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def launch_command(
    python: str,
    entry_script: Path,
    *,
    port: int,
    server: str = AZMLINFSRV,
    app_root: Path | None = None,
) -> list[str]:
    """The command line of an instance serving ``entry_script`` on ``port`` with ``server``
    (``azmlinfsrv``, or ``fast``: the code folder's own ``fastserve/`` if ``app_root`` has
    one, else the installed ``scoring.fastserve``)."""
    arguments = ["--entry_script", str(entry_script), "--port", str(port)]
    if server == AZMLINFSRV:
        return [python, "-c", _AZMLINFSRV, *arguments]
    folder = fastserve_folder(app_root)
    return [python, "-c", _FASTSERVE, str(folder), *arguments, "--host", HOST]


def fastserve_folder(app_root: Path | None) -> Path:
    """The fastserve package folder to run: ``<app_root>/fastserve`` when the uploaded code
    ships it (the ``scoring/`` folder does), else the one installed with Flightdeck."""
    if app_root is not None and (app_root / "fastserve" / "__main__.py").is_file():
        return app_root / "fastserve"
    found = importlib.util.find_spec("scoring.fastserve")
    if found is None or not found.submodule_search_locations:
        raise OSError(msg.FASTSERVE_MISSING)
    return Path(next(iter(found.submodule_search_locations)))


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def probe(port: int, seconds: float) -> bool:
    """True when ``GET /`` on the instance answers 200 within ``seconds``."""

    async def ask() -> bool:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            await writer.drain()
            status = await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return status.split(b" ", 2)[1:2] == [b"200"]

    try:
        return await asyncio.wait_for(ask(), seconds)
    except (OSError, TimeoutError, IndexError):
        return False


def watch_exit(loop: asyncio.AbstractEventLoop, pid: int, exited: asyncio.Event) -> int | None:
    """Set ``exited`` when process ``pid`` ends (a pidfd on the loop); return the fd to
    close, or ``None`` where pidfds are unsupported (the caller polls instead)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None
    loop.add_reader(fd, exited.set)
    return fd


async def wait_any(*events: asyncio.Event, seconds: float) -> None:
    """Wait until one of ``events`` is set or ``seconds`` pass."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group led by ``pid`` (gone already: nothing happens)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def create_time(pid: int) -> float:
    """When process ``pid`` started (unix seconds), 0.0 if it is gone."""
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return 0.0


def unix_socket_path() -> str | None:
    """A new path for a fastserve instance's Unix socket, which the router connects to.

    In ``<tmp>/flightdeck-<uid>/``, a folder only its owner may enter (made if missing);
    a random name, so a path is never shared by two processes. None where there are no
    Unix sockets, or when the folder is not private or the path would be too long: the
    router then uses the instance's TCP port.
    """
    if not hasattr(socket, "AF_UNIX") or not hasattr(os, "getuid"):
        return None
    folder = Path(tempfile.gettempdir()) / f"flightdeck-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    path = str(folder / f"instance-{secrets.token_hex(6)}.sock")
    return path if len(os.fsencode(path)) <= _SUN_PATH_MAX else None
