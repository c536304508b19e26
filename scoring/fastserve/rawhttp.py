"""The request object a ``@rawhttp`` run() receives: a flask request, as azmlinfsrv passes.

Built from the bytes already read (a WSGI environ over the body), in the worker thread, so
``request.method``, ``.args``, ``.headers``, ``.get_data()``, ``.get_json()`` and ``.files``
behave as they do under azmlinfsrv. flask comes with azureml-inference-server-http, which a
``@rawhttp`` script imports anyway for the decorator.
"""

from __future__ import annotations

import io
import sys
from typing import Any
from urllib.parse import unquote

from . import messages as msg
from .errors import StartupError
from .inputs import Incoming


def flask_request(incoming: Incoming) -> Any:
    """A ``flask.Request`` over ``incoming``."""
    try:
        from flask import Request
    except ImportError as error:  # pragma: no cover - a @rawhttp script imported it already
        raise StartupError(msg.RAWHTTP_NEEDS_FLASK) from error
    return Request(wsgi_environ(incoming))


def wsgi_environ(incoming: Incoming) -> dict[str, Any]:
    """The WSGI environ of ``incoming`` (PEP 3333), headers as ``HTTP_*`` keys."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": incoming.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(incoming.path, encoding="latin-1"),
        "QUERY_STRING": incoming.query_string,
        "SERVER_NAME": incoming.server_host,
        "SERVER_PORT": str(incoming.server_port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": incoming.remote,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(incoming.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in incoming.headers.items():
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    environ.setdefault("CONTENT_LENGTH", str(len(incoming.body)))
    return environ
