"""The local platform's state in SQLite (``<home>/state.db``).

What survives a restart of the daemon: endpoints (spec, keys, token secret, live
and mirror traffic, the split before the last change), deployments (spec and
current generation), registered models, and the pids of running instances (so
that a new daemon can end the instances a killed one left behind).

Rows are written only after an operation succeeded; ``batch()`` groups the
writes of one operation into one transaction.

    store = Store.open(home / "state.db")
    with store.batch():
        store.put_endpoint(record)
        store.delete_deployment("product-recommender", "green")
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deploy.errors import FlightdeckError
from deploy.local import messages as msg
from deploy.types import DeploymentSpec, EndpointSpec, RegisteredModel, from_json, to_json

__all__ = ["DeploymentRecord", "EndpointRecord", "ProcessRecord", "StateFileError", "Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS endpoints (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    primary_key TEXT NOT NULL,
    secondary_key TEXT NOT NULL,
    token_secret TEXT NOT NULL,
    traffic TEXT NOT NULL,
    mirror_traffic TEXT NOT NULL,
    previous_traffic TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deployments (
    endpoint TEXT NOT NULL REFERENCES endpoints(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    generation INTEGER NOT NULL,
    created_at REAL NOT NULL,
    failure TEXT,
    PRIMARY KEY (endpoint, name)
);
CREATE TABLE IF NOT EXISTS models (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    path TEXT NOT NULL,
    description TEXT,
    created_at REAL NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS archived_models (
    name TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS processes (
    pid INTEGER PRIMARY KEY,
    create_time REAL NOT NULL,
    endpoint TEXT NOT NULL,
    deployment TEXT NOT NULL,
    instance TEXT NOT NULL
);
"""


_TABLES = frozenset({"endpoints", "deployments", "models", "archived_models", "processes"})

#: Columns added to a table after it first shipped: (table, column, definition). A state.db
#: written before gets them with ``ALTER TABLE`` when it is opened (after the ``.bak`` copy).
_ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("models", "archived", "INTEGER NOT NULL DEFAULT 0"),
    ("deployments", "failure", "TEXT"),
)


class StateFileError(FlightdeckError):
    """``state.db`` exists but cannot be used (empty or not a database): nothing started."""


def _missing_columns(db: sqlite3.Connection, tables: set[str]) -> list[tuple[str, str, str]]:
    """The ``_ADDED_COLUMNS`` an existing table of ``db`` does not have yet."""
    missing = []
    for table, column, definition in _ADDED_COLUMNS:
        if table in tables:
            names = {str(row[1]) for row in db.execute(f"PRAGMA table_info({table})")}
            if column not in names:
                missing.append((table, column, definition))
    return missing


def _tables(db: sqlite3.Connection) -> set[str]:
    """The tables in ``db``; raises ``sqlite3.DatabaseError`` when it is not a database."""
    check = db.execute("PRAGMA quick_check").fetchone()
    if check is None or check[0] != "ok":
        raise sqlite3.DatabaseError(f"integrity check failed: {check[0] if check else '?'}")
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {str(row[0]) for row in rows}


@dataclass(frozen=True, kw_only=True)
class EndpointRecord:
    """An endpoint's stored state."""

    spec: EndpointSpec
    primary_key: str
    secondary_key: str
    token_secret: bytes
    traffic: Mapping[str, int] = field(default_factory=dict)
    mirror_traffic: Mapping[str, int] = field(default_factory=dict)
    previous_traffic: Mapping[str, int] | None = None
    created_at: float = 0.0

    @property
    def name(self) -> str:
        """The endpoint's name."""
        return self.spec.name


@dataclass(frozen=True, kw_only=True)
class DeploymentRecord:
    """A deployment's stored state: its spec and the generation folder that runs.

    ``failure``: why its last create or update failed when no earlier version serves
    (Azure's ``Failed`` state: no instances, no traffic, its logs kept); ``None`` otherwise.
    """

    spec: DeploymentSpec
    generation: int
    created_at: float = 0.0
    failure: str | None = None

    @property
    def failed(self) -> bool:
        """True in the ``Failed`` state."""
        return self.failure is not None

    @property
    def name(self) -> str:
        """The deployment's name."""
        return self.spec.name


