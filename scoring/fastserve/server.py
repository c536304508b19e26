"""Start-up and shutdown: configure, load the script, run init(), listen, serve until a signal.

The order is azmlinfsrv's: settings, ``sys.path`` (``AML_APP_ROOT``, then
``AZUREML_SOURCE_DIRECTORY``), the script, its init(), the swagger documents, then the port.
A script that cannot be loaded or whose init() raises ends the process with exit code 3, as
azmlinfsrv's worker does. With ``FASTSERVE_PROCESSES`` above 1, this process supervises that
many servers instead (:mod:`.processes`). SIGTERM or SIGINT stops accepting connections, lets
the requests in flight finish (up to ``FASTSERVE_GRACE_S``, 30 s) and exits 0.

Usage::

    sys.exit(main(sys.argv[1:]))
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from . import messages as msg
from .access_log import AccessLog
from .app import ScoringApp
from .config import ServerConfig
from .errors import FastserveError, StartupError
from .processes import CHILD_ENV, supervise
from .protocol import HttpServer
from .scorer import Scorer
from .swagger import SwaggerDocs
from .turns import TurnCounter
from .unix import bind_unix, inherited_unix, remove_unix
from .user_script import UserScript
from .workers import WorkerPool

logger = logging.getLogger("fastserve")

LOG_FORMAT = "%(asctime)s %(levelname).1s [%(process)d] %(name)s - %(message)s"
_BACKLOG = 2048
_GRACE_S = 30.0


def main(argv: Sequence[str]) -> int:
    """Run the server; the exit code (0 after a signal, 2 bad settings, 3 unusable script)."""
    configure_logging()
    try:
        config = ServerConfig.parse(argv, os.environ, cwd=os.getcwd())
        if config.processes > 1 and not os.environ.get(CHILD_ENV):
            return supervise(count=config.processes, argv=argv)
        script = prepare(config)
    except FastserveError as error:
        logger.error(str(error), exc_info=isinstance(error, StartupError) and error.__cause__)
        return error.exit_code
    turns = TurnCounter()
    with asyncio.Runner(loop_factory=turns.new_loop) as runner:
        return runner.run(serve(config, script, turns))


def configure_logging() -> None:
    """Lines like azmlinfsrv's on stdout; the script's ``azmlinfsrv.*`` loggers too."""
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(LOG_FORMAT)
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    for name in ("fastserve", "azmlinfsrv"):
        named = logging.getLogger(name)
        named.handlers[:] = [handler]
        named.setLevel(os.environ.get("AZUREML_LOG_LEVEL", "INFO").upper())
        named.propagate = False


def prepare(config: ServerConfig) -> UserScript:
    """Set the script's environment and path, load it and run its init(); StartupError."""
    os.environ.update(config.exported_environ())
    sys.path.append(config.app_root)
    if config.source_dir:
        sys.path.append(os.path.join(config.app_root, config.source_dir))
    _alias_azureml_contrib()
    for option in config.unused_options:
        logger.warning(msg.UNUSED_OPTION.format(option=option))
    if os.environ.get("AML_CORS_ORIGINS"):
        logger.warning(msg.CORS_UNSUPPORTED)
    logger.info(
        msg.STARTING.format(
            version=__version__,
            script=config.script_path,
            model_dir=config.model_dir,
            workers=config.worker_count,
        )
    )
    script = UserScript.load(Path(config.script_path))
    logger.info(msg.INIT_STARTED)
    started = time.perf_counter()
    try:
        script.init()
    except Exception as error:
        raise StartupError(f"{msg.INIT_FAILED}: {error!r}") from error
    logger.info(msg.INIT_DONE)
    logger.info(msg.INIT_TOOK.format(seconds=time.perf_counter() - started))
    return script


async def serve(config: ServerConfig, script: UserScript, turns: TurnCounter) -> int:
    """Listen and answer until SIGTERM/SIGINT; then drain and return 0 (on a loop whose
    selector is ``turns``)."""
    try:
        sock = _listening_socket(config.host, config.port, shared=bool(os.environ.get(CHILD_ENV)))
    except OSError as error:
        logger.error(msg.PORT_IN_USE.format(host=config.host, port=config.port, reason=error))
        return 1
    unix_sock = inherited_unix(os.environ)
    owned_unix = config.unix_socket if unix_sock is None else None  # bound (and removed) here
    if owned_unix is not None:
        try:
            unix_sock = bind_unix(owned_unix, _BACKLOG)
        except OSError as error:
            sock.close()
            logger.error(msg.UNIX_SOCKET_FAILED.format(path=owned_unix, reason=error))
            return 1
    pool = WorkerPool(count=config.worker_count)
    docs = SwaggerDocs.build(run=script.user_run, config=config)
    loop = asyncio.get_running_loop()
    access_log = AccessLog(stream=sys.stdout, loop=loop) if config.access_log else None
    inline = script.inline_mode() if config.inline else "never"
    if inline == "alone" and config.worker_count == 1:
        inline = "always"  # one thread: calls never meet there, so the loop serves them all
    if inline != "never":
        logger.info(msg.RUN_INLINE if inline == "always" else msg.RUN_INLINE_ALONE)
    app = ScoringApp(
        config=config,
        scorer=Scorer(script),
        swagger=docs,
        pool=pool,
        access_log=access_log,
        loop=loop,
        turns=turns,
        inline=inline,
    )
    server = HttpServer(handler=app.answer)
    unix_listener = None
    if unix_sock is not None:
        unix_listener = await loop.create_unix_server(
            server.connection, sock=unix_sock, backlog=_BACKLOG
        )
    listener = await loop.create_server(server.connection, sock=sock, backlog=_BACKLOG)
    logger.info(msg.LISTENING.format(host=config.host, port=sock.getsockname()[1]))
    stop: asyncio.Future[str] = loop.create_future()

    def on_signal(name: str) -> None:
        if not stop.done():
            stop.set_result(name)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig.name)
    name = await stop
    logger.info(msg.STOPPING.format(signal=name, pending=app.in_flight))
    listener.close()
    if unix_listener is not None:
        unix_listener.close()
        if owned_unix is not None:
            remove_unix(owned_unix)
    grace_s = float(os.environ.get("FASTSERVE_GRACE_S", _GRACE_S))
    await server.shutdown(grace_s=grace_s, in_flight=lambda: app.in_flight)
    pool.close()
    if access_log is not None:
        access_log.flush()
    return 0


def _listening_socket(host: str, port: int, *, shared: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:  # sibling processes listen on the same port; the kernel spreads connections
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(_BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _alias_azureml_contrib() -> None:
    """Let ``azureml.contrib.services.aml_response`` imports work, as azmlinfsrv does."""
    try:
        importlib.import_module("azureml_inference_server_http.server")
    except ImportError:
        logger.debug("azureml-inference-server-http is not installed: no AMLResponse alias")
