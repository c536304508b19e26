"""An HTTP request as the scoring path sees it, and run()'s arguments parsed from it.

The parsing mirrors azmlinfsrv's input parsers, answer for answer: a POST to a run() with
``@input_schema`` needs ``Content-Type: application/json`` (else 415) and a JSON object
(else 400); a GET passes its query parameters (each parsed as JSON when it can be); an
undecorated run() gets the body as a string; ``@rawhttp`` gets the request itself.

Usage::

    arguments = parse_arguments(incoming, script)   # InputError subclasses on bad input
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from . import messages as msg


def _orjson_loader() -> Callable[[bytes], Any] | None:
    try:
        import orjson
    except ImportError:  # pragma: no cover - fastserve's environment installs it
        return None
    return orjson.loads


_orjson_loads = _orjson_loader()

if TYPE_CHECKING:
    from .user_script import UserScript

_LONG_DIGITS = re.compile(rb"[0-9]{19}")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class InputError(Exception):
    """The request cannot be turned into run()'s arguments; ``str(error)`` is the answer."""

    status = 400


class BadInput(InputError):
    """HTTP 400: the body is not what run() takes."""


class UnsupportedInput(InputError):
    """HTTP 415: the body's content type is not JSON."""

    status = 415


class UnsupportedMethod(InputError):
    """Neither GET nor POST: OPTIONS gets an empty 200, anything else 405."""

    status = 405


@dataclass(frozen=True, kw_only=True, slots=True)
class Incoming:
    """One request: method, path, raw query string, headers, body, peer and host.

    ``headers`` as the server passes them: keyed by lower-case name, repeats joined with ","
    (as a WSGI server joins them); any other mapping works too (see :func:`header`).
    """

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes
    remote: str = ""
    server_host: str = "localhost"
    server_port: int = 0

    @property
    def mimetype(self) -> str:
        """The content type without parameters, lower-cased (``""`` when absent)."""
        return header(self.headers, "content-type").split(";", 1)[0].strip().lower()

    @property
    def is_json(self) -> bool:
        """``application/json`` or ``application/*+json``, as flask decides it."""
        mime = self.mimetype
        return mime == "application/json" or (
            mime.startswith("application/") and mime.endswith("+json")
        )

    def titled_headers(self) -> dict[str, str]:
        """The headers as a WSGI server shows them (``X-Custom-Id``), repeated ones joined."""
        titled: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.replace("_", "-").title()
            titled[key] = f"{titled[key]},{value}" if key in titled else value
        return titled


def parse_arguments(incoming: Incoming, script: UserScript) -> dict[str, Any]:
    """run()'s keyword arguments for ``incoming``; :class:`InputError` if it cannot be."""
    if script.style == "raw":
        from .rawhttp import flask_request

        return {script.first_parameter: flask_request(incoming)}
    if incoming.method == "GET":
        values = _query_values(incoming.query_string)
        if script.style == "string":
            return {script.first_parameter: json.dumps(values)}
        return _extract(values, script.parameters)
    if incoming.method != "POST":
        raise UnsupportedMethod(msg.SCORE_METHOD_NOT_ALLOWED)
    if script.style == "string":
        body = b"" if incoming.mimetype in _FORM_TYPES else incoming.body
        try:
            return {script.first_parameter: str(body, "utf-8")}
        except UnicodeDecodeError as error:
            raise BadInput(msg.NOT_UTF8.format(error=error)) from None
    if not incoming.is_json:
        raise UnsupportedInput(msg.NOT_JSON_CONTENT)
    document = load_json(incoming.body)
    if not isinstance(document, dict):
        raise BadInput(msg.BODY_NOT_OBJECT)
    return _extract(document, script.parameters)


def load_json(body: bytes) -> Any:
    """The JSON document in ``body``; :class:`BadInput` with the stdlib's own message if none.

    orjson parses it when installed (several times faster on arrays of numbers, same values);
    what orjson refuses and Python's json accepts (NaN, Infinity, lone surrogates, a BOM) is
    parsed again by json, and so is a body with a run of 19 or more digits, which orjson
    would turn into a float where json keeps an exact integer. So every body gets the same
    document, or the same message, as under azmlinfsrv.
    """
    if _orjson_loads is not None and _LONG_DIGITS.search(body) is None:
        try:
            return _orjson_loads(body)
        except ValueError:
            pass
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        if body:
            raise BadInput(msg.BODY_NOT_JSON.format(error=error)) from None
        raise BadInput(msg.BODY_EMPTY) from None


def header(headers: Mapping[str, str], name: str) -> str:
    """The value of header ``name`` (lower-case) in ``headers``, whatever their case; ``""``."""
    value = headers.get(name)
    if value is not None:
        return value
    for key, found in headers.items():
        if key.lower() == name:
            return found
    return ""


def _extract(body: Mapping[str, Any], parameters: tuple[inspect.Parameter, ...]) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    for parameter in parameters:
        value = body.get(parameter.name, parameter.default)
        if value is inspect.Parameter.empty:
            raise BadInput(msg.PARAMETER_MISSING.format(name=parameter.name))
        arguments[parameter.name] = value
    return arguments


def _query_values(query_string: str) -> dict[str, Any]:
    """Query parameters, each parsed as JSON if it is; a repeated one becomes a list."""
    grouped: dict[str, list[str]] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        grouped.setdefault(key, []).append(value)
    return {
        key: _json_or_text(values[0]) if len(values) == 1 else [_json_or_text(v) for v in values]
        for key, values in grouped.items()
    }


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
