"""Capacity search accuracy: deployments with a known capacity, and what the search finds.

Each case deploys ``samples/scripts/slow_score.py`` on the local platform (a daemon in a
temporary home) sleeping a fixed time with ``WORKER_COUNT`` workers and
``max_concurrent_requests_per_instance`` 4 × that (so that the router's 429 beyond 2 ×
max_concurrent in flight does not cut in first): its true capacity is workers / service
time. ``flightdeck capacity --json`` (the real CLI) then searches with steps of 2 s and a P99
objective of 3 × the service time. The table gives the true and the found capacity, the
error, the steps and how long the search took.

The inference server takes some time of its own per request on top of the sleep; a
deployment sleeping 0 ms (2 workers) measures it in the same run: a closed loop at
concurrency 4 keeps both workers busy, so its throughput X0 gives the overhead
t0 = 2 / X0 (an upper bound: the load generator shares the cores). The table shows the
nominal truth (workers / sleep) and the truth with the overhead (workers / (sleep + t0)),
and the error against each.

    PYTHONPATH=. .venv/bin/python bench/capacity_search.py
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from samples.scripts import slow_score  # noqa: E402
from tests.support.flightdeck_cli import (  # noqa: E402
    LocalPlatform,
    local_platform,
    write_deployment,
    write_endpoint,
)

EP = "product-recommender"
#: (service time ms, workers): true capacities 20, 50, 100 and 40 req/s.
CASES = ((100, 2), (40, 2), (20, 2), (50, 2), (25, 1))


def _overhead_ms(platform: LocalPlatform, specs: Path, code: Path, body: Path) -> float:
    """The server's own time per request: 2 workers sleeping 0 ms, saturated by a closed
    loop of concurrency 4; t0 = workers / throughput."""
    spec = write_deployment(
        specs,
        name="overhead",
        code_configuration={"code": str(code), "scoring_script": "score.py"},
        environment_variables={"WORKER_COUNT": "2", "SAMPLE_DELAY_MS": "0"},
        request_settings={"max_concurrent_requests_per_instance": 8, "request_timeout_ms": 5000},
    )
    platform.cli("online-deployment", "create", "--file", str(spec)).ok()
    closed = platform.cli(
        "loadtest", EP, "-d", "overhead", "--requests", "600", "--concurrency", "4",
        "--request-file", str(body), "--json",
    ).ok()  # fmt: skip
    platform.cli(
        "online-deployment", "delete", "--name", "overhead", "--endpoint-name", EP, "--yes"
    )
    return 2 / float(closed.json()["throughput_rps"]) * 1000


def main() -> None:
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        specs = root / "specs"
        specs.mkdir()
        code = root / "code"
        code.mkdir()
        shutil.copy(Path(slow_score.__file__), code / "score.py")
        body = root / "request.json"
        body.write_text('{"data": [1.0, 2.0, 3.0]}', encoding="utf-8")
        with local_platform(root / "home") as platform:
            platform.cli("online-endpoint", "create", "--file", str(write_endpoint(specs))).ok()
            overhead_ms = _overhead_ms(platform, specs, code, body)
            for n, (delay_ms, workers) in enumerate(CASES):
                name = f"case{n}"
                spec = write_deployment(
                    specs,
                    name=name,
                    code_configuration={"code": str(code), "scoring_script": "score.py"},
                    environment_variables={
                        "WORKER_COUNT": str(workers),
                        "SAMPLE_DELAY_MS": str(delay_ms),
                    },
                    request_settings={
                        "max_concurrent_requests_per_instance": 4 * workers,
                        "request_timeout_ms": 5000,
                    },
                )
                platform.cli("online-deployment", "create", "--file", str(spec)).ok()
                truth = workers / (delay_ms / 1000)
                honest = workers / ((delay_ms + overhead_ms) / 1000)
                started = time.monotonic()
                result = platform.cli(
                    "capacity", EP, "-d", name, "--max-p99", f"{3 * delay_ms}ms",
                    "--start-rate", "10", "--max-rate", "400", "--step", "2s", "--json",
                    "--request-file", str(body),
                ).ok()  # fmt: skip
                seconds = time.monotonic() - started
                data = json.loads(result.stdout)
                found = data["capacity_rps"]
                rows.append(
                    (
                        f"{delay_ms} ms",
                        str(workers),
                        f"{truth:.0f}",
                        f"{honest:.1f}",
                        f"{found:.1f}",
                        f"{(found - truth) / truth:+.1%}",
                        f"{(found - honest) / honest:+.1%}",
                        data["limited_by"],
                        str(len(data["steps"])),
                        f"{seconds:.0f} s",
                    )
                )
                platform.cli(
                    "online-deployment", "delete", "--name", name, "--endpoint-name", EP, "--yes"
                )
    head = (
        "service",
        "workers",
        "true req/s",
        "with overhead",
        "found req/s",
        "error",
        "error (overhead)",
        "limited by",
        "steps",
        "search",
    )
    print(f"inference server overhead t0 = {overhead_ms:.1f} ms per request (0 ms sleep case)")
    print()
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
