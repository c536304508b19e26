"""Calls to an endpoint's scoring URI over aiohttp, with its key or token.

Not through the SDK (``online_endpoints.invoke`` is blocking and reads a file):
the same HTTP a load test or a client application sends.

    scorer = Scorer()
    result = await scorer.post(uri, bearer=key, body=b'{"data": [[1, 2]]}', deployment=None)
    await scorer.aclose()
"""

from __future__ import annotations

import aiohttp

from deploy.azure import messages
from deploy.errors import BackendUnavailableError
from deploy.types import InvokeResult

__all__ = ["INVOKE_TIMEOUT", "Scorer"]

#: Azure's request_timeout_ms is at most 180 s; allow for the network around it.
INVOKE_TIMEOUT = 200.0


class Scorer:
    """One aiohttp session for scoring calls, opened on first use."""

    def __init__(self, *, timeout: float = INVOKE_TIMEOUT) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def post(
        self, uri: str, *, endpoint: str, bearer: str, body: bytes, deployment: str | None
    ) -> InvokeResult:
        """POST ``body`` to ``uri``; any HTTP status is returned, not raised."""
        headers = {"Content-Type": "application/json"}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        if deployment:
            headers["azureml-model-deployment"] = deployment
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(uri, data=body, headers=headers) as response:
                content = await response.read()
                return InvokeResult(
                    status=response.status, headers=dict(response.headers), body=content
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = str(exc) or type(exc).__name__
            raise BackendUnavailableError(
                messages.INVOKE_FAILED.format(endpoint=endpoint, detail=detail)
            ) from exc

    async def aclose(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
