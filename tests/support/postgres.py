"""A throwaway PostgreSQL cluster for tests: ``initdb`` into a temp folder, ``pg_ctl start``
listening on a unix socket in that folder only (no TCP port, so no port to race for),
``pg_ctl stop`` and the folder removed at the end.

    with postgres_cluster() as cluster:     # skip (fail in CI) when PostgreSQL is not installed
        url = cluster.new_database()        # postgresql+psycopg://flightdeck@/test_1?host=/tmp/...
        db = Database(url=url)

The server's programs are looked for in PATH, /usr/lib/postgresql/*/bin (newest
first) and /usr/local/bin. PostgreSQL refuses to run as root: as root, the cluster
belongs to the ``postgres`` account (else ``nobody``) and its programs run as that
user. Durability is off (``fsync``, ``synchronous_commit``): the data is thrown away.

Outside CI a machine without PostgreSQL skips these tests, saying why; in CI (``CI=true``,
where .ci/run installs the server) the same is a failure: a green CI must have run them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["PostgresCluster", "find_bin_dir", "in_ci", "postgres_cluster", "why_not"]

SUPERUSER = "flightdeck"
_PROGRAMS = ("initdb", "pg_ctl", "postgres")
_SETTINGS = (
    "listen_addresses=''",
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=50",
)


def find_bin_dir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or ``None``."""
    candidates: list[Path] = []
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).resolve().parent)
    versioned = Path("/usr/lib/postgresql").glob("*/bin")
    candidates.extend(sorted(versioned, key=_version, reverse=True))
    candidates.append(Path("/usr/local/bin"))
    for folder in candidates:
        if all(os.access(folder / name, os.X_OK) for name in _PROGRAMS):
            return folder
    return None


def _version(folder: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", folder.parent.name)) or (0,)


def in_ci() -> bool:
    """True in CI (``CI=true``), where a test that cannot run is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def why_not() -> str | None:
    """Why no cluster can be started here, or ``None`` when one can."""
    if find_bin_dir() is None:
        return (
            "PostgreSQL's initdb/pg_ctl/postgres are not in PATH, /usr/lib/postgresql/*/bin"
            " or /usr/local/bin (apt-get install postgresql)"
        )
    if importlib.util.find_spec("psycopg") is None:
        return "the psycopg driver is not installed (pip install 'psycopg[binary]')"
    if os.geteuid() == 0 and _service_account() is None:
        return "running as root and no 'postgres' or 'nobody' account to run PostgreSQL as"
    return None


def _service_account() -> pwd.struct_passwd | None:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    return None


@dataclass
class PostgresCluster:
    """A running cluster: its folder (data, socket, log) and the databases made in it."""

    bin_dir: Path
    root: Path
    account: pwd.struct_passwd | None
    _made: itertools.count[int]

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` (psycopg 3, over the unix socket)."""
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.root}"

    def new_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        name = f"test_{next(self._made)}"
        with psycopg.connect(host=str(self.root), user=SUPERUSER, dbname="postgres") as conn:
            conn.autocommit = True
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def run(self, program: str, *args: str, timeout: float = 120) -> None:
        """Run one of the server's programs (as the cluster's account); fail with its output."""
        options: dict[str, Any] = {}
        if self.account is not None:
            options = {"user": self.account.pw_uid, "group": self.account.pw_gid}
            options["extra_groups"] = []
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        done = subprocess.run(
            [str(self.bin_dir / program), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            **options,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            pytest.fail(
                f"{program} {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout}{done.stderr}\n{log}"
            )

    def start(self) -> None:
        self.run(
            "initdb",
            "--pgdata", str(self.data),
            "--username", SUPERUSER,
            "--auth", "trust",
            "--encoding", "UTF8",
            "--no-locale",
            "--no-sync",
        )  # fmt: skip
        options = " ".join(f"-c {setting}" for setting in _SETTINGS)
        # -w: pg_ctl itself waits (up to -t seconds) until the server accepts connections.
        self.run(
            "pg_ctl",
            "--pgdata", str(self.data),
            "--log", str(self.log),
            "--options", f"-k {self.root} {options}",
            "--wait", "--timeout", "60",
            "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server (fast: clients are disconnected); kill it if that fails."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            self.run("pg_ctl", "--pgdata", str(self.data), "--mode", "fast", "--wait", "stop")
        finally:
            if pid_file.exists():
                with contextlib.suppress(ValueError, OSError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A started cluster in a temp folder, stopped and removed afterwards; skips when
    PostgreSQL (or psycopg) is not installed, saying which, and fails so in CI."""
    reason = why_not()
    if reason is not None:
        if in_ci():
            pytest.fail(f"CI=true and no PostgreSQL to test with: {reason}", pytrace=False)
        pytest.skip(f"{reason} (in CI this fails: .ci/run installs PostgreSQL)")
    bin_dir = find_bin_dir()
    assert bin_dir is not None
    account = _service_account() if os.geteuid() == 0 else None
    # Under /tmp, not pytest's tmp_path: a unix socket path must stay under 108 bytes, and
    # the cluster's account must reach the folder (pytest's base folder is private to us).
    root = Path(tempfile.mkdtemp(prefix="fd-pg-"))
    if account is not None:
        os.chown(root, account.pw_uid, account.pw_gid)
    cluster = PostgresCluster(bin_dir=bin_dir, root=root, account=account, _made=itertools.count(1))
    try:
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
