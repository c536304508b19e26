"""The local stand-in for Azure's managed-identity token endpoint, for scoring scripts.

On Azure an instance of a deployment gets ``MSI_ENDPOINT``/``MSI_SECRET`` and
``IDENTITY_ENDPOINT``/``IDENTITY_HEADER``; a scoring script's
``ManagedIdentityCredential().get_token(...)`` asks there (azure-identity picks the App
Service protocol, api-version 2019-08-01, header ``X-IDENTITY-HEADER``, when
``IDENTITY_ENDPOINT`` is set, else the Azure ML one, api-version 2017-09-01, header
``secret``). Local instances get the same variables, pointing here: a small HTTP server on
127.0.0.1 (a port of its own), answering only loopback callers that send the secret.

By default there is no managed identity: every request with the secret is answered 400
with ``{"statusCode": 400, "message": ..., "error": "managed_identity_unavailable",
"error_description": ...}``: msal's App Service client (which azure-identity uses) reports
``statusCode`` and ``message`` in the exception's text ("Token request error:
(invalid_scope) 400, no managed identity on the local platform; ..."), and the Azure ML
protocol's client shows the whole body, so the scoring script's log says what to do.
With ``FLIGHTDECK_LOCAL_IDENTITY=user`` in the daemon's environment (an opt-in: the
token is the user's own, not a deployment's) it answers with a token for the requested
resource from the user's ``DefaultAzureCredential`` (``az login``, environment variables).

    endpoint = TokenEndpoint(mode=identity_mode(os.environ))
    await endpoint.start()
    env.update(endpoint.instance_environment())
    await endpoint.stop()
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from typing import Any, Literal

from aiohttp import web

from deploy.local import messages as msg

__all__ = ["IDENTITY_MODE_ENV", "IdentityMode", "TokenEndpoint", "identity_mode"]

#: The daemon's variable that opts in to the user's own credential (``user``); else ``none``.
IDENTITY_MODE_ENV = "FLIGHTDECK_LOCAL_IDENTITY"
IdentityMode = Literal["none", "user"]
_PATH = "/msi/token"
_HEADERS = ("X-IDENTITY-HEADER", "secret")


def identity_mode(environ: Mapping[str, str]) -> IdentityMode:
    """The mode ``environ`` asks for (``none`` unless ``FLIGHTDECK_LOCAL_IDENTITY=user``)."""
    return "user" if environ.get(IDENTITY_MODE_ENV, "").strip().lower() == "user" else "none"


class TokenEndpoint:
    """A managed-identity token endpoint on 127.0.0.1 for the platform's instances."""

    def __init__(self, *, mode: IdentityMode = "none", credential: Any = None) -> None:
        """``credential``: what gives tokens in ``user`` mode (default: azure-identity's
        ``DefaultAzureCredential``, made on first use)."""
        self.mode = mode
        self.secret = secrets.token_urlsafe(32)
        self._credential = credential
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def url(self) -> str:
        """The token URL (after ``start``)."""
        return f"http://127.0.0.1:{self._port}{_PATH}"

    def instance_environment(self) -> dict[str, str]:
        """The variables an instance gets, as Azure gives them."""
        return {
            "MSI_ENDPOINT": self.url,
            "MSI_SECRET": self.secret,
            "IDENTITY_ENDPOINT": self.url,
            "IDENTITY_HEADER": self.secret,
        }

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_get(_PATH, self._token)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _token(self, request: web.Request) -> web.Response:
        if not _loopback(request.remote):
            return _error(403, "forbidden", msg.IDENTITY_NOT_LOOPBACK)
        sent = next((request.headers[h] for h in _HEADERS if h in request.headers), "")
        if not hmac.compare_digest(sent.encode(), self.secret.encode()):
            return _error(401, "unauthorized", msg.IDENTITY_BAD_SECRET)
        resource = request.query.get("resource", "")
        if not resource:
            return _error(400, "invalid_request", msg.IDENTITY_NO_RESOURCE)
        if self.mode != "user":
            return _error(400, "managed_identity_unavailable", msg.IDENTITY_UNAVAILABLE)
        try:
            token = await asyncio.to_thread(self._user_token, resource)
        except Exception as exc:  # the user's credential failed: say so, in the body
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return _error(
                400, "user_credential_failed", msg.IDENTITY_USER_FAILED.format(reason=reason)
            )
        access, expires = token
        return web.json_response(
            {
                "access_token": access,
                "expires_on": str(expires),
                "resource": resource,
                "token_type": "Bearer",
            }
        )

    def _user_token(self, resource: str) -> tuple[str, int]:
        if self._credential is None:
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential(exclude_managed_identity_credential=True)
        scope = resource if resource.endswith("/.default") else resource.rstrip("/") + "/.default"
        token = self._credential.get_token(scope)
        return str(token.token), int(token.expires_on)


def _loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def _error(status: int, code: str, description: str) -> web.Response:
    """An error as both protocols report it: App Service's ``statusCode`` and ``message``
    (what MSAL's App Service client puts in azure-identity's exception), and OAuth2's
    ``error`` and ``error_description``."""
    body = {
        "statusCode": status,
        "message": description,
        "error": code,
        "error_description": description,
    }
    return web.json_response(body, status=status)
