"""The suite's time rules: a slow test carries its time budget, and a hang fails fast.

    pytestmark = pytest.mark.slow(budget=120)    # the whole module starts processes

    @pytest.mark.slow(budget=60)                 # one test that waits on real time
    def test_a_restart_is_noticed() -> None: ...

A test that starts processes (the daemon, azmlinfsrv or fastserve instances, the CLI in a
subprocess, Bolt over HTTP with real instances) or waits on real time is marked ``slow``;
``make test-fast`` leaves those out, ``make test`` runs everything. The budget (seconds) is
the test's pytest-timeout, setup and teardown included (a module's fixture is charged to
its first test): pick it from ``--durations=0`` on two cores, three to five times the time
measured, 30 s at least. A test marked slow without a budget stops the run at collection;
one that outlives its budget fails with a message naming it. Unmarked tests keep the
global ``timeout`` of pyproject's [tool.pytest.ini_options].
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest
from pytest_timeout import (  # type: ignore[import-untyped]  # pytest-timeout ships no types
    dump_stacks,
    is_debugging,
)

SLOW = "slow"


def _budget(item: pytest.Item) -> float | None:
    """The budget of ``item``'s closest ``slow`` marker; ``None`` when it is not slow.

    Raises ``pytest.UsageError`` when the marker has no positive ``budget=``.
    """
    marker = item.get_closest_marker(SLOW)
    if marker is None:
        return None
    budget = marker.kwargs.get("budget")
    if marker.args or not isinstance(budget, int | float) or isinstance(budget, bool):
        raise pytest.UsageError(
            f"{item.nodeid} is marked slow without a budget: write "
            "@pytest.mark.slow(budget=SECONDS) (its timeout, from --durations=0 on two cores)"
        )
    if budget <= 0:
        raise pytest.UsageError(f"{item.nodeid}: slow(budget={budget}) must be positive")
    return float(budget)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Turn each slow marker's budget into the test's timeout (before ``-m`` deselects)."""
    for item in items:
        budget = _budget(item)
        if budget is not None:
            item.add_marker(pytest.mark.timeout(budget))


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """For a slow test, pytest-timeout's signal timer with a failure that names the budget.

    Other tests (and slow ones off the main thread) keep pytest-timeout's own timer.
    """
    budget = _budget(item)
    if budget is None or threading.current_thread() is not threading.main_thread():
        return None
    if settings.method != "signal":
        return None

    def expired(signum: int, frame: object) -> None:
        __tracebackhide__ = True
        if not settings.disable_debugger_detection and is_debugging():
            return
        terminal = item.config.get_terminal_writer()
        terminal.sep("+", title=f"{item.nodeid}: over its budget of {budget:g} s")
        dump_stacks(terminal)  # where every thread was, as pytest-timeout shows it
        pytest.fail(
            f"{item.nodeid} outlived its budget of {budget:g} s "
            f"(@pytest.mark.slow(budget={budget:g}), setup and teardown included): "
            "it hangs, or its budget no longer fits (measure with --durations=0)"
        )

    def cancel() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # pytest-timeout's cancel hook
    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, budget)
    return True
