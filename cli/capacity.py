"""``flightdeck capacity``: a deployment's capacity at its P99 objective, and a recommendation.

    flightdeck capacity product-recommender --deployment green --max-p99 200ms
    flightdeck capacity product-recommender -d green --max-p99 200ms --target-rate 500 --json
    flightdeck capacity product-recommender -d green --max-p99 200ms --dry-run

The same search as ``/capacity`` (``commands.capacity``): open-loop steps on the endpoint's
scoring URI with its key and the ``azureml-model-deployment`` header, the body
``--request-file`` or the swagger's sample input, within the config's ``loadtest:`` caps;
``capacity:`` (headroom) and ``pricing:`` come from the config too. A deployment that takes
live traffic is loaded only with ``--yes``. Progress goes to stderr, the answer to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

from capacity import (
    CapacityReport,
    StepProgress,
    render_capacity_chart,
    render_plan,
    render_step_progress,
    render_text,
    to_dict,
)
from cli import messages
from cli.backends import backend_options, run_with_backend
from cli.output import print_text, say
from commands.capacity import Prepared, build_request, measure, prepare
from commands.messages import CAPACITY_LIVE_CLI
from deploy.backend import Backend
from deploy.errors import ValidationError
from loadtest import LoadTestError, read_request_file

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``capacity``."""
    parser = subparsers.add_parser(
        "capacity",
        parents=[backend_options()],
        help="find a deployment's capacity at a P99 objective; recommend instances and cost",
        description="Open-loop steps of rising rate, then bisection, find the highest rate "
        "with P99 within --max-p99 and errors within --max-error-rate.",
    )
    parser.add_argument("endpoint", metavar="ENDPOINT", help="the endpoint's name")
    parser.add_argument("--deployment", "-d", required=True, help="the deployment to measure")
    parser.add_argument("--max-p99", required=True, help="the P99 objective, e.g. 200ms")
    parser.add_argument("--max-error-rate", help="error budget, e.g. 0.1%% (default 0.1%%)")
    parser.add_argument("--target-rate", help="req/s to size for (default: last 7 days' peak)")
    parser.add_argument("--max-rate", help="the ramp's highest rate (req/s)")
    parser.add_argument("--start-rate", help="the ramp's first rate (default: config, 10)")
    parser.add_argument("--step", help="how long each step lasts, e.g. 10s (default: config)")
    parser.add_argument("--request-file", help="the body (JSON); default: the swagger sample")
    parser.add_argument("--scoring-uri", help="send here instead of the endpoint's scoring URI")
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="local platform: measure on 1 and 2 instances, then restore the count",
    )
    parser.add_argument("--dry-run", action="store_true", help="show the plan, send nothing")
    parser.add_argument("--yes", action="store_true", help="load a deployment with live traffic")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    parser.add_argument("--chart", metavar="PNG", help="save the chart to this file")
    parser.add_argument(
        "--config", help="config file (default: $FLIGHTDECK_CONFIG, ./flightdeck.yml)"
    )
    parser.set_defaults(handler=_capacity)


def _capacity(args: argparse.Namespace) -> int:
    from bot.config import load_settings
    from bot.loadtests.runs import limits_for

    settings = load_settings(args.config, os.environ)
    request = build_request(
        endpoint=args.endpoint,
        deployment=args.deployment,
        max_p99=args.max_p99,
        max_error_rate=args.max_error_rate,
        target_rate=args.target_rate,
        max_rate=args.max_rate,
        start_rate=args.start_rate or str(settings.capacity.start_rate),
        step=args.step or str(settings.capacity.step),
        dry_run=args.dry_run,
        scaling=args.scaling,
    )
    try:
        body = read_request_file(args.request_file) if args.request_file else None
    except LoadTestError as exc:
        raise ValidationError(str(exc)) from None

    async def work(backend: Backend) -> CapacityReport | Prepared:
        limits = limits_for(settings.loadtest, loopback_only=backend.loopback_only)
        prepared = await prepare(backend, request, limits=limits, body=body, url=args.scoring_uri)
        if request.dry_run:
            return prepared
        if prepared.live_weight and not args.yes:
            raise ValidationError(CAPACITY_LIVE_CLI.format(live=prepared.live_warning()))
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()

        def interrupted() -> None:
            if not cancel.is_set():
                say(messages.CAPACITY_CANCELLING)
                cancel.set()

        async def show(progress: StepProgress) -> None:
            say(render_step_progress(progress))

        loop.add_signal_handler(signal.SIGINT, interrupted)
        try:
            return await measure(
                backend,
                prepared,
                headroom=settings.capacity.headroom,
                prices=settings.pricing.table(),
                progress=show,
                progress_interval=2.0,
                cancel=cancel,
            )
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    result = run_with_backend(args, work)
    if isinstance(result, Prepared):
        plan_text = render_plan(result.plan)
        if args.json:
            data = {
                "dry_run": True,
                "ramp_rps": result.plan.ramp(),
                "max_steps": result.plan.max_steps,
                "max_seconds": result.max_seconds,
                "scaling": result.request.scaling,
                "max_rate": result.plan.max_rate,
                "live_traffic_percent": result.live_weight,
                "plan": plan_text,
            }
            print_text(json.dumps(data, indent=2, sort_keys=True))
        else:
            if result.live_weight:
                plan_text += "\n" + result.live_warning()
            elif result.request.scaling:
                plan_text += "\n" + result.scaling_note()
            print_text(plan_text)
        return 0
    if args.chart:
        chart = Path(args.chart)
        chart.write_bytes(render_capacity_chart(result))
        say(messages.CAPACITY_CHART_SAVED.format(path=chart))
    if args.json:
        print_text(json.dumps(to_dict(result), indent=2, sort_keys=True))
    else:
        print_text(render_text(result))
    return 130 if result.outcome.cancelled else 0
