"""``flightdeck db upgrade``: the bot's database to the newest schema, revisions printed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect

from base.migrations import head
from bot.db import TABLES
from tests.base.test_migrations import make_as_the_release_did
from tests.support.flightdeck_cli import run_cli


def test_upgrade_prints_the_revision_before_and_after(tmp_path: Path) -> None:
    first = run_cli("db", "upgrade", home=tmp_path).ok().json()
    assert first == {
        "database": f"sqlite:///{tmp_path / 'bot.db'}",
        "before": None,
        "after": head(),
        "head": head(),
    }
    again = run_cli("db", "upgrade", home=tmp_path).ok().json()
    assert (again["before"], again["after"]) == (head(), head())


def test_upgrade_adopts_a_database_of_the_release_before(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    try:
        make_as_the_release_did(engine)
        env = {"FLIGHTDECK_DATABASE_URL": url}
        result = run_cli("db", "upgrade", home=tmp_path / "home", env=env).ok().json()
        assert (result["before"], result["after"]) == (None, head())
        names = set(inspect(engine).get_table_names())
        assert names == {table.name for table in TABLES} | {"alembic_version"}
    finally:
        engine.dispose()


def test_a_bad_config_is_one_error_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yml"
    line = run_cli("db", "upgrade", "--config", str(missing), home=tmp_path).error_line()
    assert "nowhere.yml" in line
