"""GET /swagger.json: the API documents azmlinfsrv serves, for versions 2, 3 and 3.1.

For each version, a document the user put beside the script wins (``swagger.json`` or
``swagger2.json``, ``swagger3.json``, ``swagger3.1.json`` in ``AML_APP_ROOT``); otherwise one is
generated from run()'s inference-schema decorators into azmlinfsrv's own templates (read
from the installed azureml-inference-server-http package, so both servers answer the same
document). Where no template is installed, only user documents are served.

Usage::

    docs = SwaggerDocs.build(script=script, config=config)
    status, body = docs.answer(version)      # 200 and the document, or 404 and a message
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import messages as msg
from .config import ServerConfig

logger = logging.getLogger("fastserve")


@dataclass(frozen=True)
class _Version:
    name: str
    aliases: frozenset[str]
    template: str
    user_files: tuple[str, ...]
    schemas: Callable[[dict[str, Any]], dict[str, Any]]
    openapi: str | None = None


def _definitions(doc: dict[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = doc["definitions"]
    return section


def _components(doc: dict[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = doc["components"]["schemas"]
    return section


_VERSIONS = (
    _Version("2", frozenset({"2", "2.0"}), "swagger2_template.json",
             ("swagger.json", "swagger2.json"), _definitions),
    _Version("3", frozenset({"3", "3.0"}), "swagger3_template.json", ("swagger3.json",),
             _components),
    _Version("3.1", frozenset({"3.1"}), "swagger3_template.json", ("swagger3.1.json",),
             _components, openapi="3.1.0"),
)  # fmt: skip
_VALID = frozenset().union(*(version.aliases for version in _VERSIONS))


@dataclass(frozen=True)
class SwaggerDocs:
    """The documents prepared at start, by version alias."""

    documents: dict[str, bytes]
    supported: tuple[str, ...]

    @classmethod
    def build(cls, *, run: Callable[..., Any], config: ServerConfig) -> SwaggerDocs:
        """Read or generate every version's document once."""
        documents: dict[str, bytes] = {}
        supported: list[str] = []
        for version in _VERSIONS:
            document = _user_document(config.app_root, version) or _generated(run, config, version)
            if document is None:
                continue
            encoded = json.dumps(document).encode()
            documents.update(dict.fromkeys(version.aliases, encoded))
            supported.append(version.name)
        return cls(documents=documents, supported=tuple(sorted(supported)))

    def answer(self, version: str | None) -> tuple[int, bytes]:
        """``(200, document)`` or ``(404, message)`` for ``?version=`` (default 2)."""
        version = "2" if version is None else version
        supported = ", ".join(self.supported)
        if version not in _VALID:
            text = msg.SWAGGER_VERSION_INVALID.format(version=version, supported=supported)
            return 404, json.dumps({"message": text}).encode()
        document = self.documents.get(version)
        if document is None:
            text = msg.SWAGGER_VERSION_UNSUPPORTED.format(version=version, supported=supported)
            return 404, json.dumps({"message": text}).encode()
        return 200, document


def _user_document(app_root: str, version: _Version) -> Any:
    for name in version.user_files:
        path = Path(app_root) / name
        if path.is_file():
            with path.open(encoding="utf-8") as file:
                return json.load(file)
    return None


def _generated(run: Callable[..., Any], config: ServerConfig, version: _Version) -> Any:
    template = _template_dir()
    if template is None:
        return None
    try:
        from inference_schema.schema_util import (
            get_input_schema,
            get_output_schema,
            get_supported_versions,
            is_schema_decorated,
        )
    except ImportError:
        return None
    if not version.aliases & set(get_supported_versions(run)):
        return None
    if is_schema_decorated(run):
        input_schema, output_schema = get_input_schema(run), get_output_schema(run)
    else:
        input_schema = output_schema = {"type": "object", "example": {}}
    prefix = config.service_path_prefix.strip("/")
    text = (
        (template / version.template)
        .read_text(encoding="utf-8")
        .replace("$SERVICE_NAME$", config.service_name)
        .replace("$SERVICE_VERSION$", config.service_version)
        .replace("$PATH_PREFIX$", f"/{prefix}" if config.service_path_prefix else "")
    )
    document: dict[str, Any] = json.loads(text)
    schemas = version.schemas(document)
    schemas["ServiceInput"] = input_schema
    schemas["ServiceOutput"] = output_schema
    if version.openapi is not None:
        document["openapi"] = version.openapi
    return document


def _template_dir() -> Path | None:
    """azmlinfsrv's template folder, found without importing its server (or None)."""
    spec = importlib.util.find_spec("azureml_inference_server_http")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "server"
    return folder if (folder / "swagger2_template.json").is_file() else None
