"""How much memory an instance uses: its process and every descendant, together.

Proportional set size (PSS) where the kernel gives it: a page shared by the gunicorn
master and its forked workers is counted once across them, as a container's memory
cgroup counts it; resident set size otherwise.

    used = tree_memory(pid)     # bytes; 0 when the process is gone
"""

from __future__ import annotations

import contextlib

import psutil

__all__ = ["tree_memory"]


def tree_memory(pid: int) -> int:
    """Bytes used by process ``pid`` and its descendants (0 when it is gone)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += _one(process)
    return total


def _one(process: psutil.Process) -> int:
    try:
        pss = getattr(process.memory_full_info(), "pss", None)
    except (psutil.AccessDenied, NotImplementedError):
        pss = None
    return int(pss) if pss is not None else int(process.memory_info().rss)
