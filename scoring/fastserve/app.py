"""The HTTP side: azmlinfsrv's routes and headers on an aiohttp low-level server.

=================== ===================================================================
``GET /``           liveness: ``Healthy`` (answered on the event loop, never queued
                    behind run())
``GET|POST /score`` run() in a worker thread (``WORKER_COUNT`` threads)
``OPTIONS /score``  empty 200
``GET /swagger.json`` ``?version=2|3|3.1``
anything else       404 / 405 with azmlinfsrv's JSON message
=================== ===================================================================

Every answer on these routes carries ``x-request-id`` and ``x-ms-request-id`` (and
``x-ms-client-request-id`` when sent), computed from the request as azmlinfsrv does.

Usage::

    handler = ScoringApp(config=config, scorer=scorer, swagger=docs, pool=pool, access_log=log)
    server = aiohttp.web.Server(handler.handle)
"""

from __future__ import annotations

import logging
import random
import time
import uuid

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from . import messages as msg
from .access_log import AccessLog
from .config import ServerConfig
from .inputs import Incoming
from .replies import FAILED_HEADER, TEXT_TYPE, Reply, error_reply
from .scorer import Scorer
from .swagger import SwaggerDocs
from .workers import WorkerPool

logger = logging.getLogger("fastserve")

HEADER_LIMIT = 100
_SCORE_METHODS = frozenset({"GET", "POST", "OPTIONS", "HEAD"})
_GET_METHODS = frozenset({"GET", "HEAD"})
_HEALTHY = msg.HEALTHY.encode()


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
    ) -> None:
        self._config = config
        self._scorer = scorer
        self._swagger = swagger
        self._pool = pool
        self._access_log = access_log
        self._timeout_s = config.scoring_timeout_ms / 1000
        self.in_flight = 0

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """The aiohttp handler."""
        started = time.perf_counter()
        path = request.path
        if path == "/score":
            if request.method not in _SCORE_METHODS:
                return _response(error_reply(405, msg.METHOD_NOT_ALLOWED))
            ids, refused = _request_ids(request.headers)
            reply = refused or await self._score(request)
        elif path == "/":
            if request.method not in _GET_METHODS:
                return _response(error_reply(405, msg.METHOD_NOT_ALLOWED))
            ids, refused = _request_ids(request.headers)
            reply = refused or Reply(status=200, body=_HEALTHY, content_type=TEXT_TYPE)
        elif path == "/swagger.json":
            if request.method not in _GET_METHODS:
                return _response(error_reply(405, msg.METHOD_NOT_ALLOWED))
            ids, refused = _request_ids(request.headers)
            reply = refused or self._swagger_reply(request.query.get("version"))
        else:
            return _response(error_reply(404, msg.NOT_FOUND))
        reply.headers.extend(ids)
        if self._config.server_version_header:
            reply.headers.append(("x-ms-server-version", self._config.server_version_header))
        trace = request.headers.get("TraceId")
        if trace is not None:
            reply.headers.append(("TraceId", trace))
        if path != "/" and self._access_log is not None:
            if request.query_string:
                path += f"?{request.query_string}"
            elapsed_ms = (time.perf_counter() - started) * 1000
            self._access_log.record(request.method, path, reply.status, elapsed_ms, len(reply.body))
        return _response(reply)

    async def _score(self, request: web.BaseRequest) -> Reply:
        if request.headers.get("Expect", "").lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # as gunicorn does
        raw = self._scorer.script.style == "raw"  # only @rawhttp needs the server's address
        incoming = Incoming(
            method=request.method,
            path=request.path,
            query_string=request.query_string,
            headers=request.headers,
            body=await request.content.read(),
            remote=(request.remote or "") if raw else "",
            server_host=request.host.rsplit(":", 1)[0] if raw else "",
            server_port=_local_port(request) if raw else 0,
        )
        self.in_flight += 1
        try:
            return await self._pool.call(self._scorer.score, incoming, limit_s=self._timeout_s)
        except TimeoutError:
            logger.error(msg.RUN_TIMED_OUT.format(timeout_ms=self._config.scoring_timeout_ms))
            text = msg.RUN_TIMEOUT.format(timeout_ms=self._config.scoring_timeout_ms)
            return error_reply(500, text, run_failed=True)
        except Exception:  # a bug, or run()'s output is not JSON: azmlinfsrv answers the same
            logger.exception(msg.UNHANDLED.format(method=request.method, path=request.path))
            return error_reply(500, msg.INTERNAL_ERROR)
        finally:
            self.in_flight -= 1

    def _swagger_reply(self, version: str | None) -> Reply:
        status, body = self._swagger.answer(version)
        return Reply(status=status, body=body, headers=[(FAILED_HEADER, "False")])


def _request_ids(headers: CIMultiDictProxy[str]) -> tuple[list[tuple[str, str]], Reply | None]:
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
    call that hands the GIL to the worker threads on every request."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def _response(reply: Reply) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict(reply.headers)
    if reply.content_type is not None:
        headers["Content-Type"] = reply.content_type
    return web.Response(status=reply.status, body=reply.body, headers=headers)


def _local_port(request: web.BaseRequest) -> int:
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    return int(sockname[1]) if isinstance(sockname, tuple) and len(sockname) > 1 else 0
