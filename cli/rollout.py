"""``flightdeck rollout``: the canary rollouts of ``/traffic <endpoint> canary``, in a terminal.

    flightdeck rollout start product-recommender green --steps 10,50,100 --interval 5m
    flightdeck rollout status [product-recommender] [--json]
    flightdeck rollout pause|resume|abort|promote product-recommender

The rollout lives in the bot's database (``$FLIGHTDECK_HOME/bot.db``, or
``$FLIGHTDECK_DATABASE_URL``), so Slack and the terminal see the same rollouts, the same
locks, and one rollout per endpoint. ``start`` applies the first step and drives the
rollout in the foreground, printing each step and check, until it is promoted or rolled
back; Ctrl-C pauses it (``resume`` drives it again). With ``--detach`` it returns after
the first step and a running bot (``flightdeck serve``) drives it, showing it in Slack in
``--channel`` (default: the endpoint's alerts channel from the config), as it shows a
rollout started with ``/traffic``; without a channel the bot drives it silently. There
is no approval in the terminal: whoever runs this has the backend's credentials.
Defaults come from the config's ``rollouts:`` section; every action goes to the bot's
audit log as ``cli:<user>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from cli import messages
from cli.backends import backend_options, run_with_backend
from cli.output import print_json, say
from deploy.backend import Backend
from deploy.errors import NotFoundError

if TYPE_CHECKING:  # the bot's modules load only when a rollout verb runs
    from bot.config import Settings
    from bot.policy.audit import AuditLog
    from rollouts import MessageRef, Rollout, RolloutEngine

__all__ = ["register", "rollout_json", "terminal_engine"]

#: Seconds between two ticks of a foreground rollout, at most (the config's ``tick`` if less).
MAX_TICK = 5.0


def register(subparsers: Any) -> None:
    """Add ``rollout start|status|pause|resume|abort|promote``."""
    parser = subparsers.add_parser(
        "rollout",
        help="canary rollouts: traffic moved step by step, gated by P99 and error rate",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    common = argparse.ArgumentParser(add_help=False, parents=[backend_options()])
    common.add_argument(
        "--config", help="config file (default: $FLIGHTDECK_CONFIG, ./flightdeck.yml)"
    )
    start = verbs.add_parser("start", parents=[common], help="start a rollout and drive it")
    start.add_argument("endpoint", metavar="ENDPOINT")
    start.add_argument("canary", metavar="DEPLOYMENT", help="the deployment rolled out")
    start.add_argument("--steps", help="weights in percent, rising to 100 (e.g. 10,25,50,100)")
    start.add_argument("--interval", help="how long each step is judged (e.g. 5m)")
    start.add_argument("--max-p99", help="the canary's P99 limit (e.g. 500ms)")
    start.add_argument("--max-error-rate", help="failed requests limit (e.g. 1%%)")
    start.add_argument("--min-requests", help="fewer in an interval: it holds the step")
    start.add_argument("--threshold", help="failed checks before rolling back")
    start.add_argument("--max-p99-increase", help="P99 at most this much above the baseline's")
    start.add_argument("--with-load", help="requests/s sent to the canary while judged")
    start.add_argument("--confirm-promotion", action="store_true", help="wait before 100%%")
    start.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    start.add_argument("--force", action="store_true", help="start it on a locked endpoint")
    start.add_argument("--detach", action="store_true", help="leave it to a running bot")
    start.add_argument(
        "--channel",
        help="Slack channel ID where a bot that drives it shows it (default: alerts channel)",
    )
    start.set_defaults(handler=_start)
    status = verbs.add_parser("status", parents=[common], help="the rollouts, as JSON")
    status.add_argument("endpoint", metavar="ENDPOINT", nargs="?")
    status.add_argument("--all", action="store_true", help="finished ones too (the last 10)")
    status.set_defaults(handler=_status)
    for verb, what in (
        ("pause", "hold the rollout at its step"),
        ("resume", "run it again from its step, and drive it"),
        ("abort", "roll back now: all traffic to the baseline"),
        ("promote", "send the canary to 100%% now"),
    ):
        action = verbs.add_parser(verb, parents=[common], help=what)
        action.add_argument("endpoint", metavar="ENDPOINT")
        if verb == "resume":
            action.add_argument("--detach", action="store_true", help="leave it to a running bot")
        action.set_defaults(handler=_act, verb=verb)
    parser.set_defaults(handler=lambda _args: parser.print_help() or 2)


# ---------------------------------------------------------------- wiring


def _settings(args: argparse.Namespace) -> Settings:
    from bot.config import load_settings

    return load_settings(args.config, os.environ)


def _user() -> str:
    return f"cli:{getpass.getuser()}"


class _Terminal:
    """A ``RolloutNotifier`` that prints each new event and judged interval on stderr."""

    def __init__(self) -> None:
        self._events: dict[str, int] = {}
        self._results: dict[str, int] = {}

    async def show(self, rollout: Rollout, where: MessageRef) -> MessageRef | None:
        for event in rollout.events[self._events.get(rollout.id, 0) :]:
            say(messages.ROLLOUT_EVENT.format(at=event.at.strftime("%H:%M:%S"), text=event.text))
        self._events[rollout.id] = len(rollout.events)
        for result in rollout.results[self._results.get(rollout.id, 0) :]:
            say(
                messages.ROLLOUT_INTERVAL.format(
                    at=result.end.strftime("%H:%M:%S"),
                    step=result.step + 1,
                    weight=result.weight,
                    verdict=result.verdict,
                    summary=result.summary(),
                )
            )
        self._results[rollout.id] = len(rollout.results)
        return None

    async def finished(self, rollout: Rollout, where: MessageRef) -> None:
        if rollout.reason:
            say(messages.ROLLOUT_REASON.format(reason=rollout.reason))

    async def request_promotion(self, rollout: Rollout, where: MessageRef) -> str | None:
        say(messages.ROLLOUT_AWAITING.format(endpoint=rollout.endpoint))
        return "terminal"


def terminal_engine(backend: Backend, settings: Settings) -> tuple[RolloutEngine, AuditLog]:
    """The engine the terminal drives rollouts with: the bot's database, shown on stderr."""
    from base.clock import utc_now
    from base.db import Database
    from base.migrations import upgrade
    from bot.loadtests.runs import limits_for
    from bot.policy.audit import AuditLog
    from commands.canary_load import canary_feeder
    from rollouts import LockStore, RolloutEngine, RolloutStore

    database = Database(url=settings.database())
    upgrade(database.engine)
    store = RolloutStore(engine=database.engine)
    limits = limits_for(settings.loadtest, loopback_only=backend.loopback_only)
    engine = RolloutEngine(
        backend=backend,
        store=store,
        locks=LockStore(engine=database.engine),
        notifier=_Terminal(),
        settings=settings.rollouts,
        feeder=canary_feeder(backend, limits),
    )
    return engine, AuditLog(engine=database.engine, clock=utc_now)


