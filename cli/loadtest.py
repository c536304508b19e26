"""``flightdeck loadtest``: a bounded load test of an endpoint, with a progress bar.

    flightdeck loadtest product-recommender --requests 1000 --concurrency 10
    flightdeck loadtest product-recommender --rate 200 --duration 30s --deployment green
    flightdeck loadtest product-recommender --request-file req.json --json --chart latency.png

The URL is the endpoint's scoring URI (``--scoring-uri`` sends elsewhere, e.g. through a
gateway), the key its own (``Authorization: Bearer``), the body ``--request-file`` or the
sample input of its swagger. Caps come from the config's ``loadtest:`` section
(``--config``, ``$FLIGHTDECK_CONFIG``, ``./flightdeck.yml``); with the local backend
only loopback targets are allowed. Ctrl-C stops the run and prints partial results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from cli import messages
from cli.backends import backend_options, run_with_backend
from cli.output import print_text, say
from commands.loadtest import LoadtestRequest, duration_seconds, prepare
from deploy.backend import Backend
from deploy.errors import ValidationError
from loadtest import (
    Limits,
    LoadTestError,
    LoadTestResult,
    Progress,
    read_request_file,
    render_chart_png,
    render_progress,
    render_text,
    run_load_test,
    to_dict,
)

__all__ = ["register"]

_BAR_WIDTH = 30


def register(subparsers: Any) -> None:
    """Add ``loadtest``."""
    parser = subparsers.add_parser(
        "loadtest",
        parents=[backend_options()],
        help="load test an endpoint (closed or open loop), bounded by the config",
        description="Closed loop: --requests N --concurrency C (default 100 x 10). "
        "Open loop: --rate R --duration D (latency from each intended send time).",
    )
    parser.add_argument("endpoint", metavar="ENDPOINT", help="the endpoint's name")
    parser.add_argument("--deployment", "-d", help="send to this deployment (its header)")
    parser.add_argument("--requests", "-n", type=int, help="closed loop: requests in all")
    parser.add_argument("--concurrency", "-c", type=int, help="workers (closed), connections")
    parser.add_argument("--rate", "-r", type=float, help="open loop: requests per second")
    parser.add_argument(
        "--duration", help="open loop: how long, e.g. 30s or 2m (closed: a cap); bare: seconds"
    )
    parser.add_argument("--request-file", help="the body (JSON); default: the swagger sample")
    parser.add_argument("--scoring-uri", help="send here instead of the endpoint's scoring URI")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--chart", metavar="PNG", help="save the latency chart to this file")
    parser.add_argument(
        "--config", help="config file (default: $FLIGHTDECK_CONFIG, ./flightdeck.yml)"
    )
    parser.set_defaults(handler=_loadtest)


def _limits(args: argparse.Namespace, backend: Backend) -> Limits:
    from bot.config import load_settings
    from bot.loadtests.runs import limits_for

    caps = load_settings(args.config, os.environ).loadtest
    return limits_for(caps, loopback_only=backend.loopback_only)


class _Display:
    """A progress bar on a terminal, else a line every few seconds (stderr)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.interval = 0.5 if self.tty else 2.0
        self._drawn = False

    async def show(self, progress: Progress) -> None:
        line = render_progress(progress)
        if not self.tty:
            say(line)
            return
        done = progress.sent / progress.planned if progress.planned else 0.0
        filled = min(_BAR_WIDTH, int(done * _BAR_WIDTH))
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        sys.stderr.write(f"\r[{bar}] {min(done, 1.0):4.0%} {line}\033[K")
        sys.stderr.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _loadtest(args: argparse.Namespace) -> int:
    request = LoadtestRequest(
        endpoint=args.endpoint,
        deployment=args.deployment,
        requests=args.requests,
        concurrency=args.concurrency,
        rate=args.rate,
        duration=None if args.duration is None else duration_seconds(args.duration),
    )
    try:
        body = read_request_file(args.request_file) if args.request_file else None
    except LoadTestError as exc:
        raise ValidationError(str(exc)) from None
    display = _Display()

    async def work(backend: Backend) -> LoadTestResult:
        limits = _limits(args, backend)
        plan = await prepare(backend, request, limits=limits, body=body, url=args.scoring_uri)
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()

        def interrupted() -> None:
            if not cancel.is_set():
                display.close()
                say(messages.LOADTEST_CANCELLING)
                cancel.set()

        loop.add_signal_handler(signal.SIGINT, interrupted)
        try:
            return await run_load_test(
                plan,
                limits=limits,
                progress=display.show,
                progress_interval=display.interval,
                cancel=cancel,
            )
        except LoadTestError as exc:
            raise ValidationError(str(exc)) from None
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            display.close()

    result = run_with_backend(args, work)
    if args.chart:
        chart = Path(args.chart)
        chart.write_bytes(render_chart_png(result))
        say(messages.LOADTEST_CHART_SAVED.format(path=chart))
    if args.json:
        print_text(json.dumps(to_dict(result), indent=2, sort_keys=True))
    else:
        print_text(render_text(result))
    return 130 if result.cancelled else 0
