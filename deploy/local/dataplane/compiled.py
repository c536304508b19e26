"""The router's compiled view of an ``EndpointRoute``: auth and picks in O(1) a request.

``compile_route`` checks a route once, when the platform hands it over, and
precomputes what each request needs: the accepted keys as bytes, a smooth
weighted round-robin schedule of the live deployments (exact proportions: a
90/10 split sends 9 of every 10 requests to the first), the mirror target and
its share, and per deployment its upstream URLs and timeout. Counters that must
outlive a route update (requests in flight) live in ``DeploymentState``, shared
by the old and new compiled routes of the same deployment.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Mapping

from yarl import URL

from deploy.local.dataplane import messages
from deploy.local.dataplane.routes import DeploymentRoute, EndpointRoute
from deploy.local.state.tokens import verify_token

__all__ = [
    "AUTH_MODES",
    "CompiledDeployment",
    "CompiledEndpoint",
    "CompiledUpstream",
    "DeploymentState",
    "compile_route",
]

#: The auth modes a route may carry (aad_token routes answer 401: not verifiable locally).
AUTH_MODES = ("key", "aml_token", "aad_token")


class DeploymentState:
    """What survives route updates: requests in flight, the round-robin turn."""

    __slots__ = ("in_flight", "turn")

    def __init__(self) -> None:
        self.in_flight = 0
        self.turn = 0


class CompiledUpstream:
    """One ready instance, with its URL parsed once."""

    __slots__ = ("host", "instance", "port", "score_path", "swagger_path", "unix_socket")

    def __init__(self, instance: str, base_url: str, unix_socket: str | None = None) -> None:
        url = URL(base_url)
        if url.scheme != "http" or not url.raw_host or url.port is None:
            raise ValueError(f"upstream {instance}: {base_url!r} is not http://<host>:<port>")
        self.instance = instance
        self.unix_socket = unix_socket
        self.host = url.raw_host  # ASCII (an IDN name as punycode): it goes on the wire
        self.port = url.port
        prefix = url.raw_path.rstrip("/")
        self.score_path = prefix + "/score"
        self.swagger_path = prefix + "/swagger.json"


class CompiledDeployment:
    """A deployment ready for the hot path."""

    __slots__ = (
        "failed",
        "header_line",
        "max_in_flight",
        "name",
        "state",
        "timeout_ms",
        "timeout_s",
        "upstreams",
    )

    def __init__(self, route: DeploymentRoute, state: DeploymentState) -> None:
        self.name = route.name
        #: The header line naming it on every answer it gives (``azureml-model-deployment``).
        self.header_line = f"azureml-model-deployment: {route.name}\r\n".encode(
            "latin-1", "replace"
        )
        self.upstreams = tuple(
            CompiledUpstream(u.instance, u.url, u.unix_socket) for u in route.upstreams
        )
        self.max_in_flight = route.max_in_flight
        self.timeout_ms = route.request_timeout_ms
        self.timeout_s = route.request_timeout_ms / 1000.0
        self.state = state
        self.failed = route.failed

    def next_upstream(self) -> CompiledUpstream:
        """Round robin over the ready instances (call only when there is one)."""
        upstreams = self.upstreams
        if len(upstreams) == 1:
            return upstreams[0]
        state = self.state
        state.turn += 1
        return upstreams[state.turn % len(upstreams)]


class CompiledEndpoint:
    """An endpoint ready for the hot path. Built by :func:`compile_route`."""

    __slots__ = (
        "auth_mode",
        "deployments",
        "keys",
        "mirror",
        "mirror_credit",
        "mirror_percent",
        "name",
        "route",
        "schedule",
        "schedule_turn",
        "token_secret",
    )

    def __init__(
        self,
        route: EndpointRoute,
        deployments: dict[str, CompiledDeployment],
        schedule: tuple[CompiledDeployment, ...],
        mirror: CompiledDeployment | None,
        mirror_percent: int,
    ) -> None:
        self.route = route
        self.name = route.name
        self.auth_mode = route.auth_mode
        self.keys = tuple(key.encode() for key in route.keys if key)
        self.token_secret = route.token_secret
        self.deployments = deployments
        self.schedule = schedule
        self.schedule_turn = 0
        self.mirror = mirror
        self.mirror_percent = mirror_percent
        self.mirror_credit = 0

    def secrets(self) -> list[str]:
        """The endpoint's keys and token secret (hex), for log redaction."""
        found = [key.decode("utf-8", "surrogateescape") for key in self.keys]
        if self.token_secret:
            found.append(self.token_secret.hex())
        return found

    def refuse(self, authorization: bytes | None, now: float) -> str | None:
        """Why the ``Authorization`` header (as sent) is refused (401), or ``None`` when it
        is accepted."""
        if not authorization:
            return messages.MISSING_CREDENTIALS
        scheme, _, credential = authorization.partition(b" ")
        credential = credential.strip()
        if scheme.lower() != b"bearer" or not credential:
            return messages.MISSING_CREDENTIALS
        if self.auth_mode == "key":
            accepted = False
            for key in self.keys:  # compare with every key: no early exit to time
                accepted |= hmac.compare_digest(credential, key)
            return None if accepted else messages.key_refused(self.name)
        if self.auth_mode == "aml_token":
            token = credential.decode("utf-8", "surrogateescape")
            if verify_token(self.token_secret, self.name, token, now=now):
                return None
            return messages.token_refused(self.name)
        return messages.aad_token_unsupported(self.name)

    def pick(self) -> CompiledDeployment | None:
        """The next deployment by weight; ``None`` when none has traffic."""
        schedule = self.schedule
        if not schedule:
            return None
        turn = self.schedule_turn
        self.schedule_turn = turn + 1 if turn + 1 < len(schedule) else 0
        return schedule[turn]

    def mirror_due(self) -> CompiledDeployment | None:
        """The mirror target when this request's copy is due (exactly ``percent`` in 100)."""
        if self.mirror is None:
            return None
        self.mirror_credit += self.mirror_percent
        if self.mirror_credit >= 100:
            self.mirror_credit -= 100
            return self.mirror
        return None

    def swagger_deployment(self) -> CompiledDeployment | None:
        """The deployment with the most traffic (swagger.json comes from it)."""
        live = [(w, n) for n, w in self.route.traffic.items() if w > 0]
        return self.deployments[max(live)[1]] if live else None