@dataclass(frozen=True, kw_only=True)
class ProcessRecord:
    """An instance process the platform started (the leader of its process group)."""

    pid: int
    create_time: float
    endpoint: str
    deployment: str
    instance: str


class Store:
    """SQLite state. Use from one thread (the platform's event loop)."""

    def __init__(self, *, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._depth = 0

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (and create if needed) the database at ``path``.

        Raises ``StateFileError`` naming the file and the cause when it exists but is
        empty (never started empty over it) or not a readable database. A copy
        (``state.db.bak``) is kept before tables or columns are added to an existing file.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists()
        if existed and path.stat().st_size == 0:
            raise StateFileError(msg.STATE_EMPTY.format(path=path))
        db = sqlite3.connect(path, isolation_level=None)
        try:
            tables = _tables(db)
            columns = _missing_columns(db, tables)
            if existed and (not tables >= _TABLES or columns):  # about to change: keep a copy
                backup = path.with_name(path.name + ".bak")
                with sqlite3.connect(backup) as copy:
                    db.backup(copy)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            for table, column, definition in columns:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StateFileError(msg.STATE_UNREADABLE.format(path=path, cause=exc)) from None
        return cls(connection=db)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for every write inside; rolled back if the block raises."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._depth = 0

    # ------------------------------------------------------------ endpoints

    def endpoints(self) -> list[EndpointRecord]:
        """Every endpoint, by name."""
        rows = self._db.execute(
            "SELECT spec, primary_key, secondary_key, token_secret, traffic, mirror_traffic,"
            " previous_traffic, created_at FROM endpoints ORDER BY name"
        ).fetchall()
        return [_endpoint(row) for row in rows]

    def put_endpoint(self, record: EndpointRecord) -> None:
        """Insert or replace an endpoint (its deployments stay)."""
        previous = record.previous_traffic
        self._db.execute(
            "INSERT INTO endpoints (name, spec, primary_key, secondary_key, token_secret, traffic,"
            " mirror_traffic, previous_traffic, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(name) DO UPDATE SET spec=excluded.spec,"
            " primary_key=excluded.primary_key, secondary_key=excluded.secondary_key,"
            " token_secret=excluded.token_secret, traffic=excluded.traffic,"
            " mirror_traffic=excluded.mirror_traffic, previous_traffic=excluded.previous_traffic",
            (
                record.name,
                json.dumps(to_json(record.spec)),
                record.primary_key,
                record.secondary_key,
                record.token_secret.hex(),
                json.dumps(dict(record.traffic)),
                json.dumps(dict(record.mirror_traffic)),
                None if previous is None else json.dumps(dict(previous)),
                record.created_at,
            ),
        )

    def delete_endpoint(self, name: str) -> None:
        """Delete an endpoint and its deployments' rows."""
        self._db.execute("DELETE FROM endpoints WHERE name = ?", (name,))

    # ------------------------------------------------------------ deployments

    def deployments(self, endpoint: str) -> list[DeploymentRecord]:
        """An endpoint's deployments, by name."""
        rows = self._db.execute(
            "SELECT spec, generation, created_at, failure FROM deployments WHERE endpoint = ?"
            " ORDER BY name",
            (endpoint,),
        ).fetchall()
        return [
            DeploymentRecord(
                spec=from_json(DeploymentSpec, json.loads(spec)),
                generation=int(generation),
                created_at=float(created),
                failure=None if failure is None else str(failure),
            )
            for spec, generation, created, failure in rows
        ]

    def put_deployment(self, record: DeploymentRecord) -> None:
        """Insert or replace a deployment (its endpoint must exist)."""
        self._db.execute(
            "INSERT INTO deployments (endpoint, name, spec, generation, created_at, failure)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(endpoint, name) DO UPDATE SET"
            " spec=excluded.spec, generation=excluded.generation, failure=excluded.failure",
            (
                record.spec.endpoint_name,
                record.name,
                json.dumps(to_json(record.spec)),
                record.generation,
                record.created_at,
                record.failure,
            ),
        )

    def delete_deployment(self, endpoint: str, name: str) -> None:
        """Delete a deployment's row."""
        self._db.execute(
            "DELETE FROM deployments WHERE endpoint = ? AND name = ?", (endpoint, name)
        )

    # ------------------------------------------------------------ models

    def models(self) -> list[RegisteredModel]:
        """Every registered model version, by name and version (archived ones too).

        A version is ``archived`` when it was archived itself or its model was as a whole.
        """
        rows = self._db.execute(_MODEL_SELECT + " ORDER BY m.name, m.version").fetchall()
        return [_model(row) for row in rows]

    def model(self, name: str, version: str) -> RegisteredModel | None:
        """One registered model version, or ``None``."""
        row = self._db.execute(
            _MODEL_SELECT + " WHERE m.name = ? AND m.version = ?", (name, version)
        ).fetchone()
        return None if row is None else _model(row)

    def set_model_archived(self, name: str, version: str, archived: bool) -> None:
        """Archive (or restore) one model version."""
        self._db.execute(
            "UPDATE models SET archived = ? WHERE name = ? AND version = ?",
            (int(archived), name, version),
        )

    def model_archived(self, name: str) -> bool:
        """Whether model ``name`` is archived as a whole (every version)."""
        row = self._db.execute("SELECT 1 FROM archived_models WHERE name = ?", (name,)).fetchone()
        return row is not None

    def set_model_name_archived(self, name: str, archived: bool) -> None:
        """Archive (or restore) model ``name`` as a whole, as az ml archives a model container."""
        if archived:
            self._db.execute("INSERT OR IGNORE INTO archived_models (name) VALUES (?)", (name,))
        else:
            self._db.execute("DELETE FROM archived_models WHERE name = ?", (name,))

    def put_model(self, model: RegisteredModel) -> None:
        """Insert a model version (``sqlite3.IntegrityError`` if it exists)."""
        created = model.created_at.timestamp() if model.created_at else 0.0
        self._db.execute(
            "INSERT INTO models (name, version, path, description, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (model.name, model.version, model.path, model.description, created),
        )

    # ------------------------------------------------------------ processes

    def processes(self) -> list[ProcessRecord]:
        """Every instance process recorded as running."""
        rows = self._db.execute(
            "SELECT pid, create_time, endpoint, deployment, instance FROM processes ORDER BY pid"
        ).fetchall()
        return [
            ProcessRecord(
                pid=int(pid),
                create_time=float(created),
                endpoint=str(endpoint),
                deployment=str(deployment),
                instance=str(instance),
            )
            for pid, created, endpoint, deployment, instance in rows
        ]

    def put_process(self, record: ProcessRecord) -> None:
        """Record a started instance process."""
        self._db.execute(
            "INSERT OR REPLACE INTO processes (pid, create_time, endpoint, deployment, instance)"
            " VALUES (?, ?, ?, ?, ?)",
            (record.pid, record.create_time, record.endpoint, record.deployment, record.instance),
        )

    def delete_process(self, pid: int) -> None:
        """Forget an instance process that has ended."""
        self._db.execute("DELETE FROM processes WHERE pid = ?", (pid,))


def _endpoint(row: tuple[Any, ...]) -> EndpointRecord:
    spec, primary, secondary, secret, traffic, mirror, previous, created = row
    return EndpointRecord(
        spec=from_json(EndpointSpec, json.loads(spec)),
        primary_key=str(primary),
        secondary_key=str(secondary),
        token_secret=bytes.fromhex(secret),
        traffic=json.loads(traffic),
        mirror_traffic=json.loads(mirror),
        previous_traffic=None if previous is None else json.loads(previous),
        created_at=float(created),
    )


_MODEL_SELECT = (
    "SELECT m.name, m.version, m.path, m.description, m.created_at,"
    " m.archived OR EXISTS (SELECT 1 FROM archived_models a WHERE a.name = m.name)"
    " FROM models m"
)


def _model(row: tuple[Any, ...]) -> RegisteredModel:
    name, version, path, description, created, archived = row
    return RegisteredModel(
        name=str(name),
        version=str(version),
        path=str(path),
        description=description,
        created_at=datetime.fromtimestamp(float(created), tz=UTC),
        archived=bool(archived),
    )
