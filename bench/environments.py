"""Benchmark: building a deployment's isolated environment with uv, cold, cached and offline.

The environment is the one the README quotes: a conda file pinning ``scikit-learn=1.2.2``
with unpinned ``numpy`` and ``joblib`` (plus Azure's inference server, which the platform
adds), built by the platform's own ``prepare_environment`` exactly as a deployment's is:

1. **first build**: a fresh platform home and an empty uv cache (a temporary
   ``UV_CACHE_DIR``): resolution asks the index, every wheel is downloaded;
2. **cached**: a second environment with the same packages (a second home, so the
   platform's own environment cache does not answer), the same uv cache, the index reachable;
3. **offline**: a third one with ``UV_OFFLINE=1``: from uv's cache alone, no network;
4. **found**: the first home again: the finished environment is found in its hash folder.

Each build is bounded (``--timeout`` seconds); the table gives each one's wall time, its
ratio to the first build of the same run, and uv's own split (resolve, download/prepare,
install) from its output. Everything is made in a temporary folder and removed.

Usage::

    python bench/environments.py [--timeout 300] [--sklearn 1.2.2]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from deploy.local.environments.prepare import prepare_environment  # noqa: E402
from deploy.local.environments.uvtool import uv_binary  # noqa: E402
from deploy.types import EnvironmentSpec  # noqa: E402

#: uv's summary lines: "Resolved 54 packages in 1.21s", "Prepared ...", "Installed ...".
_UV_STEP = re.compile(r"uv: (Resolved|Prepared|Installed) (\d+) packages? in ([\d.]+)(ms|s)")


@dataclass
class Build:
    """One build: its name, wall time, and uv's steps (name -> (packages, seconds))."""

    name: str
    seconds: float = 0.0
    built: bool = False
    steps: dict[str, tuple[int, float]] = field(default_factory=dict)
    error: str = ""


def conda_file(sklearn: str) -> dict[str, object]:
    """The benchmark's conda file: a scikit-learn pin, numpy and joblib unpinned."""
    return {
        "name": "bench-env",
        "channels": ["conda-forge"],
        "dependencies": [f"scikit-learn={sklearn}", "numpy", "joblib"],
    }


async def build(name: str, home: Path, spec: EnvironmentSpec, *, seconds: float) -> Build:
    """Prepare ``spec`` under ``home``, bounded by ``seconds``; what it took."""
    result = Build(name=name)

    async def log(line: str) -> None:
        found = _UV_STEP.search(line)
        if found:
            value = float(found.group(3)) / (1000 if found.group(4) == "ms" else 1)
            result.steps[found.group(1)] = (int(found.group(2)), value)

    started = time.monotonic()
    try:
        prepared = await asyncio.wait_for(
            prepare_environment(spec, home=home, base_python=sys.executable, log=log),
            seconds,
        )
        result.built = prepared.built
    except TimeoutError:
        result.error = f"over {seconds:.0f} s"
    except Exception as exc:  # a benchmark row, not a crash: say what failed
        result.error = f"{type(exc).__name__}: {str(exc)[:80]}"
    result.seconds = time.monotonic() - started
    return result


def machine() -> str:
    """nproc, the CPU model, Python and uv versions, the date."""
    model = platform.processor() or "unknown CPU"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    uv = subprocess.run([uv_binary(), "--version"], capture_output=True, text=True, check=False)
    today = datetime.date.today().isoformat()
    return (
        f"{os.cpu_count()} CPUs (nproc), {model}; CPython {platform.python_version()}, "
        f"{uv.stdout.strip()}; {today}"
    )


def table(builds: list[Build]) -> str:
    """A markdown table of the builds, with each one's ratio to the first build."""
    first = builds[0].seconds if builds and not builds[0].error else None
    rows = [
        "| build | wall time | vs first build | packages | uv resolve | uv download+prepare "
        "| uv install |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for b in builds:
        ratio = f"{b.seconds / first:.2f}x" if first and not b.error else "-"
        packages = max((n for n, _ in b.steps.values()), default=0)

        def step(name: str, b: Build = b) -> str:
            found = b.steps.get(name)
            return f"{found[1]:.2f} s" if found else "-"

        wall = b.error or f"{b.seconds:.2f} s"
        rows.append(
            f"| {b.name} | {wall} | {ratio} | {packages or '-'} | {step('Resolved')} "
            f"| {step('Prepared')} | {step('Installed')} |"
        )
    return "\n".join(rows)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per build")
    parser.add_argument("--sklearn", default="1.2.2", help="the scikit-learn pin")
    args = parser.parse_args()
    spec = EnvironmentSpec(conda_file=conda_file(args.sklearn))
    root = Path(tempfile.mkdtemp(prefix="flightdeck-bench-envs-"))
    saved = {k: os.environ.get(k) for k in ("UV_CACHE_DIR", "UV_OFFLINE")}
    os.environ["UV_CACHE_DIR"] = str(root / "uv-cache")  # empty: the first build is cold
    os.environ.pop("UV_OFFLINE", None)
    builds: list[Build] = []
    try:
        builds.append(await build("first (empty uv cache)", root / "a", spec, seconds=args.timeout))
        builds.append(await build("cached (same packages)", root / "b", spec, seconds=args.timeout))
        os.environ["UV_OFFLINE"] = "1"
        builds.append(await build("offline (UV_OFFLINE=1)", root / "c", spec, seconds=args.timeout))
        os.environ.pop("UV_OFFLINE", None)
        builds.append(await build("found (already built)", root / "a", spec, seconds=args.timeout))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(root, ignore_errors=True)
    deps = ", ".join(str(d) for d in spec.conda_file["dependencies"])  # type: ignore[index]
    print(f"Environment builds: conda file [{deps}] + azureml-inference-server-http")
    print(f"Machine: {machine()}")
    print()
    print(table(builds))
    cached, first = builds[1], builds[0]
    if not first.error and not cached.error:
        print()
        print(f"cached / first = {cached.seconds / first.seconds:.2f}")
    if any(b.error for b in builds):
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
