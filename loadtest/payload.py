"""The request body: from a request file, or the endpoint's sample input in its swagger.

The inference server (azmlinfsrv) publishes the input schema of a
schema-decorated ``run()`` at ``/swagger.json``: the sample input is the
``example`` of ``ServiceInput`` (``definitions`` in Swagger 2,
``components.schemas`` in OpenAPI 3).

Usage::

    body = read_request_file("sample-request.json")
    body = sample_input_from_swagger(swagger_dict)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loadtest import messages
from loadtest.errors import PayloadError

__all__ = ["MAX_BODY_BYTES", "read_request_file", "sample_input_from_swagger"]

#: The largest request body a load test sends (Azure's own limit is larger; this keeps runs sane).
MAX_BODY_BYTES = 4 * 1024 * 1024


def read_request_file(
    path: str | Path, *, require_json: bool = True, max_bytes: int = MAX_BODY_BYTES
) -> bytes:
    """The file's bytes; ``PayloadError`` when it is missing, too big, or not JSON."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > max_bytes:
            raise PayloadError(
                messages.REQUEST_FILE_TOO_BIG.format(path=file, size=size, limit=max_bytes)
            )
        body = file.read_bytes()
    except FileNotFoundError as exc:
        raise PayloadError(messages.REQUEST_FILE_MISSING.format(path=file)) from exc
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise PayloadError(
            messages.REQUEST_FILE_UNREADABLE.format(path=file, reason=reason)
        ) from exc
    if require_json:
        try:
            json.loads(body)
        except ValueError as exc:
            raise PayloadError(
                messages.REQUEST_FILE_NOT_JSON.format(path=file, reason=exc)
            ) from exc
    return body


def _resolve(swagger: Mapping[str, Any], schema: Any) -> Any:
    """Follow one local ``$ref`` (``#/definitions/X`` or ``#/components/schemas/X``)."""
    if isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
        node: Any = swagger
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node.get(part) if isinstance(node, Mapping) else None
        return node
    return schema


def sample_input_from_swagger(swagger: Mapping[str, Any]) -> bytes:
    """The sample input as JSON bytes; ``PayloadError`` when the swagger has none."""
    candidates: list[Any] = []
    for path, item in (swagger.get("paths") or {}).items():
        if not str(path).endswith("/score") or not isinstance(item, Mapping):
            continue
        post = item.get("post") or {}
        content = (post.get("requestBody") or {}).get("content") or {}
        json_body = content.get("application/json") or {}
        if "example" in json_body:
            candidates.append({"example": json_body["example"]})
        candidates.append(_resolve(swagger, json_body.get("schema")))
        for parameter in post.get("parameters") or ():  # Swagger 2: a body parameter
            if isinstance(parameter, Mapping) and parameter.get("in") == "body":
                candidates.append(_resolve(swagger, parameter.get("schema")))
    candidates.append((swagger.get("definitions") or {}).get("ServiceInput"))
    candidates.append(((swagger.get("components") or {}).get("schemas") or {}).get("ServiceInput"))
    for schema in candidates:
        if isinstance(schema, Mapping) and schema.get("example") not in (None, {}):
            return json.dumps(schema["example"]).encode()
    raise PayloadError(messages.SWAGGER_NO_SAMPLE)
