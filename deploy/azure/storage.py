"""Uploads to the workspace's storage account: their transport, their refusals.

azure-ai-ml uploads a local model path or code folder itself, through
azure-storage-blob clients it builds without MLClient's transport (a model goes to the
default datastore ``workspaceblobstore`` with its account key from ``listSecrets``, or
with Flightdeck's identity when the datastore is identity-based; code goes to a
temporary blob reference, a SAS URI). Two things here:

- ``use_transport(transport)``: when the backend was given a transport (tests: the
  fake ARM), the storage clients built while it is set use it too, as every other Azure
  client does. Without one nothing changes: azure-storage-blob's own transport is used.
- ``storage_refusal(exc)``: a 403 from the storage account as a ``PermissionDeniedError``
  that names the account and, for identity-based access, the role to grant: Storage
  Blob Data Contributor (Azure's own message names neither).

    with use_transport(transport):
        ml.models.create_or_update(Model(name="m", version="1", path="./model"))
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.transport import HttpTransport

from deploy.azure import messages
from deploy.errors import PermissionDeniedError

__all__ = ["storage_refusal", "use_transport"]

_TRANSPORT: contextvars.ContextVar[HttpTransport[Any, Any] | None] = contextvars.ContextVar(
    "flightdeck_storage_transport", default=None
)
_installed = threading.Lock()
_hooked = False


class _Borrowed(HttpTransport[Any, Any]):
    """A storage client's view of a shared transport: closing the client leaves it open."""

    def __init__(self, inner: HttpTransport[Any, Any]) -> None:
        self._inner = inner

    def send(self, request: Any, **kwargs: Any) -> Any:
        return self._inner.send(request, **kwargs)

    def sleep(self, duration: float) -> None:
        self._inner.sleep(duration)

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Borrowed:
        return self

    def __exit__(self, *args: object) -> None:
        pass


def _hook() -> None:
    """Let azure-storage-blob build its default transport through ``_transport`` (once)."""
    global _hooked
    with _installed:
        if _hooked:
            return
        from azure.storage.blob._shared import base_client

        default = getattr(base_client, "RequestsTransport")  # noqa: B009 - not re-exported

        def transport(**kwargs: Any) -> Any:
            injected = _TRANSPORT.get()
            return _Borrowed(injected) if injected is not None else default(**kwargs)

        setattr(base_client, "RequestsTransport", transport)  # noqa: B010
        _hooked = True


@contextlib.contextmanager
def use_transport(transport: HttpTransport[Any, Any] | None) -> Iterator[None]:
    """Storage clients built inside (this thread or context) send through ``transport``."""
    if transport is None:
        yield
        return
    _hook()
    token = _TRANSPORT.set(transport)
    try:
        yield
    finally:
        _TRANSPORT.reset(token)


def storage_refusal(exc: BaseException) -> PermissionDeniedError | None:
    """The domain error for a storage account's 403 anywhere in ``exc``'s causes, else None."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, HttpResponseError) and seen.status_code == 403:
            request = getattr(seen.response, "request", None)
            host = urlsplit(str(getattr(request, "url", ""))).hostname or ""
            if ".blob." in host or ".dfs." in host:
                account = host.split(".", 1)[0]
                code = getattr(seen, "error_code", None) or "AuthorizationFailure"
                headers = getattr(request, "headers", {}) or {}
                bearer = str(headers.get("Authorization", "")).startswith("Bearer ")
                template = messages.STORAGE_ROLE if bearer else messages.STORAGE_REFUSED
                return PermissionDeniedError(template.format(account=account, code=code))
        seen = seen.__cause__ or seen.__context__
    return None
