"""The routes: azmlinfsrv's, answered for :mod:`.protocol`'s connections.

=================== ===================================================================
``GET /``           liveness: ``Healthy`` (answered on the event loop, never queued
                    behind run())
``GET|POST /score`` run() in a worker thread (``WORKER_COUNT`` threads), or on the event
                    loop when the script declares itself fast (``FASTSERVE_INLINE``, always
                    or when requests come alone or few)
``OPTIONS /score``  empty 200
``GET /swagger.json`` ``?version=2|3|3.1``
anything else       404 / 405 with azmlinfsrv's JSON message
=================== ===================================================================

Every answer on these routes carries ``x-request-id`` and ``x-ms-request-id`` (and
``x-ms-client-request-id`` when sent), computed from the request as azmlinfsrv does.

**Inline run().** A script whose module sets ``FASTSERVE_INLINE = True`` (at import or in
init()) declares that run() is fast (well under a millisecond) and thread-safe: /score is
then answered on the event loop, without the hand-over to a worker thread and back (about
100 µs a request). While such a run() runs, nothing else is answered, the liveness route
included, and ``SCORING_TIMEOUT_MS`` cannot interrupt it; ``FASTSERVE_INLINE=false`` in the
environment sends every run() to the threads whatever the script declares.

**Inline when alone.** A script that sets ``FASTSERVE_INLINE = "alone"`` (the project's
score.py with micro-batching on and no wait) has /score requests gathered for one turn of the
event loop: fewer than ``CROWD`` requests, with no run() busy in the threads, are answered
inline as above, one after another; a crowd of ``CROWD`` or more in one turn, or requests
that come while others run, go to the threads, where a batching run() coalesces them. A few
requests pay no hand-over (for a fast run() it costs more than a small batch saves); a crowd
gets the batching. Once ``SETTLE_TURNS`` such quiet turns come in a row, the app is
*settled*: each /score request runs inline at once, without waiting for the turn to end,
until a turn brings ``CROWD`` of them (requests queueing again); from that one on, the
turn's requests are gathered and go to the threads, until the next settled streak. The
app tells turns apart by the count of the loop selector's ``select()`` calls
(:class:`.turns.TurnCounter`); only gathered requests have their turn's end marked (with
``call_soon``: one more pass of the loop), so a settled app makes no extra pass.

Usage::

    app = ScoringApp(config=config, scorer=scorer, swagger=docs, pool=pool, access_log=log,
                     loop=asyncio.get_running_loop(), turns=counter)
    server = HttpServer(handler=app.answer)
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl

from . import messages as msg
from .access_log import AccessLog
from .config import ServerConfig
from .inputs import Incoming
from .protocol import Deliver, Request
from .replies import FAILED_HEADER, TEXT_TYPE, Reply, error_reply
from .scorer import Scorer
from .swagger import SwaggerDocs
from .turns import TurnCounter
from .user_script import InlineMode
from .workers import WorkerPool

logger = logging.getLogger("fastserve")

HEADER_LIMIT = 100
_SCORE_METHODS = frozenset({"GET", "POST", "OPTIONS", "HEAD"})
_GET_METHODS = frozenset({"GET", "HEAD"})
_HEALTHY = msg.HEALTHY.encode()
_UUID_KEEP = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_V4 = (0x4000 << 64) | (0x8000 << 48)
_Gathered = tuple[Request, list[tuple[str, str]], float, Deliver, Incoming]
CROWD = 8  # requests in one turn that go to the threads (fewer, with none running: inline)
SETTLE_TURNS = 16  # quiet turns in a row after which requests skip the gathering turn


class ScoringApp:
    """Routes requests; /score work goes to ``pool``, the rest is answered on the loop."""

    def __init__(
        self,
        *,
        config: ServerConfig,
        scorer: Scorer,
        swagger: SwaggerDocs,
        pool: WorkerPool,
        access_log: AccessLog | None,
        loop: asyncio.AbstractEventLoop,
        turns: TurnCounter,
        inline: InlineMode = "never",
    ) -> None:
        self._config = config
        self._scorer = scorer
        self._swagger = swagger
        self._pool = pool
        self._access_log = access_log
        self._timeout_s = config.scoring_timeout_ms / 1000
        self._call_soon = loop.call_soon  # kept: get_running_loop() costs a getpid() a call
        self._inline = inline == "always"
        self._alone = inline == "alone"
        self._turns = turns
        self._turn = -1  # the loop turn of the last /score request ("alone")
        self._turn_count = 0  # /score requests read in that turn
        self._gathered: list[_Gathered] = []  # requests of that turn waiting for its end
        # Turns in a row with fewer than CROWD requests, none running; from SETTLE_TURNS on the
        # app is settled: requests run at once, not gathered (a crowd sets it back to 0).
        self._quiet_turns = 0
        self._raw = scorer.script.style == "raw"  # only @rawhttp needs the server's address
        self.in_flight = 0

    def answer(self, request: Request, deliver: Deliver) -> None:
        """Answer ``request`` through ``deliver``: at once, or when run() is done."""
        started = time.perf_counter()
        path = request.path
        method = request.method
        if path == "/score":
            if method not in _SCORE_METHODS:
                deliver(error_reply(405, msg.METHOD_NOT_ALLOWED))
                return
            ids, refused = _request_ids(request.headers)
            if refused is None:
                self._score(request, ids, started, deliver)
                return
            reply = refused
        elif path == "/":
            if method not in _GET_METHODS:
                deliver(error_reply(405, msg.METHOD_NOT_ALLOWED))
                return
            ids, refused = _request_ids(request.headers)
            reply = refused or Reply(status=200, body=_HEALTHY, content_type=TEXT_TYPE)
        elif path == "/swagger.json":
            if method not in _GET_METHODS:
                deliver(error_reply(405, msg.METHOD_NOT_ALLOWED))
                return
            ids, refused = _request_ids(request.headers)
            reply = refused or self._swagger_reply(_query_value(request.query_string, "version"))
        else:
            deliver(error_reply(404, msg.NOT_FOUND))
            return
        deliver(self._finish(request, ids, reply, started))

    def _finish(
        self, request: Request, ids: list[tuple[str, str]], reply: Reply, started: float
    ) -> Reply:
        """Add the request-id, version and trace headers; log the access line."""
        reply.headers.extend(ids)
        if self._config.server_version_header:
            reply.headers.append(("x-ms-server-version", self._config.server_version_header))
        trace = request.headers.get("traceid")
        if trace is not None:
            reply.headers.append(("TraceId", trace))
        if request.path != "/" and self._access_log is not None:
            path = request.path
            if request.query_string:
                path += f"?{request.query_string}"
            elapsed_ms = (time.perf_counter() - started) * 1000
            self._access_log.record(request.method, path, reply.status, elapsed_ms, len(reply.body))
        return reply

    def _score(
        self, request: Request, ids: list[tuple[str, str]], started: float, deliver: Deliver
    ) -> None:
        headers = request.headers
        incoming = Incoming(
            method=request.method,
            path=request.path,
            query_string=request.query_string,
            headers=headers,
            body=request.body,
            remote=request.peer if self._raw else "",
            server_host=headers.get("host", "").rsplit(":", 1)[0] if self._raw else "",
            server_port=request.local_port if self._raw else 0,
        )
        if self._inline:
            self._score_inline(request, ids, started, deliver, incoming)
            return
        if self._alone:
            turn = self._turns.turns
            if turn == self._turn:
                self._turn_count += 1
            else:
                self._turn = turn
                self._turn_count = 1
            if self._quiet_turns >= SETTLE_TURNS:
                if self._turn_count < CROWD:
                    self._score_inline(request, ids, started, deliver, incoming)
                    return
                self._quiet_turns = 0  # a crowd in one turn: requests queue again
            if not self._gathered:
                self._call_soon(self._turn_ended)
            self._gathered.append((request, ids, started, deliver, incoming))
            return
        self._score_in_thread(request, ids, started, deliver, incoming)

    def _turn_ended(self) -> None:
        """End of the loop turn: a few requests inline, a crowd (or with company) to threads."""
        gathered, self._gathered = self._gathered, []
        if self.in_flight == 0 and self._turn_count < CROWD:
            self._quiet_turns += 1
            for request in gathered:
                self._score_inline(*request)
            return
        self._quiet_turns = 0
        for request in gathered:
            self._score_in_thread(*request)

    def _score_inline(
        self,
        request: Request,
        ids: list[tuple[str, str]],
        started: float,
        deliver: Deliver,
        incoming: Incoming,
    ) -> None:
        try:
            reply = self._scorer.score(incoming)
        except Exception:  # a bug, or run()'s output is not JSON: azmlinfsrv answers the same
            logger.exception(msg.UNHANDLED.format(method=request.method, path=request.path))
            reply = error_reply(500, msg.INTERNAL_ERROR)
        deliver(self._finish(request, ids, reply, started))

    def _score_in_thread(
        self,
        request: Request,
        ids: list[tuple[str, str]],
        started: float,
        deliver: Deliver,
        incoming: Incoming,
    ) -> None:
        self.in_flight += 1
        future = self._pool.submit(self._scorer.score, incoming, limit_s=self._timeout_s)

        def done(future: asyncio.Future[Reply]) -> None:
            self.in_flight -= 1
            deliver(self._finish(request, ids, self._outcome(request, future), started))

        future.add_done_callback(done)

    def _outcome(self, request: Request, future: asyncio.Future[Reply]) -> Reply:
        try:
            return future.result()
        except TimeoutError:
            logger.error(msg.RUN_TIMED_OUT.format(timeout_ms=self._config.scoring_timeout_ms))
            text = msg.RUN_TIMEOUT.format(timeout_ms=self._config.scoring_timeout_ms)
            return error_reply(500, text, run_failed=True)
        except Exception:  # a bug, or run()'s output is not JSON: azmlinfsrv answers the same
            logger.exception(msg.UNHANDLED.format(method=request.method, path=request.path))
            return error_reply(500, msg.INTERNAL_ERROR)

    def _swagger_reply(self, version: str | None) -> Reply:
        status, body = self._swagger.answer(version)
        return Reply(status=status, body=body, headers=[(FAILED_HEADER, "False")])


def _request_ids(headers: Mapping[str, str]) -> tuple[list[tuple[str, str]], Reply | None]:
    """azmlinfsrv's request-id headers, or a 431 answer when one is too long."""
    request_id = headers.get("x-request-id") or _new_request_id()
    if len(request_id) > HEADER_LIMIT:
        return [], error_reply(431, msg.REQUEST_ID_TOO_LONG.format(limit=HEADER_LIMIT))
    legacy = headers.get("x-ms-request-id", "")
    client = headers.get("x-ms-client-request-id", "")
    if legacy:
        client = client or legacy
    else:
        legacy = client or request_id
    ids = [("x-request-id", request_id)]
    if len(legacy) > HEADER_LIMIT or len(client) > HEADER_LIMIT:
        return ids, error_reply(431, msg.CLIENT_IDS_TOO_LONG.format(limit=HEADER_LIMIT))
    ids.append(("x-ms-request-id", legacy))
    if client:
        ids.append(("x-ms-client-request-id", client))
    return ids, None


def _new_request_id() -> str:
    """A random (version 4) UUID, from :mod:`random`: ``uuid4()`` reads os.urandom, a system
    call that hands the GIL to the worker threads on every request. Formatted by hand
    (``str(uuid.UUID(...))`` costs several times more), with the version and variant bits."""
    bits = (random.getrandbits(128) & _UUID_KEEP) | _UUID_V4
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _query_value(query_string: str, name: str) -> str | None:
    """The first value of ``name`` in the query string (decoded), or None."""
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        if key == name:
            return value
    return None
