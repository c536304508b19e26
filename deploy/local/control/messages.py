"""User-facing text of the daemon, its control API and its client (one place for wording)."""

from __future__ import annotations

__all__ = [
    "ALREADY_RUNNING",
    "NOT_RUNNING",
    "TOKEN_REFUSED",
    "cannot_listen",
    "daemon_failed",
    "did_not_start",
    "outcome_unknown",
    "remembered_port_taken",
    "stopped_answering",
    "unexpected_answer",
]

NOT_RUNNING = "The local platform is not running: start it with `flightdeck local up`."
TOKEN_REFUSED = (
    "The local platform refused the admin token: is FLIGHTDECK_HOME the home of the running daemon?"
)
ALREADY_RUNNING = "Another local platform daemon already runs with this home folder."


def stopped_answering(exc: BaseException) -> str:
    """The daemon went away or timed out during a call."""
    reason = str(exc) or type(exc).__name__
    return f"The local platform stopped answering ({reason}); see `flightdeck local status`."


def outcome_unknown(method: str, path: str, exc: BaseException) -> str:
    """The daemon went away after it accepted a change: it may have been committed."""
    reason = str(exc) or type(exc).__name__
    what = "deleting" if method == "DELETE" else "the change to"
    return (
        f"The local platform stopped answering during {what} {path.lstrip('/')} ({reason}): "
        "the outcome is unknown, as it may have taken effect before; `show` tells "
        "(`flightdeck online-endpoint show` or `flightdeck online-deployment show`)."
    )


def unexpected_answer(status: int, method: str, path: str) -> str:
    """The daemon answered something this client does not understand (version mismatch?)."""
    return (
        f"The local platform answered {status} to {method} {path}; "
        "restart it with `flightdeck local down` and `flightdeck local up`."
    )


def did_not_start(reason: str, log: str) -> str:
    """`local up` gave up waiting for the daemon."""
    return f"The local platform did not start: {reason}. See its log: {log}"


def cannot_listen(what: str, port: int, exc: OSError) -> str:
    """The router or control API port is taken."""
    reason = exc.strerror or str(exc)
    option = "--router-port" if what == "router" else "--control-port"
    return (
        f"cannot listen on 127.0.0.1:{port} for the {what} ({reason}); "
        f"choose another port with `flightdeck local up {option} N` (0 = any free port)."
    )


def remembered_port_taken(what: str, port: int, exc: OSError, ports_file: str) -> str:
    """The port the last daemon bound (reused so that URLs stay the same) is taken now."""
    reason = exc.strerror or str(exc)
    option = "--router-port" if what == "router" else "--control-port"
    kept = "scoring URIs stay" if what == "router" else "the control API's URL stays"
    return (
        f"cannot listen on 127.0.0.1:{port} for the {what} ({reason}): the last run used "
        f"this port (remembered in {ports_file}, so that {kept} the same); "
        f"stop what holds it, or choose another port with `flightdeck local up {option} N` "
        "(0 = any free port)."
    )


def daemon_failed(log: str) -> str:
    """The daemon died of a bug (its traceback is in its log)."""
    return f"The local platform daemon failed; see its log: {log}"
