"""Run the ``flightdeck`` command against a daemon in a tmp home: in-process, or for real.

    with local_platform(tmp_home) as platform:
        result = platform.cli("online-endpoint", "list")
        assert result.json() == []

``run_cli`` calls ``cli.main.main(argv)`` in this process (stdout, stderr and the exit
code captured, the environment set for the call alone): no interpreter to start, no
azure-ai-ml to import again. ``run_entry_point`` runs the installed console script in a
subprocess; it is for what only a real process shows (the entry point itself, Ctrl-C, a
terminal) and for ``flightdeck local up|down`` and ``demo``, so that the daemon is never a
child of the test process. ``local_platform`` starts the daemon with ``flightdeck local up``
on ports it binds itself (``--router-port 0``) and, whatever happens, stops it, kills
anything it left, and checks no process of that home survives. Test specs are derived
from examples/product-recommender with short probes (initial_delay 0.5 s, period 1 s),
written into a tmp folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import psutil
import pytest
import yaml

from cli.main import main as flightdeck_main
from deploy.local.control.daemon import kill_leftovers
from deploy.local.state.home import Home, process_alive

__all__ = [
    "DAEMON_VERBS",
    "EXAMPLE",
    "REPO",
    "CliResult",
    "LocalPlatform",
    "cleaned_up",
    "home_processes",
    "local_platform",
    "poll",
    "run_cli",
    "run_entry_point",
    "write_deployment",
    "write_endpoint",
    "write_request",
]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "product-recommender"
SCORING = REPO / "scoring"
ROW = [1.0, 2.0, 3.0, 4.0, 5.0]


#: Verbs that start or stop the daemon: run through the entry point only (``run_entry_point``).
DAEMON_VERBS: frozenset[tuple[str, ...]] = frozenset(
    {("local", "up"), ("local", "down"), ("demo",)}
)


def flightdeck_script() -> Path:
    """The venv's ``flightdeck`` console script; the test fails when it is not installed."""
    script = Path(sys.executable).parent / "flightdeck"
    if not script.is_file():
        pytest.fail(
            f"the flightdeck entry point is not installed at {script}: "
            "install the project (`pip install -e '.[dev]'`, as `make install` does)"
        )
    return script


@dataclass(frozen=True)
class CliResult:
    """What one ``flightdeck`` run printed and returned."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout as JSON."""
        return json.loads(self.stdout)

    def ok(self) -> CliResult:
        """Assert the command succeeded (showing its stderr otherwise); return self."""
        assert self.code == 0, f"exit {self.code}\nstdout: {self.stdout}\nstderr: {self.stderr}"
        return self

    def error_line(self, code: int = 1) -> str:
        """Assert a one-line ``ERROR: ...`` failure with exit ``code`` (az's: 1 a failed
        operation, 2 bad arguments, 3 a missing resource); return the line."""
        assert self.code == code, f"exit {self.code}\nstdout: {self.stdout}\nstderr: {self.stderr}"
        lines = [line for line in self.stderr.splitlines() if line.startswith("ERROR: ")]
        assert len(lines) == 1, self.stderr
        # No traceback of the command itself (an instance's quoted log lines are indented).
        assert not any(line.startswith("Traceback") for line in self.stderr.splitlines())
        return lines[0]


def _environ(home: Path, env: Mapping[str, str] | None) -> dict[str, str]:
    """This process's environment for a run in ``home``: no FLIGHTDECK_BACKEND unless given."""
    full_env = {**os.environ}
    full_env.pop("FLIGHTDECK_BACKEND", None)
    full_env.update({"FLIGHTDECK_HOME": str(home), **(env or {})})
    return full_env


def run_cli(*args: str, home: Path, env: Mapping[str, str] | None = None) -> CliResult:
    """``flightdeck *args`` with FLIGHTDECK_HOME=home, in this process.

    ``cli.main.main`` reads ``os.environ`` as it goes, so the environment is set for the
    call alone (and put back afterwards); stdin is empty, as a subprocess's would be. A
    bug that escapes ``main`` propagates with its traceback instead of becoming exit 1.
    """
    for verbs in DAEMON_VERBS:
        assert tuple(args[: len(verbs)]) != verbs, (
            f"`flightdeck {' '.join(verbs)}` starts or stops the daemon: use run_entry_point"
        )
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, _environ(home, env), clear=True),
        mock.patch.object(sys, "stdin", io.StringIO()),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            code = flightdeck_main(list(args))
        except SystemExit as exit_:  # argparse: bad usage (2) or --help (0)
            code = 0 if exit_.code is None else exit_.code if isinstance(exit_.code, int) else 1
    return CliResult(code=code, stdout=stdout.getvalue(), stderr=stderr.getvalue())


