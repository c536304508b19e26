"""The home folder: admin token (mode 0600), daemon.json, and leftovers of a killed daemon."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.control.daemon import kill_leftovers
from deploy.local.state.home import DaemonInfo, Home, process_alive


def test_the_admin_token_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    home = Home(root=tmp_path / "home")
    assert home.admin_token() is None
    token = home.admin_token(create=True)
    assert token and len(token) >= 32
    assert stat.S_IMODE(home.token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.root.stat().st_mode) == 0o700
    assert home.admin_token(create=True) == token
    assert home.admin_token() == token


def test_daemon_json_round_trips_and_tolerates_garbage(tmp_path: Path) -> None:
    home = Home(root=tmp_path)
    assert home.read_daemon_info() is None
    info = DaemonInfo(
        pid=123,
        control_url="http://127.0.0.1:1",
        router_url="http://127.0.0.1:2",
        home=str(tmp_path),
        started_at=1.5,
    )
    home.write_daemon_info(info)
    assert home.read_daemon_info() == info
    home.remove_daemon_info(pid=999)  # another daemon's: kept
    assert home.read_daemon_info() == info
    home.remove_daemon_info(pid=123)
    assert not home.daemon_file.exists()
    home.daemon_file.write_text("{not json", encoding="utf-8")
    assert home.read_daemon_info() is None
    home.daemon_file.write_text('{"pid": 1}', encoding="utf-8")
    assert home.read_daemon_info() is None


def test_home_resolves_from_argument_env_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLIGHTDECK_HOME", str(tmp_path / "env"))
    assert Home.resolve(tmp_path / "arg").root == (tmp_path / "arg").resolve()
    assert Home.resolve(None).root == (tmp_path / "env").resolve()
    monkeypatch.delenv("FLIGHTDECK_HOME")
    assert Home.resolve(None).root == (Path.home() / ".flightdeck").resolve()


@pytest.fixture
def sleepers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _sleeper(argument: str, *, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "import time, sys; time.sleep(120)", "--entry_script", argument],
        start_new_session=True,
        env=env,
    )


@pytest.mark.slow(budget=30)
def test_kill_leftovers_ends_this_homes_instances_only(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    home = Home(root=tmp_path / "home")
    other = Home(root=tmp_path / "home2")
    mine = _sleeper(str(home.deployments_dir / "ep" / "blue" / "1" / "code" / "score.py"))
    by_env = _sleeper("score.py", env={"AZUREML_MODEL_DIR": str(home.root / "deployments/x")})
    theirs = _sleeper(str(other.deployments_dir / "ep" / "blue" / "1" / "code" / "score.py"))
    sleepers.extend([mine, by_env, theirs])

    killed = kill_leftovers(home)

    assert sorted(killed) == sorted([mine.pid, by_env.pid])
    mine.wait(timeout=10)
    by_env.wait(timeout=10)
    assert theirs.poll() is None and process_alive(theirs.pid)
    assert kill_leftovers(home) == []
