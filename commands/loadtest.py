"""``/loadtest``: a bounded load test of an endpoint, from its scoring URI with its own key.

    /loadtest <endpoint> [--deployment D] [--requests N --concurrency C | --rate R --duration D]

``--duration`` is read by ``base.durations`` (``30s``, ``2m``, ``1m30s``; a bare number is
seconds), here and in ``flightdeck loadtest`` (``duration_seconds``).

``parse`` gives the typed request; ``prepare`` resolves it against a backend into a
checked ``loadtest.LoadTestPlan`` (URL, Bearer key, body from the endpoint's swagger
sample or a given body, limits). The CLI's ``flightdeck loadtest`` uses ``prepare`` too.
Load-test errors (``loadtest.LoadTestError``) come out as ``ValidationError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp

from base.durations import DurationError, parse_duration
from commands import messages
from commands.args import ParsedArgs, is_help, parse_args
from commands.errors import UsageError
from deploy.backend import Backend
from deploy.errors import ValidationError
from deploy.rules import validate_name
from loadtest import Limits, LoadTestError, LoadTestPlan, sample_input_from_swagger

__all__ = ["HELP", "LoadtestHelp", "LoadtestRequest", "duration_seconds", "parse", "prepare"]

HELP = messages.LOADTEST_HELP
_OPTIONS = {"--deployment", "--requests", "--concurrency", "--rate", "--duration"}
_SWAGGER_TIMEOUT = 10.0


@dataclass(frozen=True, kw_only=True)
class LoadtestHelp:
    """``/loadtest help``."""

    writes: ClassVar[bool] = False


@dataclass(frozen=True, kw_only=True)
class LoadtestRequest:
    """``/loadtest <endpoint> ...``: puts load on the endpoint, so deployers only."""

    writes: ClassVar[bool] = True
    endpoint: str
    deployment: str | None = None
    requests: int | None = None
    concurrency: int | None = None
    rate: float | None = None
    #: Seconds.
    duration: float | None = None


def duration_seconds(raw: str) -> float:
    """``--duration`` as seconds: ``30s``, ``2m``, ``1m30s`` or ``90`` (a bare number is
    seconds, as every duration in Flightdeck), above 0; ``ValidationError`` naming the flag."""
    try:
        value = parse_duration(raw)
    except DurationError as exc:
        raise ValidationError(messages.LOADTEST_BAD_DURATION.format(problem=exc)) from None
    if not value:
        raise ValidationError(messages.LOADTEST_NOT_POSITIVE.format(option="--duration"))
    return value.total_seconds()


def _duration(args: ParsedArgs) -> float | None:
    raw = args.options.get("--duration")
    if raw is None:
        return None
    try:
        return duration_seconds(raw)
    except ValidationError as exc:
        raise args.usage(exc.message) from None


def _number(raw: str | None, option: str, kind: Callable[[str], Any]) -> Any:
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        raise UsageError(
            messages.NOT_A_NUMBER.format(what=option, value=raw), help_text=HELP
        ) from None
    if not value > 0 or value != value:
        raise UsageError(messages.LOADTEST_NOT_POSITIVE.format(option=option), help_text=HELP)
    return value


def parse(text: str) -> LoadtestHelp | LoadtestRequest:
    """The typed request for ``text``; ``UsageError`` naming what is wrong."""
    if is_help(text):
        return LoadtestHelp()
    args = parse_args(text, help_text=HELP, options=_OPTIONS)
    if not args.positionals:
        raise args.usage(messages.LOADTEST_NO_ENDPOINT)
    if len(args.positionals) > 1:
        raise args.usage(messages.UNEXPECTED.format(words=" ".join(args.positionals[1:])))
    endpoint = args.positionals[0]
    deployment = args.options.get("--deployment")
    try:
        validate_name("endpoint", endpoint)
        if deployment is not None:
            validate_name("deployment", deployment)
    except ValidationError as exc:
        raise args.usage(exc.message) from None
    request = LoadtestRequest(
        endpoint=endpoint,
        deployment=deployment,
        requests=_number(args.options.get("--requests"), "--requests", int),
        concurrency=_number(args.options.get("--concurrency"), "--concurrency", int),
        rate=_number(args.options.get("--rate"), "--rate", float),
        duration=_duration(args),
    )
    try:  # the plan's own checks (modes mixed, --duration missing), on a placeholder URL
        _plan(request, url="http://127.0.0.1/score", headers={}, body=b"")
    except LoadTestError as exc:
        raise args.usage(_sentence(str(exc))) from None
    return request


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _plan(
    request: LoadtestRequest, *, url: str, headers: dict[str, str], body: bytes
) -> LoadTestPlan:
    return LoadTestPlan.from_options(
        url=url,
        requests=request.requests,
        concurrency=request.concurrency,
        rate=request.rate,
        duration=request.duration,
        headers=headers,
        body=body,
        deployment=request.deployment,
    )


async def fetch_swagger(uri: str, headers: dict[str, str]) -> dict[str, Any]:
    """The endpoint's swagger document; ``ValidationError`` when it cannot be read."""
    timeout = aiohttp.ClientTimeout(total=_SWAGGER_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(uri, headers=headers) as response,
        ):
            text = await response.text()
            if response.status != 200:
                raise ValidationError(
                    messages.LOADTEST_SWAGGER_FAILED.format(uri=uri, reason=response.status)
                )
        document = json.loads(text)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        reason = type(exc).__name__
        raise ValidationError(
            messages.LOADTEST_SWAGGER_FAILED.format(uri=uri, reason=reason)
        ) from None
    if not isinstance(document, dict):
        raise ValidationError(messages.LOADTEST_SWAGGER_FAILED.format(uri=uri, reason="not JSON"))
    return document


async def prepare(
    backend: Backend,
    request: LoadtestRequest,
    *,
    limits: Limits,
    body: bytes | None = None,
    url: str | None = None,
) -> LoadTestPlan:
    """The checked plan: the endpoint's scoring URI (or ``url``), its key as Bearer,
    ``body`` or the swagger's sample input; ``ValidationError`` naming what is wrong.

    The limits (and the loopback rule) are checked before anything is sent, the
    swagger request included.
    """
    endpoint = await backend.get_endpoint(request.endpoint)
    if request.deployment is not None:
        names = [d.name for d in await backend.list_deployments(request.endpoint)]
        if request.deployment not in names:
            raise ValidationError(
                messages.LOADTEST_NO_DEPLOYMENT.format(
                    deployment=request.deployment,
                    endpoint=request.endpoint,
                    known=", ".join(names) or messages.NONE,
                )
            )
    credentials = await backend.get_credentials(request.endpoint)
    key = credentials.bearer()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    target = url or endpoint.scoring_uri
    try:
        limits.check(_plan(request, url=target, headers=headers, body=b""))
        if body is None:
            if not endpoint.swagger_uri:
                raise ValidationError(messages.LOADTEST_NO_SWAGGER.format(endpoint=endpoint.name))
            swagger_plan = _plan(request, url=endpoint.swagger_uri, headers={}, body=b"")
            limits.check(swagger_plan)
            body = sample_input_from_swagger(await fetch_swagger(endpoint.swagger_uri, headers))
        plan = _plan(request, url=target, headers=headers, body=body)
        limits.check(plan)
    except LoadTestError as exc:
        raise ValidationError(_sentence(str(exc))) from None
    return plan