def run_entry_point(
    *args: str, home: Path, env: Mapping[str, str] | None = None, timeout: float = 180
) -> CliResult:
    """``flightdeck *args`` with FLIGHTDECK_HOME=home, through the console script (a process)."""
    done = subprocess.run(
        [str(flightdeck_script()), *args],
        capture_output=True,
        text=True,
        env=_environ(home, env),
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return CliResult(code=done.returncode, stdout=done.stdout, stderr=done.stderr)


def poll(
    condition: Callable[[], bool], *, timeout: float = 60.0, interval: float = 0.1, what: str = ""
) -> None:
    """Wait until ``condition()`` holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        time.sleep(interval)


def _port(url: str) -> int:
    """The port of ``http://127.0.0.1:<port>``."""
    return int(url.rsplit(":", 1)[1])


def home_processes(home: Path) -> list[psutil.Process]:
    """Live processes belonging to ``home``: its daemon and instance processes."""
    marker = str(home)
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(marker in part for part in proc.info["cmdline"] or []):
                found.append(proc)
                continue
            if proc.uids().real == os.getuid():
                model_dir = proc.environ().get("AZUREML_MODEL_DIR", "")
                if model_dir.startswith(marker):
                    found.append(proc)
    return found


@dataclass
class LocalPlatform:
    """A daemon started by ``flightdeck local up`` in ``home``.

    The ports are 0 until the first ``up``: the daemon binds free ones itself (no port is
    picked here and released for another process to take first), and ``up`` keeps the
    ones it bound, so that a later ``up`` asks for them again.
    """

    home: Path
    router_port: int = 0
    control_port: int = 0

    def cli(self, *args: str, env: Mapping[str, str] | None = None) -> CliResult:
        """Run ``flightdeck`` against this platform, in-process."""
        return run_cli(*args, home=self.home, env=env)

    def up(self) -> dict[str, Any]:
        """``local up`` on this platform's ports (through the entry point); its JSON."""
        result = run_entry_point(
            "local",
            "up",
            "--router-port",
            str(self.router_port),
            "--control-port",
            str(self.control_port),
            home=self.home,
        ).ok()
        data: dict[str, Any] = result.json()
        self.router_port = _port(data["router_url"])
        self.control_port = _port(data["control_url"])
        return data

    def down(self) -> dict[str, Any]:
        """``local down`` (through the entry point); its JSON."""
        data: dict[str, Any] = run_entry_point("local", "down", home=self.home).ok().json()
        return data

    def pid(self) -> int | None:
        """The daemon's pid from daemon.json."""
        info = Home(root=self.home).read_daemon_info()
        return info.pid if info else None

    def scoring_uri(self, endpoint: str) -> str:
        """Where the router serves ``endpoint``."""
        return f"http://127.0.0.1:{self.router_port}/{endpoint}/score"


def _teardown(home: Path) -> None:
    """Stop the daemon (or kill it), kill leftovers, and check nothing of ``home`` runs."""
    with contextlib.suppress(Exception):
        run_entry_point("local", "down", home=home, timeout=90)
    info = Home(root=home).read_daemon_info()
    if info is not None and process_alive(info.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGKILL)
    kill_leftovers(Home(root=home))
    for proc in home_processes(home):
        with contextlib.suppress(psutil.Error):
            proc.kill()
    survivors = home_processes(home)
    assert not survivors, f"processes outlived the test: {survivors}"


@contextlib.contextmanager
def cleaned_up(home: Path) -> Iterator[None]:
    """Whatever runs in ``home`` is stopped afterwards (and checked gone)."""
    try:
        yield
    finally:
        _teardown(home)


@contextlib.contextmanager
def local_platform(home: Path) -> Iterator[LocalPlatform]:
    """A daemon in ``home`` on free ports, stopped (and checked gone) afterwards."""
    platform = LocalPlatform(home=home)
    try:
        platform.up()
        yield platform
    finally:
        _teardown(home)


# ---------------------------------------------------------------- specs for tests


def write_endpoint(folder: Path, *, name: str = "product-recommender", **changes: Any) -> Path:
    """The example's endpoint.yml with ``changes``, written into ``folder``."""
    data = yaml.safe_load((EXAMPLE / "endpoint.yml").read_text(encoding="utf-8"))
    data.update(name=name, **changes)
    path = folder / f"endpoint-{name}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def write_deployment(
    folder: Path,
    *,
    name: str = "blue",
    endpoint: str = "product-recommender",
    model: str | Path | None = None,
    version: str = "v1",
    file_name: str | None = None,
    **changes: Any,
) -> Path:
    """The example's <blue|green>-deployment.yml with short probes and absolute paths.

    ``model`` replaces the model (a path, or ``azureml:name:version``); ``changes``
    replace top-level keys (``instance_count=3``...).
    """
    source = EXAMPLE / ("blue-deployment.yml" if version == "v1" else "green-deployment.yml")
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["name"] = name
    data["endpoint_name"] = endpoint
    if model is None:
        data["model"] = {"path": str(EXAMPLE / f"model-{version}")}
    elif isinstance(model, Path):
        data["model"] = {"path": str(model)}
    else:
        data["model"] = model
    data["code_configuration"]["code"] = str(SCORING)
    data["environment_variables"] = {"WORKER_COUNT": "1"}
    data["request_settings"]["max_concurrent_requests_per_instance"] = 1
    fast = {"initial_delay": 0.5, "period": 1, "timeout": 2, "failure_threshold": 3}
    data["liveness_probe"].update(fast, failure_threshold=10)
    data["readiness_probe"].update(fast)
    data.update(changes)
    path = folder / (file_name or f"{endpoint}-{name}.yml")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def write_request(folder: Path, rows: list[list[float]] | None = None) -> Path:
    """A scoring request file with ``rows`` (one sample row by default)."""
    path = folder / "request.json"
    path.write_text(json.dumps({"data": rows or [ROW]}), encoding="utf-8")
    return path