def rollout_json(rollout: Rollout) -> dict[str, Any]:
    """What ``status`` prints of a rollout."""
    from rollouts import target_weights

    return {
        "id": rollout.id,
        "endpoint": rollout.endpoint,
        "canary": rollout.canary,
        "status": rollout.status,
        "outcome": rollout.outcome,
        "step": rollout.step + 1,
        "steps": list(rollout.spec.steps),
        "traffic": target_weights(rollout),
        "failures": rollout.failures,
        "threshold": rollout.spec.threshold,
        "interval_s": rollout.spec.interval.total_seconds(),
        "reason": rollout.reason,
        "requested_by": rollout.requested_by,
        "approved_by": rollout.approved_by,
        "channel": rollout.channel,
        "results": [
            {
                "step": r.step + 1,
                "weight": r.weight,
                "verdict": r.verdict,
                "requests": r.requests,
                "error_rate": r.error_rate,
                "p99_ms": r.p99_ms,
                "checks": r.summary(),
                "end": r.end.isoformat(),
            }
            for r in rollout.results
        ],
        "events": [{"at": e.at.isoformat(), "text": e.text} for e in rollout.events],
    }


@contextlib.contextmanager
def _ctrl_c(*, wanted: bool) -> Iterator[asyncio.Event]:
    """While the block runs, Ctrl-C sets the event (the rollout then pauses) instead of
    interrupting. Taken before the rollout begins, so a Ctrl-C during its first step is
    not lost; ``wanted=False`` (``--detach``) leaves Ctrl-C as it is."""
    stop = asyncio.Event()
    if not wanted:
        yield stop
        return
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        yield stop
    finally:
        loop.remove_signal_handler(signal.SIGINT)


async def _drive(engine: RolloutEngine, rollout: Rollout, stop: asyncio.Event) -> Rollout:
    """Tick until the rollout ends; ``stop`` (Ctrl-C) pauses it (the caller exits 130)."""
    tick = min(engine.settings.tick.total_seconds(), MAX_TICK)
    try:
        while rollout.active:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick)
            if stop.is_set():
                found = await engine.store.get(rollout.id)
                if found is not None and found.status == "running":
                    say(messages.ROLLOUT_PAUSING.format(endpoint=rollout.endpoint))
                    return await engine.pause(rollout.id, user=_user())
                return found or rollout
            await engine.tick_once()
            rollout = await engine.store.get(rollout.id) or rollout
        return rollout
    finally:
        await engine.stop()


def _run(args: argparse.Namespace, work: Callable[[Backend, Settings], Awaitable[int]]) -> int:
    settings = _settings(args)
    return run_with_backend(args, lambda backend: work(backend, settings))


