"""CPU and memory of instance process trees (psutil), as Azure Monitor's percentages.

``CpuUtilizationPercentage`` of an instance is the CPU its process tree (the gunicorn
master and workers) used since the previous sample, as a share of the machine's
CPUs; ``CpuMemoryUtilizationPercentage`` is its resident memory over the machine's.
A deployment's value is the mean over its instances.

    sampler = ResourceSampler()
    usage = sampler([pid_of_instance_1, pid_of_instance_2])
    usage.cpu_percent, usage.memory_percent
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

__all__ = ["ResourceSampler", "ResourceUsage"]


@dataclass(frozen=True, kw_only=True)
class ResourceUsage:
    """A deployment's mean CPU % and memory % over its instances (``None``: no instance)."""

    cpu_percent: float | None = None
    memory_percent: float | None = None


class ResourceSampler:
    """Samples process trees; remembers the processes so CPU is measured between calls."""

    def __init__(self) -> None:
        self._processes: dict[int, psutil.Process] = {}
        self._cpus = psutil.cpu_count() or 1
        self._memory = psutil.virtual_memory().total

    def __call__(self, pids: Sequence[int]) -> ResourceUsage:
        """The mean usage of the trees rooted at ``pids`` (first call per process: 0 % CPU)."""
        cpu: list[float] = []
        memory: list[float] = []
        for pid in pids:
            tree = self._tree(pid)
            if not tree:
                continue
            busy = 0.0
            rss = 0
            for process in tree:
                with contextlib.suppress(psutil.Error):
                    busy += process.cpu_percent(interval=None)
                    rss += process.memory_info().rss
            cpu.append(busy / self._cpus)
            memory.append(100.0 * rss / self._memory)
        if not cpu:
            return ResourceUsage()
        return ResourceUsage(
            cpu_percent=round(sum(cpu) / len(cpu), 2),
            memory_percent=round(sum(memory) / len(memory), 3),
        )

    def _tree(self, pid: int) -> list[psutil.Process]:
        try:
            root = self._process(pid)
            children = root.children(recursive=True)
        except psutil.Error:
            self._processes.pop(pid, None)
            return []
        tree = [root]
        for child in children:
            with contextlib.suppress(psutil.Error):
                tree.append(self._process(child.pid))
        self._forget_gone()
        return tree

    def _process(self, pid: int) -> psutil.Process:
        process = self._processes.get(pid)
        if process is None or not process.is_running():
            process = self._processes[pid] = psutil.Process(pid)
            process.cpu_percent(interval=None)
        return process

    def _forget_gone(self) -> None:
        if len(self._processes) > 256:
            for pid in [p for p, proc in self._processes.items() if not proc.is_running()]:
                del self._processes[pid]
