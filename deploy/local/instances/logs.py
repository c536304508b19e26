"""Deployment logs: one file per instance (the inference server's output) and the
storage-initializer log (model copy, environment), under ``<home>/logs/<endpoint>/<deployment>/``.

``tail`` answers ``get-logs``: the last L lines across the instances, merged by the
inference server's own timestamps and prefixed with the instance name when there
are several; or the last L lines of the storage-initializer log. An instance that
made a create or update fail (``mark_failed``) comes first, under a line naming it and
why, with its own last L lines: its traceback is not lost among a healthy instance's
lines. The marks are cleared when the next create or update starts.

    logs = DeploymentLogs(folder=home / "logs" / "product-recommender" / "blue")
    logs.storage("Copying model ...")
    print(logs.tail(lines=50, container="inference-server"))
"""

from __future__ import annotations

import heapq
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from deploy.types import ContainerType

__all__ = [
    "LOG_BACKUPS",
    "ROTATE_BYTES",
    "STORAGE_LOG",
    "DeploymentLogs",
    "rotate_logs",
    "tail_file",
]

STORAGE_LOG = "storage-initializer.log"
_INSTANCE_SUFFIX = ".log"
_FAILED_SUFFIX = ".failed"
#: A log file rotates past this size; ``<name>.log.1`` .. ``.log.<LOG_BACKUPS>`` are kept.
ROTATE_BYTES = 16 * 1024 * 1024
LOG_BACKUPS = 3
_BLOCK = 8192
# azmlinfsrv's logging format starts every record with "2026-11-24 18:19:38,602".
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[,.]\d{3})")


