"""Holding an instance's processes to ``resources.limits.cpu``, as one machine can.

Two ways, the first that works here:

- **a cgroup** (``cgroup``): the instance's first process is moved into a cgroup of its own,
  ``flightdeck-<daemon pid>-<instance pid>``, made beside the platform's own cgroup, with a
  CPU quota per 100 ms period (cgroup v2 ``cpu.max``, or cgroup v1 ``cpu.cfs_quota_us``
  where the ``cpu`` controller is only mounted as v1). The gunicorn workers it forks later
  are born in it. The kernel enforces it per thread, exactly as a Kubernetes pod's limit is
  enforced (the kubelet writes the same files), with no cost to the platform and nothing
  stopped: a throttled instance still answers its probes, only slower.
- **a duty-cycle throttle** (``throttle``), as ``cpulimit`` does, where no cgroup is
  writable (an unprivileged user, macOS): every 100 ms the platform adds up the CPU time of
  the instance's process tree, and when it has used more than its share it stops the
  instance's process group (``SIGSTOP``) for as long as it takes to be back within the
  limit, then continues it (``SIGCONT``). Coarser (a CPU-bound instance runs 100 ms, then
  stands still for the rest), and a stopped instance answers nothing until it continues.

Either way the instance's log says once per process when it was first throttled.

    limiter = start_cpu_limit(pid, cores=0.25, method="auto", label="250m")
    note = limiter.poll()          # a log line the first time it is throttled, else None
    await limiter.release()        # before the process group is signalled to end
    limiter.remove()               # after it has ended
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Protocol

import psutil

__all__ = [
    "AUTO",
    "CGROUP",
    "THROTTLE",
    "CpuLimiter",
    "cgroup_parent",
    "parse_cpu",
    "start_cpu_limit",
]

AUTO = "auto"
CGROUP = "cgroup"
THROTTLE = "throttle"

_PERIOD_US = 100_000
_TICK_SECONDS = 0.1
_PREFIX = "flightdeck-"
_CGROUP_ROOT = Path("/sys/fs/cgroup")


class CpuLimiter(Protocol):
    """What an instance holds while a CPU limit applies to one of its processes."""

    method: str

    def poll(self) -> str | None:
        """The words for the log the first time the process is throttled, else ``None``."""

    async def release(self) -> None:
        """Stop limiting (the process group may then be signalled to end)."""

    def remove(self) -> None:
        """Forget what was made for the process, once it has ended."""


def parse_cpu(text: str) -> float | None:
    """A Kubernetes CPU quantity in cores (``"250m"`` -> 0.25, ``"1.5"``), ``None`` if invalid."""
    text = text.strip()
    try:
        cores = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        return None
    return cores if cores > 0 and cores == cores and cores != float("inf") else None


def start_cpu_limit(pid: int, *, cores: float, method: str = AUTO) -> CpuLimiter:
    """Hold process ``pid`` (the leader of its own process group) and every process it
    starts to ``cores`` CPUs: in a cgroup when one is writable here (``method`` ``auto`` or
    ``cgroup``), else (or with ``throttle``) by stopping and continuing its group."""
    if method in (AUTO, CGROUP):
        parent = cgroup_parent()
        if parent is not None:
            with contextlib.suppress(OSError):
                return _CgroupLimit(parent, pid, cores)
    return _Throttle(pid, cores)


# ---------------------------------------------------------------- cgroups


class _Parent:
    """Where instance cgroups are made: a folder, and whether it is cgroup v2."""

    def __init__(self, folder: Path, *, v2: bool) -> None:
        self.folder = folder
        self.v2 = v2


def cgroup_parent() -> _Parent | None:
    """The writable cgroup with a ``cpu`` controller that instance cgroups go under (the
    platform's own, in v2 or v1), or ``None`` when there is none."""
    try:
        own = Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in own:
        number, controllers, path = line.split(":", 2)
        if number == "0" and not controllers:
            for mount in (_CGROUP_ROOT, _CGROUP_ROOT / "unified"):
                folder = mount / path.lstrip("/")
                if _v2_usable(folder):
                    return _sweep(_Parent(folder, v2=True))
    for line in own:
        _number, controllers, path = line.split(":", 2)
        names = controllers.split(",")
        if "cpu" in names:
            folder = _CGROUP_ROOT / controllers / path.lstrip("/")
            if not folder.is_dir():
                folder = _CGROUP_ROOT / "cpu" / path.lstrip("/")
            if (folder / "cpu.cfs_quota_us").is_file() and os.access(folder, os.W_OK):
                return _sweep(_Parent(folder, v2=False))
    return None


def _v2_usable(folder: Path) -> bool:
    try:
        if "cpu" not in (folder / "cgroup.controllers").read_text(encoding="utf-8").split():
            return False
        control = folder / "cgroup.subtree_control"
        if "cpu" not in control.read_text(encoding="utf-8").split():
            control.write_text("+cpu", encoding="utf-8")  # refused when not delegated
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def _sweep(parent: _Parent) -> _Parent:
    """Remove the instance cgroups that a daemon which is gone left behind (a cgroup whose
    processes are all gone is empty, and rmdir removes only an empty one)."""
    with contextlib.suppress(OSError):
        for child in parent.folder.glob(f"{_PREFIX}*"):
            daemon = child.name.removeprefix(_PREFIX).split("-", 1)[0]
            if daemon.isdigit() and not psutil.pid_exists(int(daemon)):
                with contextlib.suppress(OSError):
                    child.rmdir()
    return parent


class _CgroupLimit:
    """A cgroup of one instance process, with a CPU quota."""

    method = CGROUP

    def __init__(self, parent: _Parent, pid: int, cores: float) -> None:
        self._folder = parent.folder / f"{_PREFIX}{os.getpid()}-{pid}"
        self._folder.mkdir(exist_ok=True)
        quota = max(1000, int(cores * _PERIOD_US))
        try:
            if parent.v2:
                (self._folder / "cpu.max").write_text(f"{quota} {_PERIOD_US}", encoding="utf-8")
            else:
                (self._folder / "cpu.cfs_period_us").write_text(str(_PERIOD_US), encoding="utf-8")
                (self._folder / "cpu.cfs_quota_us").write_text(str(quota), encoding="utf-8")
            (self._folder / "cgroup.procs").write_text(str(pid), encoding="utf-8")
        except OSError:
            self.remove()
            raise
        self._file = "cpu.max" if parent.v2 else "cpu.cfs_quota_us"
        self._noted = False

    def poll(self) -> str | None:
        if self._noted:
            return None
        try:
            stat = (self._folder / "cpu.stat").read_text(encoding="utf-8").split()
        except OSError:
            return None
        counts = dict(zip(stat[::2], stat[1::2], strict=False))
        if int(counts.get("nr_throttled", "0") or 0) <= 0:
            return None
        self._noted = True
        return f"cgroup {self._folder.name} ({self._file})"

    async def release(self) -> None:
        return None

    def remove(self) -> None:
        # The processes were killed and reaped; the kernel may take a moment to empty it.
        deadline = time.monotonic() + 2.0
        while self._folder.exists():
            try:
                self._folder.rmdir()
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.02)