# ---------------------------------------------------------------- verbs


def _report_channel(given: str | None, settings: Settings, endpoint: str) -> str | None:
    """The Slack channel a bot shows the rollout in: ``--channel``, else the endpoint's
    alerts channel from the config, else none. A malformed ID is a ``ValidationError``."""
    from alerts.settings import CHANNEL_ID, parse_alert_settings
    from deploy.errors import ValidationError

    if given is not None:
        if not CHANNEL_ID.match(given):
            raise ValidationError(messages.ROLLOUT_BAD_CHANNEL.format(channel=given))
        return given
    alerts = parse_alert_settings(settings.alerts, source=settings.source)
    return (alerts.channel_for(endpoint) or None) if alerts is not None else None


def _options(args: argparse.Namespace) -> dict[str, str]:
    """The options given, as ``/traffic <endpoint> canary`` names them."""
    names = (
        "steps",
        "interval",
        "max_p99",
        "max_error_rate",
        "min_requests",
        "threshold",
        "max_p99_increase",
        "with_load",
    )
    given = {name: getattr(args, name) for name in names}
    return {f"--{name.replace('_', '-')}": str(v) for name, v in given.items() if v is not None}


def _start(args: argparse.Namespace) -> int:
    from bot.loadtests.runs import limits_for
    from commands.canary import canary_spec
    from commands.canary_load import check_load
    from deploy.rules import validate_name
    from rollouts import plan_rollout

    async def work(backend: Backend, settings: Settings) -> int:
        endpoint = validate_name("endpoint", args.endpoint)
        channel = _report_channel(args.channel, settings, endpoint)
        spec = canary_spec(
            args.canary,
            _options(args),
            confirm_promotion=args.confirm_promotion,
            settings=settings.rollouts,
            max_load_rate=min(settings.rollouts.max_load_rate, settings.loadtest.max_rate),
        )
        plan = await plan_rollout(backend, endpoint, spec)
        limits = limits_for(settings.loadtest, loopback_only=backend.loopback_only)
        await check_load(backend, endpoint, spec, limits)
        if args.dry_run:
            shown = {**plan.to_json(), "rollback": plan.rollback_weights, "channel": channel}
            print_json({"dry_run": True, **shown})
            return 0
        engine, audit = terminal_engine(backend, settings)
        user = _user()
        with _ctrl_c(wanted=not args.detach) as stop:
            rollout = await engine.begin(
                endpoint=endpoint,
                spec=spec,
                requested_by=user,
                approved_by=None,
                channel=channel,
                force=args.force,
            )
            await audit.record(
                user=user,
                channel=channel,
                action="rollout start",
                result="started",
                text=f"{spec.canary}: {spec.steps_text()}",
                endpoint=endpoint,
            )
            if not args.detach:
                rollout = await _drive(engine, rollout, stop)
            else:
                await engine.stop()
                say(messages.ROLLOUT_DETACHED.format(endpoint=rollout.endpoint))
        print_json(rollout_json(rollout))
        return 130 if rollout.status == "paused" and not args.detach else 0

    return _run(args, work)


def _status(args: argparse.Namespace) -> int:
    async def work(backend: Backend, settings: Settings) -> int:
        engine, _ = terminal_engine(backend, settings)
        if args.all:
            found = await engine.store.latest(args.endpoint)
        elif args.endpoint:
            active = await engine.store.active_for(args.endpoint)
            found = [active] if active else []
        else:
            found = await engine.store.active()
        print_json([rollout_json(r) for r in found])
        return 0

    return _run(args, work)


def _act(args: argparse.Namespace) -> int:
    async def work(backend: Backend, settings: Settings) -> int:
        engine, audit = terminal_engine(backend, settings)
        active = await engine.store.active_for(args.endpoint)
        if active is None:
            raise NotFoundError(messages.ROLLOUT_NONE.format(endpoint=args.endpoint))
        user = _user()
        if args.verb == "promote":
            lock = await engine.locks.get(args.endpoint)
            if lock is not None:
                raise lock.error()
        act = {
            "pause": engine.pause,
            "resume": engine.resume,
            "abort": engine.abort,
            "promote": engine.promote,
        }[args.verb]
        rollout = await act(active.id, user=user)
        await audit.record(
            user=user,
            channel=None,
            action=f"rollout {args.verb}",
            result=rollout.status,
            endpoint=args.endpoint,
        )
        code = 0
        if args.verb == "resume" and not args.detach:
            with _ctrl_c(wanted=True) as stop:
                rollout = await _drive(engine, rollout, stop)
            code = 130 if rollout.status == "paused" else 0
        else:
            await engine.stop()
        print_json(rollout_json(rollout))
        return code

    return _run(args, work)
