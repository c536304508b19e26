"""The memory backend: a whole ``Backend`` in dictionaries, held to the backends' contract.

Registered in ``deploy.registry`` as ``memory``::

    backend = create_backend("memory")

Tests build ``MemoryBackend`` directly to reach its knobs (``fail_deployments``,
``crash_on``, ``clock``) and its state (``endpoints``, ``specs``, ``models``, ``keys``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deploy.errors import ValidationError
from deploy.memory import messages as msg
from deploy.memory.backend import INIT_ERROR_VARIABLE, MemoryBackend

__all__ = ["INIT_ERROR_VARIABLE", "MemoryBackend", "create_memory_backend"]

#: The settings ``create_memory_backend`` takes.
_SETTINGS = ("base_url",)


def create_memory_backend(settings: Mapping[str, Any]) -> MemoryBackend:
    """The backend registered as ``memory``; ``settings`` may set ``base_url``."""
    unknown = sorted(set(settings) - set(_SETTINGS))
    if unknown:
        raise ValidationError(
            msg.UNKNOWN_SETTINGS.format(unknown=", ".join(unknown), known=", ".join(_SETTINGS))
        )
    return MemoryBackend(base_url=str(settings.get("base_url", "http://127.0.0.1:9")))