# ---------------------------------------------------------------- the duty-cycle throttle


class _Throttle:
    """Stops and continues a process group to keep its tree's CPU time within a share."""

    method = THROTTLE

    def __init__(self, pid: int, cores: float) -> None:
        self._pid = pid
        self._cores = cores
        self._seen: dict[int, float] = {}
        self._stopped = False
        self._throttled = False
        self._noted = False
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=f"cpu {pid}")

    def poll(self) -> str | None:
        if self._noted or not self._throttled:
            return None
        self._noted = True
        return "the platform's duty-cycle throttle (SIGSTOP/SIGCONT of its process group)"

    async def release(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._continue()

    def remove(self) -> None:
        return None

    async def _loop(self) -> None:
        # balance: CPU seconds the tree may still use; it earns `cores` per second and never
        # saves more than one period's worth (no burst after an idle minute).
        balance = 0.0
        last = time.monotonic()
        while True:
            await asyncio.sleep(_TICK_SECONDS)
            now = time.monotonic()
            balance = min(balance + (now - last) * self._cores, _TICK_SECONDS * self._cores)
            last = now
            balance -= await asyncio.to_thread(self._used)
            if balance < 0:
                self._throttled = True
                self._signal(signal.SIGSTOP)
                self._stopped = True
                try:
                    await asyncio.sleep(-balance / self._cores)
                finally:
                    self._continue()
                now = time.monotonic()
                balance = min(balance + (now - last) * self._cores, 0.0)
                last = now

    def _used(self) -> float:
        """CPU seconds the tree used since the last call (a new process: all of its own)."""
        try:
            root = psutil.Process(self._pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0.0
        used = 0.0
        seen: dict[int, float] = {}
        for process in processes:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total = times.user + times.system
                seen[process.pid] = total
                used += total - self._seen.get(process.pid, 0.0)
        self._seen = seen
        return max(used, 0.0)

    def _continue(self) -> None:
        if self._stopped:
            self._signal(signal.SIGCONT)
            self._stopped = False

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._pid, sig)
