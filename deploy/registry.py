"""Backends chosen by name: ``local``, ``azure`` and ``memory`` (in-memory, nothing kept).

A backend module is imported only when it is asked for, so that the local
platform never pays for importing the Azure SDK.

    backend = create_backend("local", {"home": "/tmp/fd"})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from deploy.backend import Backend
from deploy.errors import ValidationError

__all__ = ["BackendFactory", "available_backends", "create_backend", "register_backend"]

#: Builds a backend from its settings (a mapping of options, e.g. from the config file).
BackendFactory = Callable[[Mapping[str, Any]], Backend]

_FACTORIES: dict[str, str | BackendFactory] = {
    "local": "deploy.local.control.client:create_local_backend",
    "azure": "deploy.azure:create_azure_backend",
    "memory": "deploy.memory:create_memory_backend",
}


def register_backend(name: str, factory: str | BackendFactory) -> None:
    """Register a factory, or a ``module:function`` path to one, under ``name``."""
    _FACTORIES[name] = factory


def available_backends() -> list[str]:
    """The names a user may pick."""
    return sorted(_FACTORIES)


def create_backend(name: str, settings: Mapping[str, Any] | None = None) -> Backend:
    """Build the backend called ``name``; ``ValidationError`` for an unknown name."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        known = ", ".join(available_backends())
        raise ValidationError(f"Unknown backend '{name}'. Choose one of: {known}.") from None
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
        _FACTORIES[name] = factory
    return factory(settings or {})
