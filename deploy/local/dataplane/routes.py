"""The routing table: what the router needs to know, and nothing more.

The platform (control plane) builds one ``EndpointRoute`` per endpoint from its
state and the supervisor's ready instances, and hands it to the router with
``Router.update``; the router never reads the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["DeploymentRoute", "EndpointRoute", "Upstream"]


@dataclass(frozen=True, kw_only=True)
class Upstream:
    """One ready instance: its base URL (``http://127.0.0.1:<port>``) and its name.

    ``unix_socket``: a Unix socket path the instance also listens on (fastserve); the
    router then connects there instead of to the URL's port (same requests, same answers,
    no TCP stack on either side).
    """

    instance: str
    url: str
    unix_socket: str | None = None


@dataclass(frozen=True, kw_only=True)
class DeploymentRoute:
    """A deployment as the router sees it: its ready instances and request settings."""

    name: str
    upstreams: tuple[Upstream, ...] = ()
    request_timeout_ms: int = 5000
    max_concurrent_requests_per_instance: int = 1
    #: Kept in the Failed state after its create failed: no instances, ever, until updated.
    failed: bool = False

    @property
    def max_in_flight(self) -> int:
        """Azure's 429 limit: 2 x max_concurrent_requests_per_instance x ready instances."""
        return 2 * self.max_concurrent_requests_per_instance * len(self.upstreams)


@dataclass(frozen=True, kw_only=True)
class EndpointRoute:
    """An endpoint as the router sees it.

    ``keys`` are the accepted keys (auth_mode key); ``token_secret`` verifies
    aml_token tokens (see ``deploy.local.state.tokens``).
    """

    name: str
    auth_mode: str
    keys: tuple[str, ...] = ()
    token_secret: bytes = b""
    traffic: Mapping[str, int] = field(default_factory=dict)
    mirror_traffic: Mapping[str, int] = field(default_factory=dict)
    deployments: Mapping[str, DeploymentRoute] = field(default_factory=dict)
