"""Serve a Backend through the real control API on loopback, and a LocalBackend on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from deploy.backend import Backend
from deploy.local.control.api import ControlAPI
from deploy.local.control.client import LocalBackend

__all__ = ["Served", "serve_backend"]

TOKEN = "test-admin-token-0123456789"


@dataclass
class Served:
    """The running API and a client talking to it."""

    api: ControlAPI
    client: LocalBackend
    token: str


@asynccontextmanager
async def serve_backend(backend: Backend) -> AsyncIterator[Served]:
    """Start ``ControlAPI(backend)`` on a free port; stop it (and the client) afterwards."""
    api = ControlAPI(backend=backend, token=TOKEN, port=0)
    await api.start()
    client = LocalBackend(control_url=api.base_url, token=TOKEN)
    try:
        yield Served(api=api, client=client, token=TOKEN)
    finally:
        await client.aclose()
        await api.stop()