def compile_route(
    route: EndpointRoute, states: Mapping[tuple[str, str], DeploymentState]
) -> CompiledEndpoint:
    """Check ``route`` and compile it; ``states`` gives the shared state of each deployment.

    Raises ``ValueError`` naming what is inconsistent (the router then keeps the old route).
    """
    if route.auth_mode not in AUTH_MODES:
        raise ValueError(f"route {route.name}: unknown auth_mode {route.auth_mode!r}")
    for name, deployment in route.deployments.items():
        if deployment.name != name:
            raise ValueError(f"route {route.name}: deployment {deployment.name!r} under {name!r}")
    _check_weights(route, "traffic", route.traffic, limit=100)
    _check_weights(route, "mirror_traffic", route.mirror_traffic, limit=100)
    mirrors = [(name, pct) for name, pct in route.mirror_traffic.items() if pct > 0]
    if len(mirrors) > 1:
        raise ValueError(f"route {route.name}: mirror_traffic has more than one target")
    deployments = {
        name: CompiledDeployment(spec, states[(route.name, name)])
        for name, spec in route.deployments.items()
    }
    schedule = tuple(deployments[name] for name in _smooth_schedule(route.traffic))
    mirror = deployments[mirrors[0][0]] if mirrors else None
    percent = mirrors[0][1] if mirrors else 0
    return CompiledEndpoint(route, deployments, schedule, mirror, percent)


def _check_weights(
    route: EndpointRoute, what: str, weights: Mapping[str, int], *, limit: int
) -> None:
    for name, weight in weights.items():
        if name not in route.deployments:
            raise ValueError(f"route {route.name}: {what} names unknown deployment {name!r}")
        if not 0 <= weight <= limit:
            raise ValueError(f"route {route.name}: {what} {name}={weight} not in 0..{limit}")


def _smooth_schedule(weights: Mapping[str, int]) -> list[str]:
    """Smooth weighted round robin (as nginx), unrolled over one cycle of the reduced weights."""
    live = {name: w for name, w in sorted(weights.items()) if w > 0}
    if not live:
        return []
    divisor = math.gcd(*live.values())
    live = {name: w // divisor for name, w in live.items()}
    total = sum(live.values())
    current = dict.fromkeys(live, 0)
    schedule = []
    for _ in range(total):
        for name, weight in live.items():
            current[name] += weight
        chosen = max(current, key=lambda name: current[name])
        current[chosen] -= total
        schedule.append(chosen)
    return schedule
