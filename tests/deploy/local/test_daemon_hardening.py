"""The daemon against hostile local clients and careless operators, driven for real.

A daemon started with ``ulimit -n 1024``, an endpoint and a deployment; then a flood
of idle connections, malformed requests carrying the real key and admin token, and
a grep of every file under the home. Also a home that existed 0755, and one that
belongs to another user.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from deploy.local.state.home import Home
from tests.support.flightdeck_cli import (
    ROW,
    LocalPlatform,
    local_platform,
    write_deployment,
    write_endpoint,
)

pytestmark = pytest.mark.slow(budget=120)

EP = "product-recommender"
BODY = json.dumps({"data": [ROW]}).encode()


@dataclass
class Running:
    platform: LocalPlatform
    key: str
    token: str

    @property
    def home(self) -> Path:
        return self.platform.home


@contextlib.contextmanager
def open_files_limit(soft: int) -> Iterator[None]:
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("hardening")
    specs = root / "specs"
    specs.mkdir()
    home = root / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)  # a home that existed, readable by all
    with contextlib.ExitStack() as stack:
        with open_files_limit(1024):  # the daemon starts under `ulimit -n 1024`
            platform = stack.enter_context(local_platform(home))
        platform.cli("online-endpoint", "create", "--file", str(write_endpoint(specs))).ok()
        platform.cli(
            "online-deployment", "create", "--file", str(write_deployment(specs)), "--all-traffic"
        ).ok()
        key = platform.cli("online-endpoint", "get-credentials", "-n", EP).ok().json()
        token = Home(root=home).admin_token()
        assert token is not None
        yield Running(platform=platform, key=key["primaryKey"], token=token)


def _score(running: Running, *, timeout: float = 10.0) -> int:
    request = urllib.request.Request(
        running.platform.scoring_uri(EP),
        data=BODY,
        headers={"Authorization": f"Bearer {running.key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _daemon(running: Running) -> psutil.Process:
    pid = running.platform.pid()
    assert pid is not None
    return psutil.Process(pid)


# ---------------------------------------------------------------- state only its owner reads


def test_a_home_that_existed_0755_is_tightened_and_every_file_is_owner_only(
    running: Running,
) -> None:
    home = running.home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    checked = []
    for path in home.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        relative = path.relative_to(home)
        if relative.parts[0] in ("deployments", "models"):
            continue  # copies of the user's code and model (inside the 0700 home)
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{relative} is {oct(mode)}"
        checked.append(str(relative))
    for name in ("state.db", "metrics.db", "admin-token", "logs/daemon.log", "logs/daemon.out"):
        assert name in checked, checked


def test_a_home_of_another_user_is_refused_with_the_command_to_fix_it(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("chown to another user needs root")
    home = tmp_path / "theirs"
    home.mkdir()
    os.chown(home, 65534, 65534)
    done = subprocess.run(
        [sys.executable, "-m", "deploy.local.control.daemon", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "belongs to" in done.stderr and f"chown -R 0:0 {home}" in done.stderr, done.stderr
    assert not (home / "state.db").exists() and not (home / "logs").exists()


# ---------------------------------------------------------------- a connection flood


def test_the_daemon_raised_its_open_files_limit(running: Running) -> None:
    soft, hard = _daemon(running).rlimit(psutil.RLIMIT_NOFILE)
    assert soft == hard > 1024


def test_a_flood_of_idle_connections_leaves_scoring_answering_and_the_log_small(
    running: Running,
) -> None:
    log = running.home / "logs" / "daemon.log"
    size_before = log.stat().st_size
    idle: list[socket.socket] = []
    try:
        for _ in range(1100):
            idle.append(socket.create_connection(("127.0.0.1", running.platform.router_port)))
        started = time.monotonic()
        assert [_score(running) for _ in range(5)] == [200] * 5
        assert time.monotonic() - started < 10
    finally:
        for sock in idle:
            sock.close()
    grown = log.stat().st_size - size_before
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Too many open files" not in text
    assert grown < 64 * 1024, f"daemon.log grew by {grown} bytes"


def test_idle_connections_are_closed_by_the_router(running: Running) -> None:
    sock = socket.create_connection(("127.0.0.1", running.platform.router_port))
    sock.settimeout(30)
    try:
        assert sock.recv(1) == b""  # the router closed it (idle timeout)
    finally:
        sock.close()


# ---------------------------------------------------------------- credentials in logs


def test_a_hostile_run_leaves_no_key_or_token_in_any_file_of_the_home(running: Running) -> None:
    control_port = int(running.platform.up()["control_url"].rsplit(":", 1)[1])
    secrets = {"primary key": running.key, "admin token": running.token}
    hostile = [
        # a control character in the header value: aiohttp's parser refuses it
        "POST /{path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {secret}\x01\r\n\r\n",
        # a header line without a colon after the credential
        "POST /{path} HTTP/1.1\r\nAuthorization: Bearer {secret}\r\nno colon here\r\n\r\n",
        # a bad Content-Length with the credential in a header of its own
        "POST /{path} HTTP/1.1\r\nX-Key: {secret}\r\nContent-Length: -1\r\n\r\n",
        # the credential in the request line
        "GET /{path}?key={secret} HTTP/9.9\r\n\r\n",
    ]
    targets = [(running.platform.router_port, f"{EP}/score"), (control_port, "endpoints")]
    for port, path in targets:
        for secret in secrets.values():
            for template in hostile:
                with socket.create_connection(("127.0.0.1", port)) as sock:
                    sock.sendall(template.format(path=path, secret=secret).encode("latin-1"))
                    sock.settimeout(5)
                    with contextlib.suppress(OSError):
                        sock.recv(4096)
    assert _score(running) == 200
    by_design = {"state.db", "admin-token"}  # where they are kept (mode 0600, home 0700)
    leaks = []
    for found in running.home.rglob("*"):
        if not found.is_file() or found.is_symlink() or found.name.split("-wal")[0] in by_design:
            continue
        data = found.read_bytes()
        leaks += [
            f"{what} in {found}" for what, secret in secrets.items() if secret.encode() in data
        ]
    assert leaks == []
    log = (running.home / "logs" / "daemon.log").read_text(encoding="utf-8")
    assert "bad request refused" in log
