"""A @rawhttp scoring script, imported through the azureml.contrib.services aliases."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from azureml.contrib.services.aml_request import rawhttp
from azureml.contrib.services.aml_response import AMLResponse

if TYPE_CHECKING:
    from flask import Request


def init() -> None:
    pass


@rawhttp  # type: ignore[untyped-decorator]  # azureml's aliases are untyped
def run(request: Request) -> AMLResponse | dict[str, object]:
    if request.method == "GET":
        document = {"args": request.args.to_dict(flat=False), "path": request.path}
        return AMLResponse(json.dumps(document), 200, {"Content-Type": "application/json"})
    if request.method == "POST":
        body = request.get_data()
        if request.headers.get("X-Echo") == "reversed":
            return AMLResponse(body[::-1], 201, {"Content-Type": "application/octet-stream"})
        if request.headers.get("X-Echo") == "fail":
            raise ValueError("asked to fail")
        return {
            "length": len(body),
            "json": request.get_json(silent=True),
            "content_type": request.content_type,
            "custom": request.headers.get("X-Custom-Id"),
        }
    return AMLResponse("method not served", 405)
