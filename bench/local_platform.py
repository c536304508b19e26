"""Benchmark: how long the local platform's lifecycle commands take, as a user sees them.

Each step is the real ``flightdeck`` command in a subprocess (so Python start-up and
imports count, as they do for a user), on a fresh tmp home, ports on 127.0.0.1:

- start-up alone (``flightdeck --help``) and loading a spec with azure-ai-ml (a
  fresh interpreter), the fixed costs inside every command below that takes ``--file``;
- ``local up`` (cold, empty home) and ``local up`` again (already running);
- ``online-endpoint create``; ``online-deployment create`` of blue (1 instance) and
  green (1 instance), with the example's model and scoring code and short probes;
- ``update --set instance_count=3`` and back to 1;
- ``local down`` and ``local up`` with two deployments to restore;
- ``local down``.

``--repeat N`` runs the whole sequence N times and prints the median and the worst.

    python bench/local_platform.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "product-recommender"
FLIGHTDECK = Path(sys.executable).parent / "flightdeck"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _deployment(folder: Path, name: str, version: str) -> Path:
    source = EXAMPLE / f"{name}-deployment.yml"
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["model"] = {"path": str(EXAMPLE / f"model-{version}")}
    data["code_configuration"]["code"] = str(REPO / "scoring")
    data["environment_variables"] = {"WORKER_COUNT": "1"}
    data["request_settings"]["max_concurrent_requests_per_instance"] = 1
    for probe in ("liveness_probe", "readiness_probe"):
        data[probe].update(initial_delay=0.5, period=1)
    path = folder / f"{name}.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _run(home: Path, *args: str) -> None:
    env = {**os.environ, "FLIGHTDECK_HOME": str(home)}
    env.pop("FLIGHTDECK_BACKEND", None)
    done = subprocess.run(
        [str(FLIGHTDECK), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"flightdeck {' '.join(args)} failed:\n{done.stderr}")


def _python(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def _timed(step: Callable[[], None]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def one_run() -> dict[str, float]:
    """Every step once on a fresh home; seconds per step."""
    root = Path(tempfile.mkdtemp(prefix="fd-bench-"))
    home = root / "home"
    ports = ["--router-port", str(_free_port()), "--control-port", str(_free_port())]
    blue, green = _deployment(root, "blue", "v1"), _deployment(root, "green", "v2")
    ep = ["-e", "product-recommender"]
    steps: list[tuple[str, Callable[[], None]]] = [
        ("flightdeck --help (start-up only)", lambda: _run(home, "--help")),
        (
            "load endpoint.yml (azure-ai-ml)",
            lambda: _python(
                "from deploy.specs import load_endpoint_spec as f; f({!r})".format(
                    str(EXAMPLE / "endpoint.yml")
                )
            ),
        ),
        ("local up (cold)", lambda: _run(home, "local", "up", *ports)),
        ("local up (running)", lambda: _run(home, "local", "up", *ports)),
        (
            "online-endpoint create",
            lambda: _run(home, "online-endpoint", "create", "-f", str(EXAMPLE / "endpoint.yml")),
        ),
        (
            "online-deployment create blue",
            lambda: _run(home, "online-deployment", "create", "-f", str(blue), "--all-traffic"),
        ),
        (
            "online-deployment create green",
            lambda: _run(home, "online-deployment", "create", "-f", str(green)),
        ),
        (
            "scale blue 1 -> 3",
            lambda: _run(
                home, "online-deployment", "update", "-n", "blue", *ep, "--set", "instance_count=3"
            ),
        ),
        (
            "scale blue 3 -> 1",
            lambda: _run(
                home, "online-deployment", "update", "-n", "blue", *ep, "--set", "instance_count=1"
            ),
        ),
        ("local down (2 deployments)", lambda: _run(home, "local", "down")),
        ("local up (restore 2 deployments)", lambda: _run(home, "local", "up", *ports)),
        ("online-endpoint list", lambda: _run(home, "online-endpoint", "list")),
    ]
    times: dict[str, float] = {}
    try:
        for name, step in steps:
            times[name] = _timed(step)
    finally:
        subprocess.run(
            [str(FLIGHTDECK), "local", "down"],
            env={**os.environ, "FLIGHTDECK_HOME": str(home)},
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)
    return times


def main() -> int:
    """Run and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    runs = [one_run() for _ in range(max(1, args.repeat))]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"runs: {len(runs)}; seconds per command, wall clock, as a user sees it")
    print(f"{'step':<36}{'median s':>10}{'worst s':>10}")
    for step in runs[0]:
        values = [run[step] for run in runs]
        print(f"{step:<36}{statistics.median(values):>10.2f}{max(values):>10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
