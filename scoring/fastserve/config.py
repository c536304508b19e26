"""The server's settings, read once from the command line and the environment.

The flags and variables are azmlinfsrv's, with its precedence (a flag wins over its
variable), so a deployment starts either server the same way:

================================ ================================ ===========================
flag                             variable                         default
================================ ================================ ===========================
``--entry_script PATH``          ``AZUREML_ENTRY_SCRIPT``         (required)
``--model_dir PATH``             ``AZUREML_MODEL_DIR``            unset
``--port N``                     (none: azmlinfsrv ignores        ``5001``
                                 ``SERVER_PORT`` too)
``--worker_count N``             ``WORKER_COUNT``                 ``1``
(none)                           ``AML_APP_ROOT``                 the current folder
(none)                           ``AZUREML_SOURCE_DIRECTORY``     unset
(none)                           ``SCORING_TIMEOUT_MS``           ``3600000``
(none)                           ``SERVICE_NAME`` /               ``ML service`` / ``1.0`` /
                                 ``SERVICE_VERSION`` /            empty (swagger text)
                                 ``SERVICE_PATH_PREFIX``
``--host ADDR``                  ``FASTSERVE_HOST``               ``0.0.0.0`` (as azmlinfsrv)
(none)                           ``FASTSERVE_ACCESS_LOG``         ``true``: one line per
                                                                  /score and /swagger.json
(none)                           ``FASTSERVE_PROCESSES``          ``1``; ``auto``: one per core
(none)                           ``FASTSERVE_INLINE``             ``true``: run() on the event
                                                                  loop if the script declares
                                                                  ``FASTSERVE_INLINE = True``
                                                                  (or ``"alone"``: when alone);
                                                                  ``false``: always in threads
(none)                           ``FASTSERVE_UNIX_SOCKET``        unset; a path: also listen
                                                                  on a Unix socket there
                                                                  (see :mod:`.unix`)
================================ ================================ ===========================

``WORKER_COUNT`` is the number of run() calls in flight at once: threads of one process here,
where azmlinfsrv starts that many processes; the script sees it as ``FASTSERVE_THREADS`` too.
``FASTSERVE_PROCESSES`` starts that many server processes on the port (see
:mod:`.processes`), each with ``WORKER_COUNT`` threads.
``--health_port``, ``--config_file``, ``--appinsights_instrumentation_key`` and
``--access_control_allow_origins`` are accepted so that command lines carry over; fastserve
logs that it does not use them.

Usage::

    config = ServerConfig.parse(sys.argv[1:], os.environ, cwd=os.getcwd())
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import messages as msg
from .errors import ConfigError
from .unix import UNIX_SOCKET_ENV

DEFAULT_PORT = 5001
DEFAULT_HOST = "0.0.0.0"
DEFAULT_TIMEOUT_MS = 3600 * 1000
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """Everything the server needs to start; :meth:`exported_environ` is what run() sees."""

    entry_script: str
    model_dir: str | None
    app_root: str
    source_dir: str | None
    host: str
    port: int
    worker_count: int
    scoring_timeout_ms: int
    service_name: str = "ML service"
    service_version: str = "1.0"
    service_path_prefix: str = ""
    server_version_header: str | None = None
    access_log: bool = True
    processes: int = 1
    inline: bool = True
    unix_socket: str | None = None
    unused_options: tuple[str, ...] = ()

    @classmethod
    def parse(cls, argv: Sequence[str], environ: Mapping[str, str], *, cwd: str) -> ServerConfig:
        """Read flags and variables; :class:`ConfigError` names the one with a bad value."""
        args = _parser().parse_args(list(argv))
        entry = args.entry_script or environ.get("AZUREML_ENTRY_SCRIPT") or ""
        if not entry:
            raise ConfigError(msg.NO_ENTRY_SCRIPT)
        if args.entry_script:
            entry = os.path.realpath(os.path.join(cwd, args.entry_script))
        app_root = environ.get("AML_APP_ROOT") or cwd
        workers = (
            args.worker_count
            if args.worker_count is not None
            else _number(environ, "WORKER_COUNT", 1, minimum=1)
        )
        unused = tuple(
            flag
            for flag, value in (
                ("--health_port", args.health_port),
                ("--config_file", args.config_file),
                ("--appinsights_instrumentation_key", args.appinsights_instrumentation_key),
                ("--access_control_allow_origins", args.access_control_allow_origins),
            )
            if value is not None
        )
        return cls(
            entry_script=entry,
            model_dir=args.model_dir or environ.get("AZUREML_MODEL_DIR") or None,
            app_root=app_root,
            source_dir=environ.get("AZUREML_SOURCE_DIRECTORY") or None,
            host=args.host or environ.get("FASTSERVE_HOST") or DEFAULT_HOST,
            port=args.port if args.port is not None else DEFAULT_PORT,
            worker_count=workers,
            scoring_timeout_ms=_number(environ, "SCORING_TIMEOUT_MS", DEFAULT_TIMEOUT_MS, 1),
            service_name=environ.get("SERVICE_NAME", "ML service"),
            service_version=environ.get("SERVICE_VERSION", "1.0"),
            service_path_prefix=environ.get("SERVICE_PATH_PREFIX", ""),
            server_version_header=_server_version(environ),
            access_log=_switch(environ, "FASTSERVE_ACCESS_LOG", True),
            processes=_processes(environ),
            inline=_switch(environ, "FASTSERVE_INLINE", True),
            unix_socket=environ.get(UNIX_SOCKET_ENV) or None,
            unused_options=unused,
        )

    @property
    def script_path(self) -> str:
        """The scoring script's file: ``entry_script`` relative to ``app_root`` unless absolute."""
        return os.path.join(self.app_root, self.entry_script.replace("/", os.sep))

    def exported_environ(self) -> dict[str, str]:
        """The variables azmlinfsrv sets for the scoring script, with these settings."""
        exported = {
            "AML_APP_ROOT": self.app_root,
            "AZUREML_ENTRY_SCRIPT": self.entry_script,
            "WORKER_COUNT": str(self.worker_count),
            # fastserve's own: run() may be called from this many threads at once (the
            # project's score.py turns micro-batching on by default when it is above 1)
            "FASTSERVE_THREADS": str(self.worker_count),
        }
        if self.model_dir is not None:
            exported["AZUREML_MODEL_DIR"] = self.model_dir
        return exported


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastserve",
        description="Serve an Azure ML scoring script (init()/run()) with azmlinfsrv's routes "
        "and answers, on asyncio.",
    )
    parser.add_argument("--entry_script", help="the scoring script (relative or absolute path)")
    parser.add_argument("--model_dir", help="the model folder (sets AZUREML_MODEL_DIR)")
    parser.add_argument("--port", type=_port, help=f"the serving port (default {DEFAULT_PORT})")
    parser.add_argument("--worker_count", type=_positive, help="run() calls in flight (default 1)")
    parser.add_argument("--host", help=f"the address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--health_port", type=_port, help=argparse.SUPPRESS)
    parser.add_argument("--config_file", help=argparse.SUPPRESS)
    parser.add_argument("--appinsights_instrumentation_key", help=argparse.SUPPRESS)
    parser.add_argument("--access_control_allow_origins", help=argparse.SUPPRESS)
    return parser


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(msg.BAD_PORT.format(name="--port", value=text))
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            msg.BAD_NUMBER.format(name="--worker_count", value=text, minimum=1)
        )
    return int(text)


def _number(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    value = environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < minimum:
        raise ConfigError(msg.BAD_NUMBER.format(name=name, value=value, minimum=minimum))
    return int(value)


def _switch(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in _TRUE | _FALSE:
        raise ConfigError(msg.BAD_SWITCH.format(name=name, value=environ[name]))
    return value in _TRUE


def _processes(environ: Mapping[str, str]) -> int:
    if environ.get("FASTSERVE_PROCESSES", "").strip().lower() == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return _number(environ, "FASTSERVE_PROCESSES", 1, minimum=1)


def _server_version(environ: Mapping[str, str]) -> str | None:
    """``x-ms-server-version``: on unless SERVER_VERSION_LOG_RESPONSE_ENABLED is not true."""
    enabled = environ.get("SERVER_VERSION_LOG_RESPONSE_ENABLED")
    if enabled is not None and enabled.lower() != "true":
        return None
    from . import __version__

    return f"fastserve/{__version__}"
