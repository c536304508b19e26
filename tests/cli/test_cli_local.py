"""``flightdeck local up|status|down`` through the real entry point, on a tmp home."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import psutil

from deploy.local.home import process_alive
from tests.support.flightdeck_cli import cleaned_up, free_port, local_platform, poll, run_cli


def test_up_status_down_and_up_again(tmp_path: Path) -> None:
    home = tmp_path / "home"
    outputs: list[str] = []
    with local_platform(home) as platform:
        again = platform.up()
        assert again["already_running"] is True
        assert again["router_url"] == f"http://127.0.0.1:{platform.router_port}"
        assert again["control_url"] == f"http://127.0.0.1:{platform.control_port}"
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
        assert sorted(addr.port for addr in listening) == sorted(
            [platform.router_port, platform.control_port]
        )
        assert {addr.ip for addr in listening} == {"127.0.0.1"}

        down = platform.cli("local", "down").ok()
        outputs += [down.stdout, down.stderr]
        assert down.json()["was_running"] is True
        assert not process_alive(pid)
        assert not (home / "daemon.json").exists()
        assert (home / "state.db").exists()
        assert platform.cli("local", "status").ok().json()["status"] == "stopped"

        refused = platform.cli("online-endpoint", "list")
        assert "flightdeck local up" in refused.error_line()
        assert platform.cli("local", "down").ok().json()["was_running"] is False

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


def test_a_second_daemon_refuses_and_sigterm_stops_the_first(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with local_platform(home) as platform:
        second = subprocess.run(
            [
                *(sys.executable, "-m", "deploy.local.daemon", "--home", str(home)),
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


def test_a_taken_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(
            "local",
            "up",
            "--router-port",
            str(port),
            "--control-port",
            str(free_port()),
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


def test_two_concurrent_ups_share_one_daemon(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ports = ["--router-port", str(free_port()), "--control-port", str(free_port())]
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
