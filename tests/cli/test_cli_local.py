"""``flightdeck local up|status|down`` through the real entry point, on a tmp home."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from deploy.local.state.home import process_alive
from tests.support.flightdeck_cli import (
    cleaned_up,
    local_platform,
    poll,
    run_cli,
    run_entry_point,
    write_endpoint,
)

EP = "product-recommender"
PORT_ENVS = ("FLIGHTDECK_ROUTER_PORT", "FLIGHTDECK_CONTROL_PORT")


@pytest.mark.slow(budget=60)
def test_up_status_down_and_up_again(tmp_path: Path) -> None:
    home = tmp_path / "home"
    outputs: list[str] = []
    with local_platform(home) as platform:
        router_port, control_port = platform.router_port, platform.control_port
        assert 0 not in (router_port, control_port)
        again = platform.up()
        assert again["already_running"] is True
        assert again["router_url"] == f"http://127.0.0.1:{router_port}"
        assert again["control_url"] == f"http://127.0.0.1:{control_port}"
        pid = platform.pid()
        assert pid is not None and again["pid"] == pid

        status = platform.cli("local", "status").ok()
        outputs += [status.stdout, status.stderr]
        assert status.json()["status"] == "running"
        assert status.json()["router_url"] == again["router_url"]

        token_file = home / "admin-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        listening = [
            c.laddr
            for c in psutil.Process(pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        # The router, the control API and the managed-identity token endpoint, on loopback only.
        ports = sorted(addr.port for addr in listening)
        assert {router_port, control_port} <= set(ports) and len(ports) == 3, ports
        assert {addr.ip for addr in listening} == {"127.0.0.1"}

        down = run_entry_point("local", "down", home=home).ok()
        outputs += [down.stdout, down.stderr]
        assert down.json()["was_running"] is True
        assert not process_alive(pid)
        assert not (home / "daemon.json").exists()
        assert (home / "state.db").exists()
        assert platform.cli("local", "status").ok().json()["status"] == "stopped"

        refused = platform.cli("online-endpoint", "list")
        assert "flightdeck local up" in refused.error_line()
        assert platform.down()["was_running"] is False

        back = platform.up()
        outputs += [str(back)]
        assert back["already_running"] is False
        assert back["router_url"] == again["router_url"]
        assert platform.cli("online-endpoint", "list").ok().json() == []

        token = token_file.read_text(encoding="utf-8").strip()
        assert token == token_file.read_text(encoding="utf-8").strip()  # kept across restarts
        logs = [p.read_text(encoding="utf-8", errors="replace") for p in home.rglob("*.log")]
        logs += [(home / "logs" / "daemon.out").read_text(encoding="utf-8")]
        assert all(token not in text for text in outputs + logs)


@pytest.mark.slow(budget=30)
def test_a_second_daemon_refuses_and_sigterm_stops_the_first(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with local_platform(home) as platform:
        second = subprocess.run(
            [
                *(sys.executable, "-m", "deploy.local.control.daemon", "--home", str(home)),
                *("--router-port", "0", "--control-port", "0"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 1
        assert "already runs with this home" in second.stderr
        pid = platform.pid()
        assert pid is not None
        assert platform.cli("local", "status").ok().json()["pid"] == pid
        os.kill(pid, signal.SIGTERM)  # as `kill` or a service manager would stop it
        poll(lambda: not process_alive(pid), what="the daemon to stop on SIGTERM")
        assert not (home / "daemon.json").exists()
        assert "stopped" in (home / "logs" / "daemon.log").read_text(encoding="utf-8")


@pytest.mark.slow(budget=30)
def test_a_taken_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_entry_point(
            "local",
            "up",
            "--router-port",
            str(port),
            "--control-port",
            "0",
            home=tmp_path / "home",
        )
        line = result.error_line()
    assert f"cannot listen on 127.0.0.1:{port} for the router" in line
    assert "--router-port" in line
    assert not (tmp_path / "home" / "daemon.json").exists()


def test_backends_are_chosen_by_name(tmp_path: Path) -> None:
    by_flag = run_cli("online-endpoint", "list", "--backend", "nope", home=tmp_path)
    assert "Unknown backend 'nope'" in by_flag.error_line()
    by_env = run_cli("online-endpoint", "list", home=tmp_path, env={"FLIGHTDECK_BACKEND": "nope"})
    assert "Unknown backend 'nope'" in by_env.error_line()
    default = run_cli("online-endpoint", "list", home=tmp_path)
    assert "The local platform is not running" in default.error_line()


def test_status_of_a_home_that_never_ran(tmp_path: Path) -> None:
    result = run_cli("local", "status", home=tmp_path / "fresh").ok()
    assert result.json() == {"status": "stopped", "home": str((tmp_path / "fresh").resolve())}


@pytest.mark.slow(budget=30)
def test_a_stale_daemon_json_is_ignored(tmp_path: Path) -> None:
    home = tmp_path / "home"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    home.mkdir()
    stale = {
        "pid": dead.pid,
        "control_url": "http://127.0.0.1:9",
        "router_url": "http://127.0.0.1:9",
        "home": str(home),
        "started_at": 0,
    }
    (home / "daemon.json").write_text(json.dumps(stale), encoding="utf-8")
    assert run_cli("local", "status", home=home).ok().json()["status"] == "stopped"
    assert "not running" in run_cli("online-endpoint", "list", home=home).error_line()
    with local_platform(home) as platform:
        poll(lambda: platform.pid() not in (None, dead.pid), what="a fresh daemon.json")
        assert os.path.exists(home / "daemon.json")


@pytest.mark.slow(budget=30)
def test_two_concurrent_ups_share_one_daemon(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ports = ["--router-port", "0", "--control-port", "0"]  # the daemon binds free ones
    env = {**os.environ, "FLIGHTDECK_HOME": str(home)}
    script = Path(sys.executable).parent / "flightdeck"
    with cleaned_up(home):
        ups = [
            subprocess.Popen(
                [str(script), "local", "up", *ports],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [up.communicate(timeout=120) for up in ups]
        assert [up.returncode for up in ups] == [0, 0], outputs
        pids = {json.loads(out)["pid"] for out, _ in outputs}
        assert len(pids) == 1
        assert sorted(json.loads(out)["already_running"] for out, _ in outputs) == [False, True]


def _status_at(uri: str, key: str) -> int:
    """The HTTP status a scoring request with ``key`` gets at ``uri``."""
    request = urllib.request.Request(
        uri, data=b"{}", method="POST", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.slow(budget=30)
def test_a_bare_up_after_a_killed_daemon_keeps_its_ports_and_scoring_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in PORT_ENVS:  # a bare `up`: neither a flag nor an environment variable
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    with cleaned_up(home):
        first = run_entry_point(
            "local", "up", "--router-port", "0", "--control-port", "0", home=home
        )
        started = first.ok().json()
        assert not started["router_url"].endswith((":0", ":8787"))
        assert not started["control_url"].endswith((":0", ":8786"))
        spec = write_endpoint(tmp_path)
        run_cli("online-endpoint", "create", "--file", str(spec), home=home).ok()
        uri = run_cli("online-endpoint", "show", "-n", EP, home=home).ok().json()["scoring_uri"]
        assert uri == f"{started['router_url']}/{EP}/score"
        key = run_cli("online-endpoint", "get-credentials", "-n", EP, home=home).ok().json()
        assert _status_at(uri, key["primaryKey"]) == 404  # known endpoint, no deployment yet

        os.kill(started["pid"], signal.SIGKILL)
        poll(lambda: not process_alive(started["pid"]), what="the daemon to die")
        back = run_entry_point("local", "up", home=home).ok().json()
        assert back["already_running"] is False and back["pid"] != started["pid"]
        assert (back["router_url"], back["control_url"]) == (
            started["router_url"],
            started["control_url"],
        )
        shown = run_cli("online-endpoint", "show", "-n", EP, home=home).ok().json()
        assert shown["scoring_uri"] == uri
        assert _status_at(uri, key["primaryKey"]) == 404
        assert _status_at(uri, "not-a-key") == 401


@pytest.mark.slow(budget=30)
def test_a_remembered_port_that_is_taken_fails_clearly_and_a_flag_still_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in PORT_ENVS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    with cleaned_up(home):
        started = run_entry_point(
            "local", "up", "--router-port", "0", "--control-port", "0", home=home
        )
        router_port = int(started.ok().json()["router_url"].rsplit(":", 1)[1])
        run_entry_point("local", "down", home=home).ok()
        with socket.socket() as busy:
            busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            busy.bind(("127.0.0.1", router_port))
            busy.listen()
            line = run_entry_point("local", "up", home=home).error_line()
            assert f"cannot listen on 127.0.0.1:{router_port} for the router" in line
            assert "the last run used this port" in line
            assert str(home / "ports.json") in line
            assert "`flightdeck local up --router-port N`" in line
            assert not (home / "daemon.json").exists()
            # An environment variable (like a flag) wins over the remembered port.
            moved = run_entry_point("local", "up", home=home, env={"FLIGHTDECK_ROUTER_PORT": "0"})
            elsewhere = moved.ok().json()["router_url"]
        assert not elsewhere.endswith(f":{router_port}")
        run_entry_point("local", "down", home=home).ok()
        # ...and becomes the one remembered.
        assert run_entry_point("local", "up", home=home).ok().json()["router_url"] == elsewhere


@pytest.mark.slow(budget=30)
def test_a_port_variable_that_is_not_a_number_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_entry_point(
        "local", "up", home=tmp_path / "home", env={"FLIGHTDECK_ROUTER_PORT": "x"}
    )
    assert "$FLIGHTDECK_ROUTER_PORT is 'x', not a port number" in result.error_line()
