"""What to send and how hard: ``LoadTestPlan``, and the caps a plan must respect: ``Limits``.

Usage::

    plan = LoadTestPlan.closed(url=scoring_uri, requests=1000, concurrency=10,
                               headers={"Authorization": f"Bearer {key}"}, body=payload)
    plan = LoadTestPlan.open(url=scoring_uri, rate=200, duration=30, deployment="blue")
    plan = LoadTestPlan.from_options(url=scoring_uri, rate=200, duration=30)  # CLI-style

A plan checks itself on construction (``InvalidPlanError`` naming the option);
``loadtest.limits.Limits`` compares it to the configured caps.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from loadtest import messages
from loadtest.errors import InvalidPlanError

__all__ = ["DEFAULT_REQUESTS", "DEPLOYMENT_HEADER", "LoadTestPlan", "Mode", "Target"]

#: The header Azure ML reads to route a request to one deployment.
DEPLOYMENT_HEADER = "azureml-model-deployment"

#: Requests of a closed loop when none are given (the seed's load_test.py).
DEFAULT_REQUESTS = 100

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_DEPLOYMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Mode(enum.StrEnum):
    """Closed loop: C workers, each sends its next request when the last one returns.
    Open loop: requests go out at a constant rate, whatever the endpoint does."""

    CLOSED = "closed"
    OPEN = "open"


@dataclass(frozen=True, kw_only=True)
class Target:
    """A parsed target URL: where to connect and what to put in the request line."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def tls(self) -> bool:
        """True for https."""
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        """The Host header value (brackets around IPv6, port when not the default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.tls else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        """True for localhost and literal addresses in 127.0.0.0/8 or ::1."""
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @classmethod
    def parse(cls, url: str) -> Target:
        """Parse an http(s) URL; ``InvalidPlanError`` when it is not one."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise InvalidPlanError(messages.BAD_URL.format(url=url), field="url") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname or not url.isascii():
            raise InvalidPlanError(messages.BAD_URL.format(url=url), field="url")
        if port is None:
            port = 443 if parts.scheme == "https" else 80
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        if any(c in path for c in " \r\n"):
            raise InvalidPlanError(messages.BAD_URL.format(url=url), field="url")
        return cls(scheme=parts.scheme, host=parts.hostname, port=port, path=path)


