"""Load a scoring script as azmlinfsrv does, and decide how run() takes its input.

The script is imported by file path as module ``entry_module``; a generated "driver" module
that forwards to the real script is looked through for run(). How run() is called follows
from its decorators, as in azmlinfsrv:

- ``@rawhttp``: run(request) gets the HTTP request (a flask request object);
- ``@input_schema``: the JSON body's keys become run()'s keyword arguments;
- neither: run() gets the body as a string.

A parameter named ``request_headers`` receives the request's headers as a dict.

Usage::

    script = UserScript.load("/var/azureml-app/score.py")   # StartupError if unusable
    script.init()
    output = script.run({"data": [[1, 2, 3, 4, 5]]}, headers={})
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from . import messages as msg
from .errors import StartupError

logger = logging.getLogger("fastserve")

InputStyle = Literal["raw", "object", "string"]
InlineMode = Literal["never", "always", "alone"]
HEADERS_PARAMETER = "request_headers"
INLINE_ATTRIBUTE = "FASTSERVE_INLINE"


@dataclass(frozen=True, kw_only=True)
class UserScript:
    """A loaded scoring script: its init(), its run() and how run() takes its input."""

    path: Path
    init: Callable[[], Any]
    user_run: Callable[..., Any]
    style: InputStyle
    parameters: tuple[inspect.Parameter, ...]
    takes_headers: bool
    module: ModuleType | None = None

    @classmethod
    def load(cls, path: str | Path) -> UserScript:
        """Import the script and check its init() and run(); :class:`StartupError` if unusable."""
        path = Path(path)
        if not path.is_file():
            raise StartupError(msg.SCRIPT_MISSING.format(path=path))
        module = _import(path)
        if not hasattr(module, "init"):
            raise StartupError(msg.NO_INIT.format(path=path))
        if not hasattr(module, "run"):
            raise StartupError(msg.NO_RUN.format(path=path))
        user_run = module.run
        driver = getattr(module, "driver_module", None)
        if isinstance(driver, ModuleType) and hasattr(driver, "run"):
            user_run = driver.run
            logger.info(msg.FOUND_DRIVER.format(path=path, user=getattr(driver, "__file__", "?")))
        else:
            logger.info(msg.FOUND_SCRIPT.format(path=path))
        style, parameters, takes_headers = _analyse(user_run)
        return cls(
            path=path,
            init=module.init,
            user_run=user_run,
            style=style,
            parameters=parameters,
            takes_headers=takes_headers,
            module=module,
        )

    def inline_mode(self) -> InlineMode:
        """What the script set in ``FASTSERVE_INLINE`` (read after init(), which may set it):
        ``True`` (``"always"``): run() is fast and thread-safe, and may run on the event loop;
        ``"alone"``: the same for requests that come alone or few, while a crowd goes to
        the threads (a run() that coalesces concurrent calls); else never."""
        declared = getattr(self.module, INLINE_ATTRIBUTE, False)
        if declared is True:
            return "always"
        if declared == "alone":
            return "alone"
        return "never"

    @property
    def first_parameter(self) -> str:
        """The name of run()'s input parameter (for raw and string input)."""
        return self.parameters[0].name

    def run(self, arguments: Mapping[str, Any], *, headers: Mapping[str, str]) -> Any:
        """Call run() with ``arguments`` (and ``request_headers`` if it takes them)."""
        if self.takes_headers:
            return self.user_run(**arguments, request_headers=dict(headers))
        return self.user_run(**arguments)


def _import(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("entry_module", path)
    if spec is None or spec.loader is None:
        raise StartupError(msg.SCRIPT_MISSING.format(path=path))
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        raise StartupError(f"{msg.SCRIPT_IMPORT_FAILED.format(path=path)}: {error!r}") from error
    return module


def _analyse(run: Callable[..., Any]) -> tuple[InputStyle, tuple[inspect.Parameter, ...], bool]:
    allowed = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    parameters = list(inspect.signature(run).parameters.values())
    if any(parameter.kind not in allowed for parameter in parameters):
        raise StartupError(msg.RUN_BAD_PARAMETERS)
    takes_headers = any(parameter.name == HEADERS_PARAMETER for parameter in parameters)
    inputs = tuple(parameter for parameter in parameters if parameter.name != HEADERS_PARAMETER)
    if not inputs:
        raise StartupError(msg.RUN_ONLY_HEADERS if takes_headers else msg.RUN_NO_PARAMETER)
    raw = _rawhttp_requested()
    decorated = _schema_decorated(run)
    if raw and decorated:
        raise StartupError(msg.RUN_RAW_AND_SCHEMA)
    if raw:
        logger.info(msg.PARSER_RAW)
        return "raw", inputs, takes_headers
    if decorated:
        names = ", ".join(parameter.name for parameter in inputs)
        logger.info(msg.PARSER_OBJECT.format(names=names))
        return "object", inputs, takes_headers
    logger.info(msg.PARSER_STRING)
    return "string", inputs, takes_headers


def _rawhttp_requested() -> bool:
    """Whether the script applied ``@rawhttp`` (a flag in azmlinfsrv's own module)."""
    module = sys.modules.get("azureml_inference_server_http.api.aml_request")
    return bool(getattr(module, "_rawHttpRequested", False))


def _schema_decorated(run: Callable[..., Any]) -> bool:
    try:
        from inference_schema.schema_util import is_schema_decorated
    except ImportError:  # inference-schema absent: no script can be decorated with it
        return False
    return bool(is_schema_decorated(run))