class DeploymentLogs:
    """The log files of one deployment."""

    def __init__(self, *, folder: Path, clock: Callable[[], float] = time.time) -> None:
        self.folder = folder
        self._clock = clock

    def instance_path(self, instance: str) -> Path:
        """The file an instance's stdout and stderr go to (rotated when large)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{instance}{_INSTANCE_SUFFIX}"
        _rotate(path, ROTATE_BYTES, LOG_BACKUPS, copy=False)
        return path

    @property
    def storage_path(self) -> Path:
        """The storage-initializer log."""
        return self.folder / STORAGE_LOG

    def storage(self, line: str) -> None:
        """Append a timestamped line to the storage-initializer log."""
        self.folder.mkdir(parents=True, exist_ok=True)
        _rotate(self.storage_path, ROTATE_BYTES, LOG_BACKUPS, copy=False)
        stamp = datetime.fromtimestamp(self._clock()).strftime("%Y-%m-%d %H:%M:%S,%f")[:23]
        with self.storage_path.open("a", encoding="utf-8") as out:
            out.write(f"{stamp} I storage-initializer - {line}\n")

    def mark_failed(self, instance: str, reason: str) -> None:
        """Record that ``instance`` made a create or update fail (shown first by ``tail``)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{instance}{_FAILED_SUFFIX}").write_text(reason + "\n", encoding="utf-8")

    def clear_failures(self) -> None:
        """Forget the marks of ``mark_failed`` (a new create or update starts)."""
        if self.folder.is_dir():
            for path in self.folder.glob(f"*{_FAILED_SUFFIX}"):
                path.unlink(missing_ok=True)

    def failures(self) -> dict[str, str]:
        """The instances marked failed, and why."""
        if not self.folder.is_dir():
            return {}
        return {
            path.stem: path.read_text(encoding="utf-8").strip()
            for path in sorted(self.folder.glob(f"*{_FAILED_SUFFIX}"))
        }

    def tail(self, *, lines: int, container: ContainerType = "inference-server") -> str:
        """The last ``lines`` lines of a container's log ("" when there is none yet); an
        instance marked failed first, with its own last ``lines`` lines under a heading."""
        if lines <= 0:
            return ""
        if container == "storage-initializer":
            return "".join(line + "\n" for line in _tail_rotated(self.storage_path, lines))
        failed = self.failures()
        files = self._instance_files()
        out: list[str] = []
        for path in files:
            if path.stem in failed:
                out.append(f"===== {path.stem} failed: {failed[path.stem]} =====")
                out.extend(f"[{path.stem}] {line}" for line in _tail_rotated(path, lines))
        others = [path for path in files if path.stem not in failed]
        tails = [(path.stem, _tail_rotated(path, lines)) for path in others]
        merged = _merge(tails, prefix=len(tails) > 1 or bool(out))
        if out and merged:
            out.append("===== the other instances =====")
        out.extend(merged[-lines:])
        return "".join(line + "\n" for line in out)

    def remove(self) -> None:
        """Delete the deployment's logs."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def _instance_files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(
            path
            for path in self.folder.iterdir()
            if path.suffix == _INSTANCE_SUFFIX and path.name != STORAGE_LOG
        )


def rotate_logs(
    logs_dir: Path, *, max_bytes: int = ROTATE_BYTES, backups: int = LOG_BACKUPS
) -> list[Path]:
    """Rotate every instance and storage-initializer log under ``logs_dir`` past ``max_bytes``.

    A running instance keeps writing to its file (opened for appending), so its log
    is copied to ``.log.1`` and cut to nothing in place (as logrotate's copytruncate
    does; a line written between the copy and the cut is lost). Returns the files rotated.
    """
    rotated: list[Path] = []
    for path in logs_dir.glob(f"*/*/*{_INSTANCE_SUFFIX}"):
        if _rotate(path, max_bytes, backups, copy=True):
            rotated.append(path)
    return rotated


def _rotate(path: Path, max_bytes: int, backups: int, *, copy: bool) -> bool:
    """Shift ``path.1..`` up and move (or copy and cut) ``path`` to ``path.1`` when large."""
    try:
        if path.stat().st_size <= max_bytes:
            return False
    except FileNotFoundError:
        return False
    for number in range(backups - 1, 0, -1):
        older = path.with_name(f"{path.name}.{number}")
        if older.exists():
            older.replace(path.with_name(f"{path.name}.{number + 1}"))
    first = path.with_name(f"{path.name}.1")
    if copy:
        shutil.copyfile(path, first)
        os.truncate(path, 0)
    else:
        path.replace(first)
    return True


def _tail_rotated(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of ``path``, continued into ``path.1`` when it has fewer."""
    found = tail_file(path, lines)
    if len(found) < lines:
        found = tail_file(path.with_name(f"{path.name}.1"), lines - len(found)) + found
    return found


def tail_file(path: Path, lines: int, *, since: int = 0) -> list[str]:
    """The last ``lines`` lines of ``path`` after byte offset ``since`` ([] if absent)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return []
    try:
        end = os.fstat(fd).st_size
        since = since if since <= end else 0  # the file was cut (rotated) since
        start = end
        data = b""
        while start > since and data.count(b"\n") <= lines:
            step = min(_BLOCK, start - since)
            start -= step
            data = os.pread(fd, step, start) + data
    finally:
        os.close(fd)
    text = data.decode("utf-8", errors="replace")
    result = text.splitlines()
    return result[-lines:] if lines else []


def _merge(tails: Iterable[tuple[str, list[str]]], *, prefix: bool) -> list[str]:
    """Merge per-instance lines by timestamp; a line without one keeps its predecessor's."""
    keyed: list[list[tuple[str, int, int, str]]] = []
    for index, (instance, lines) in enumerate(tails):
        stamp = ""
        rows: list[tuple[str, int, int, str]] = []
        for number, line in enumerate(lines):
            found = _STAMP.match(line)
            if found:
                stamp = found.group(1).replace(".", ",")
            rows.append((stamp, index, number, f"[{instance}] {line}" if prefix else line))
        keyed.append(rows)
    return [row[3] for row in heapq.merge(*keyed)]