@dataclass(frozen=True, kw_only=True)
class LoadTestPlan:
    """One load test. Build it with ``LoadTestPlan.closed(...)`` or ``LoadTestPlan.open(...)``.

    ``concurrency`` is the number of workers (closed loop) or the most connections
    kept open (open loop). ``duration`` is the run length in the open loop and an
    optional time cap in the closed loop. ``timeout`` bounds each request; in the
    open loop it is also how long a due request may wait for a free connection
    before it is counted as dropped. A send is *late* when it leaves more than
    ``late_threshold`` seconds after its intended time. ``headers`` and ``body``
    are kept out of ``repr`` (they may hold keys).

    https targets are verified (certificate chain and host name) against the
    system's trust store, which honours ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``;
    ``ca_file`` (a PEM bundle) trusts those CAs instead, e.g. a private CA's.
    """

    url: str
    mode: Mode
    requests: int | None = None
    concurrency: int = 10
    rate: float | None = None
    duration: float | None = None
    timeout: float = 10.0
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    body: bytes = field(default=b"", repr=False)
    deployment: str | None = None
    late_threshold: float = 0.010
    ca_file: str | None = None

    def __post_init__(self) -> None:
        try:
            mode = Mode(self.mode)
        except ValueError as exc:
            raise InvalidPlanError(messages.BAD_MODE.format(mode=self.mode), field="mode") from exc
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))
        Target.parse(self.url)
        if mode is Mode.CLOSED:
            if self.requests is None:
                raise InvalidPlanError(messages.CLOSED_NEEDS_REQUESTS, field="requests")
            if self.rate is not None:
                raise InvalidPlanError(
                    messages.NOT_FOR_MODE.format(option="--rate", mode="closed"), field="rate"
                )
        else:
            if self.rate is None:
                raise InvalidPlanError(messages.OPEN_NEEDS_RATE, field="rate")
            if self.duration is None:
                raise InvalidPlanError(messages.OPEN_NEEDS_DURATION, field="duration")
            if self.requests is not None:
                raise InvalidPlanError(
                    messages.NOT_FOR_MODE.format(option="--requests", mode="open"),
                    field="requests",
                )
        for option, value in (
            ("requests", self.requests),
            ("concurrency", self.concurrency),
            ("rate", self.rate),
            ("duration", self.duration),
            ("timeout", self.timeout),
            ("late_threshold", self.late_threshold),
        ):
            if value is not None and not value > 0:
                raise InvalidPlanError(
                    messages.MUST_BE_POSITIVE.format(option=f"--{option}", value=value),
                    field=option,
                )
        self._check_http()

    def _check_http(self) -> None:
        if not _TOKEN.match(self.method):
            raise InvalidPlanError(messages.BAD_METHOD.format(method=self.method), field="method")
        for name, value in self.headers.items():
            if not _TOKEN.match(name):
                raise InvalidPlanError(messages.BAD_HEADER_NAME.format(name=name), field="headers")
            if "\r" in value or "\n" in value or not value.isascii():
                raise InvalidPlanError(messages.BAD_HEADER_VALUE.format(name=name), field="headers")
        if self.deployment is not None and not _DEPLOYMENT_NAME.match(self.deployment):
            raise InvalidPlanError(
                messages.BAD_DEPLOYMENT.format(name=self.deployment), field="deployment"
            )

    @classmethod
    def closed(
        cls,
        *,
        url: str,
        requests: int,
        concurrency: int = 10,
        duration: float | None = None,
        timeout: float = 10.0,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        deployment: str | None = None,
        ca_file: str | None = None,
    ) -> LoadTestPlan:
        """A closed loop: ``requests`` in all, ``concurrency`` at a time (as the seed's script)."""
        return cls(
            url=url,
            mode=Mode.CLOSED,
            requests=requests,
            concurrency=concurrency,
            duration=duration,
            timeout=timeout,
            method=method,
            headers=headers or {},
            body=body,
            deployment=deployment,
            ca_file=ca_file,
        )

    @classmethod
    def open(
        cls,
        *,
        url: str,
        rate: float,
        duration: float,
        concurrency: int = 64,
        timeout: float = 10.0,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        deployment: str | None = None,
        late_threshold: float = 0.010,
        ca_file: str | None = None,
    ) -> LoadTestPlan:
        """An open loop: ``rate`` requests per second for ``duration`` seconds."""
        return cls(
            url=url,
            mode=Mode.OPEN,
            rate=rate,
            duration=duration,
            concurrency=concurrency,
            timeout=timeout,
            method=method,
            headers=headers or {},
            body=body,
            deployment=deployment,
            late_threshold=late_threshold,
            ca_file=ca_file,
        )

    @classmethod
    def from_options(
        cls,
        *,
        url: str,
        requests: int | None = None,
        concurrency: int | None = None,
        rate: float | None = None,
        duration: float | None = None,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        deployment: str | None = None,
        ca_file: str | None = None,
    ) -> LoadTestPlan:
        """The plan for command-line style options, as ``/loadtest`` and the CLI take them.

        ``--rate`` makes an open loop (``--duration`` required, ``--requests`` refused);
        otherwise a closed loop of ``--requests`` (default 100, as the seed's script)
        with ``--duration`` as an optional time cap. ``--concurrency`` defaults to 10
        workers (closed) or 64 connections (open).
        """
        if rate is not None:
            if requests is not None:
                raise InvalidPlanError(messages.BOTH_MODES, field="requests")
            if duration is None:
                raise InvalidPlanError(messages.OPEN_NEEDS_DURATION, field="duration")
            return cls.open(
                url=url,
                rate=rate,
                duration=duration,
                concurrency=64 if concurrency is None else concurrency,
                timeout=timeout,
                headers=headers,
                body=body,
                deployment=deployment,
                ca_file=ca_file,
            )
        return cls.closed(
            url=url,
            requests=DEFAULT_REQUESTS if requests is None else requests,
            concurrency=10 if concurrency is None else concurrency,
            duration=duration,
            timeout=timeout,
            headers=headers,
            body=body,
            deployment=deployment,
            ca_file=ca_file,
        )

    @property
    def target(self) -> Target:
        """The parsed URL."""
        return Target.parse(self.url)

    @property
    def planned_requests(self) -> int:
        """How many requests the plan sends if nothing stops it early."""
        if self.mode is Mode.CLOSED:
            assert self.requests is not None
            return self.requests
        assert self.rate is not None and self.duration is not None
        return int(self.rate * self.duration)

    def request_headers(self) -> dict[str, str]:
        """The headers sent with each request: the plan's, the deployment header,
        and ``Content-Type: application/json`` when there is a body and none is set."""
        headers = dict(self.headers)
        lower = {name.lower() for name in headers}
        if self.body and "content-type" not in lower:
            headers["Content-Type"] = "application/json"
        if self.deployment is not None:
            headers[DEPLOYMENT_HEADER] = self.deployment
        return headers
