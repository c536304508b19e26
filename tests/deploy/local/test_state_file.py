"""A state.db that is empty or corrupt: named with its cause, never started empty over."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.local.state.store import StateFileError, Store


def _daemon(home: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "deploy.local.control.daemon", "--home", str(home)]
    command += ["--router-port", "0", "--control-port", "0"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.slow(budget=30)
@pytest.mark.parametrize(
    ("content", "cause"),
    [(b"", "is empty (0 bytes)"), (b"not a database at all" * 100, "file is not a database")],
)
def test_the_daemon_refuses_a_broken_state_db_naming_it_and_leaves_it_alone(
    tmp_path: Path, content: bytes, cause: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    state = home / "state.db"
    state.write_bytes(content)
    done = _daemon(home)
    assert done.returncode == 1
    assert str(state) in done.stderr and cause in done.stderr, done.stderr
    assert "see its log" not in done.stderr
    assert state.read_bytes() == content


def test_tables_are_added_to_an_existing_file_only_after_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE endpoints (name TEXT PRIMARY KEY)")
        db.execute("INSERT INTO endpoints VALUES ('old')")
    db.close()
    Store.open(path).close()
    with sqlite3.connect(path.with_name("state.db.bak")) as backup:
        tables = {
            row[0] for row in backup.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        assert tables == {"endpoints"}
        assert backup.execute("SELECT name FROM endpoints").fetchall() == [("old",)]


def test_an_empty_state_db_is_a_state_file_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch()
    with pytest.raises(StateFileError, match="refusing to start"):
        Store.open(path)
    assert path.stat().st_size == 0


def test_a_state_db_from_before_model_archiving_gets_the_column_after_a_backup(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as db:  # the models table as it first shipped
        db.execute(
            "CREATE TABLE models (name TEXT NOT NULL, version TEXT NOT NULL, path TEXT NOT NULL,"
            " description TEXT, created_at REAL NOT NULL, PRIMARY KEY (name, version))"
        )
        db.execute("INSERT INTO models VALUES ('m', '1', '/models/m/1/x', NULL, 0)")
    db.close()
    store = Store.open(path)
    try:
        [model] = store.models()
        assert (model.name, model.version, model.archived) == ("m", "1", False)
        store.set_model_archived("m", "1", True)
        assert [m.archived for m in store.models()] == [True]
    finally:
        store.close()
    with sqlite3.connect(path.with_name("state.db.bak")) as backup:
        columns = [row[1] for row in backup.execute("PRAGMA table_info(models)")]
        assert "archived" not in columns
    db = sqlite3.connect(path)
    try:  # a second open changes nothing more and keeps the flag
        Store.open(path).close()
        assert db.execute("SELECT archived FROM models").fetchall() == [(1,)]
    finally:
        db.close()
