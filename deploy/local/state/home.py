"""The local platform's home folder ($FLIGHTDECK_HOME, default ``~/.flightdeck``).

Layout::

    <home>/                       mode 0700
      admin-token                 the control API's bearer token (mode 0600)
      daemon.json                 the running daemon: pid, control and router URLs
      daemon.lock                 held (flock) by the running daemon: one daemon per home
      ports.json                  the ports the last daemon bound (router, control API): reused
                                  by the next `up` that names none, so scoring URIs stay put
      state.db                    SQLite: endpoints, keys, traffic, deployments, models, processes
      models/<name>/<version>/    registered model copies
      deployments/<endpoint>/<deployment>/<generation>/{code,model}/   what instances run
      logs/daemon.log             the daemon's own log (daemon.out: its stdout/stderr)
      logs/<endpoint>/<deployment>/<instance>.log, storage-initializer.log

    home = Home.resolve(None)          # FLIGHTDECK_HOME or ~/.flightdeck
    token = home.admin_token(create=True)
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.errors import PermissionDeniedError
from deploy.local import messages as msg

__all__ = [
    "DEFAULT_HOME",
    "HOME_ENV",
    "DaemonInfo",
    "Home",
    "HomeNotOwnedError",
    "ListenPorts",
    "owner_only",
    "process_alive",
]

HOME_ENV = "FLIGHTDECK_HOME"
DEFAULT_HOME = Path("~/.flightdeck")


class HomeNotOwnedError(PermissionDeniedError):
    """The home folder belongs to another user: the platform refuses to use it."""


def owner_only() -> int:
    """Make every file this process creates from now on owner-only (umask 077).

    Returns the previous umask.
    """
    return os.umask(0o077)


@dataclass(frozen=True, kw_only=True)
class DaemonInfo:
    """What a running daemon writes to ``daemon.json``."""

    pid: int
    control_url: str
    router_url: str
    home: str
    started_at: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {
            "pid": self.pid,
            "control_url": self.control_url,
            "router_url": self.router_url,
            "home": self.home,
            "started_at": self.started_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DaemonInfo:
        """Rebuild from ``to_dict``'s output; ``ValueError`` when malformed."""
        try:
            return cls(
                pid=int(data["pid"]),
                control_url=str(data["control_url"]),
                router_url=str(data["router_url"]),
                home=str(data["home"]),
                started_at=float(data["started_at"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed daemon.json: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class ListenPorts:
    """The ports a daemon bound, kept in ``ports.json`` after it stops."""

    router: int
    control: int


@dataclass(frozen=True, kw_only=True)
class Home:
    """Paths inside a Flightdeck home folder."""

    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> Home:
        """``home`` if given, else $FLIGHTDECK_HOME, else ``~/.flightdeck`` (absolute)."""
        raw = home or os.environ.get(HOME_ENV) or DEFAULT_HOME
        return cls(root=Path(raw).expanduser().resolve())

    @property
    def state_db(self) -> Path:
        """The SQLite database."""
        return self.root / "state.db"

    @property
    def token_file(self) -> Path:
        """The admin token (mode 0600)."""
        return self.root / "admin-token"

    @property
    def daemon_file(self) -> Path:
        """``daemon.json``, present while a daemon runs."""
        return self.root / "daemon.json"

    @property
    def lock_file(self) -> Path:
        """Locked by the running daemon, so that two never share a home."""
        return self.root / "daemon.lock"

    @property
    def ports_file(self) -> Path:
        """``ports.json``: the ports the last daemon bound (kept when it stops)."""
        return self.root / "ports.json"

    @property
    def models_dir(self) -> Path:
        """Registered model copies."""
        return self.root / "models"

    @property
    def deployments_dir(self) -> Path:
        """Code and model copies of deployments."""
        return self.root / "deployments"

    @property
    def logs_dir(self) -> Path:
        """Every log."""
        return self.root / "logs"

    @property
    def daemon_log(self) -> Path:
        """The daemon's own log."""
        return self.logs_dir / "daemon.log"

    def ensure(self) -> None:
        """Create the folders owner-only; tighten a home others can read (every start).

        Raises ``HomeNotOwnedError`` (with the command that fixes it) when the home
        belongs to another user.
        """
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = self.root.stat()
        if info.st_uid != os.getuid():
            raise HomeNotOwnedError(_not_owned(self.root, info.st_uid))
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(self.root, 0o700)
        for folder in (self.models_dir, self.deployments_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(folder, 0o700)
        for path in self.root.iterdir():  # state.db, metrics.db, bot.db, tokens, ...
            if path.is_file() and not path.is_symlink():
                os.chmod(path, 0o600)

    # ------------------------------------------------------------ admin token

    def admin_token(self, *, create: bool = False) -> str | None:
        """The admin token; made (mode 0600) when missing and ``create`` is set."""
        try:
            token = self.token_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            token = ""
        if token or not create:
            return token or None
        self.ensure()
        token = secrets.token_urlsafe(32)
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(token + "\n")
        os.chmod(self.token_file, 0o600)
        return token

    # ------------------------------------------------------------ daemon.json

    def write_daemon_info(self, info: DaemonInfo) -> None:
        """Write ``daemon.json`` atomically."""
        tmp = self.daemon_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(info.to_dict(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.daemon_file)

    def read_daemon_info(self) -> DaemonInfo | None:
        """``daemon.json``'s content, or ``None`` when absent or unreadable."""
        try:
            data = json.loads(self.daemon_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        try:
            return DaemonInfo.from_dict(data)
        except ValueError:
            return None

    def remove_daemon_info(self, *, pid: int) -> None:
        """Remove ``daemon.json`` if it still names ``pid``."""
        info = self.read_daemon_info()
        if info is not None and info.pid == pid:
            self.daemon_file.unlink(missing_ok=True)

    # ------------------------------------------------------------ ports.json

    def write_ports(self, ports: ListenPorts) -> None:
        """Remember the ports a daemon bound (atomically)."""
        tmp = self.ports_file.with_suffix(".json.tmp")
        data = {"router_port": ports.router, "control_port": ports.control}
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.ports_file)

    def read_ports(self) -> ListenPorts | None:
        """The remembered ports, or ``None`` when absent or unreadable."""
        try:
            data = json.loads(self.ports_file.read_text(encoding="utf-8"))
            ports = ListenPorts(router=int(data["router_port"]), control=int(data["control_port"]))
        except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        valid = all(0 < port < 65536 for port in (ports.router, ports.control))
        return ports if valid else None


def _not_owned(root: Path, uid: int) -> str:
    try:
        import pwd

        owner = pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        owner = f"uid {uid}"
    return msg.HOME_NOT_OWNED.format(root=root, owner=owner, uid=os.getuid(), gid=os.getgid())


def process_alive(pid: int) -> bool:
    """True when process ``pid`` exists and is not a zombie."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True
