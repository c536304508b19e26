"""``flightdeck demo`` (what ``make demo`` runs): the seed's endpoint, live on this machine.

Idempotent, so it can run again and again: starts the local platform unless it
runs; creates the sample endpoint unless it exists; deploys blue (model v1) with
all traffic and green (model v2) at 0%, each only when missing or changed (a
fingerprint of its spec, code and model files, kept in the endpoint's tags);
then sends a scored request through the router and prints the answer.

It then hands over to the Slack console: the hook is
``cli.console.run_demo_console(endpoint=..., home=...) -> int`` (skipped with
``--no-console``, or when that module or function does not exist).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import inspect
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from cli.local import ensure_running
from cli.output import print_json, progress_line, say
from deploy.backend import Backend
from deploy.errors import FlightdeckError, NotFoundError
from deploy.local.state.home import Home
from deploy.registry import create_backend
from deploy.specs import load_deployment_spec, load_endpoint_spec
from deploy.types import DeploymentSpec, Endpoint, to_json

__all__ = ["DEFAULT_REQUEST", "example_folder", "register", "start_console"]

#: Where in the home the packaged example is laid out (its YAML, the models made by code).
EXAMPLE_IN_HOME = ("demo", "product-recommender")
DEFAULT_REQUEST: dict[str, Any] = {"data": [[1.0, 2.0, 3.0, 4.0, 5.0]]}
#: The console hook: ``cli.console.run_demo_console(endpoint=...)``, if the bot has one.
CONSOLE_MODULE = "cli.console"
CONSOLE_HOOK = "run_demo_console"
_TAG_PREFIX = "flightdeck-demo-"
_LIVE = "blue"
_STAGED = "green"


def register(subparsers: Any) -> None:
    """Add ``demo``."""
    demo = subparsers.add_parser(
        "demo", help="the sample endpoint with blue and green on the local platform"
    )
    demo.add_argument("--home", help="state folder (default: $FLIGHTDECK_HOME, ~/.flightdeck)")
    demo.add_argument("--router-port", type=int, default=None)
    demo.add_argument("--control-port", type=int, default=None)
    demo.add_argument(
        "--examples",
        type=Path,
        default=None,
        help="the example folder (default: the packaged sample, laid out in the home's demo/)",
    )
    demo.add_argument("--no-console", action="store_true", help="do not open the Slack console")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    home = Home.resolve(args.home)
    folder: Path = args.examples or example_folder(home.root)
    endpoint_spec = load_endpoint_spec(folder / "endpoint.yml")
    specs = [load_deployment_spec(folder / f"{name}-deployment.yml") for name in (_LIVE, _STAGED)]
    request = _request_body(folder)
    ensure_running(home, router_port=args.router_port, control_port=args.control_port)
    summary = asyncio.run(_converge(home, endpoint_spec, specs, request))
    print_json(summary)
    return start_console(endpoint_spec.name, home=home.root, enabled=not args.no_console)


def example_folder(home: Path) -> Path:
    """The packaged sample laid out in ``home``/demo/product-recommender, models made by code
    (the wheel ships the YAML, not the models)."""
    # samples imports onnx (a second to load): only when the demo needs the example.
    from samples.product_recommender import write_example

    Home(root=home).ensure()  # owner-only, as the daemon keeps it
    return write_example(home.joinpath(*EXAMPLE_IN_HOME))


def start_console(endpoint: str, *, home: Path, enabled: bool = True) -> int:
    """Open the Slack console on ``endpoint`` when the bot provides one; its exit code."""
    if not enabled:
        return 0
    try:
        module = importlib.import_module(CONSOLE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != CONSOLE_MODULE:
            raise
        return 0
    hook = getattr(module, CONSOLE_HOOK, None)
    if hook is None:
        return 0
    say("Opening the Slack console (--no-console to skip it) ...")
    if "home" in inspect.signature(hook).parameters:
        return int(hook(endpoint=endpoint, home=home))
    return int(hook(endpoint=endpoint))


async def _converge(
    home: Home, endpoint_spec: Any, specs: list[DeploymentSpec], request: bytes
) -> dict[str, Any]:
    backend = create_backend("local", {"home": str(home.root)})
    try:
        endpoint = await _ensure_endpoint(backend, endpoint_spec)
        wanted = dict(endpoint.tags)
        for spec in specs:
            key = _TAG_PREFIX + spec.name
            fingerprint = _fingerprint(spec)
            await _ensure_deployment(backend, spec, current=endpoint.tags.get(key) == fingerprint)
            wanted[key] = fingerprint
        if wanted != dict(endpoint.tags):
            tagged = replace(endpoint_spec, tags=wanted)
            endpoint = await backend.create_or_update_endpoint(tagged)
        split = {_LIVE: 100, _STAGED: 0}
        if dict(endpoint.traffic) != split or any(endpoint.mirror_traffic.values()):
            say(f"Traffic: {_LIVE}=100 {_STAGED}=0")
            endpoint = await backend.set_traffic(endpoint.name, split, mirror_traffic={})
        return await _score(backend, endpoint, request)
    finally:
        await backend.aclose()


async def _ensure_endpoint(backend: Backend, spec: Any) -> Endpoint:
    try:
        endpoint = await backend.get_endpoint(spec.name)
    except NotFoundError:
        say(f"Creating endpoint {spec.name} ...")
        return await backend.create_or_update_endpoint(spec, progress=progress_line)
    say(f"Endpoint {spec.name} exists.")
    return endpoint


async def _ensure_deployment(backend: Backend, spec: DeploymentSpec, *, current: bool) -> None:
    try:
        await backend.get_deployment(spec.endpoint_name, spec.name)
    except NotFoundError:
        say(f"Deploying {spec.name} ({spec.model.display() if spec.model else 'no model'}) ...")
        await backend.create_or_update_deployment(spec, progress=progress_line)
        return
    if current:
        say(f"Deployment {spec.name} is up to date.")
        return
    say(f"Deployment {spec.name} changed: rolling it out ...")
    await backend.create_or_update_deployment(spec, progress=progress_line)


async def _score(backend: Backend, endpoint: Endpoint, request: bytes) -> dict[str, Any]:
    """POST the request to the scoring URI, through the router, with the endpoint's key."""
    credentials = await backend.get_credentials(endpoint.name)
    say(f"Scoring through the router: POST {endpoint.scoring_uri}")
    headers = {
        "Authorization": f"Bearer {credentials.bearer()}",
        "Content-Type": "application/json",
    }
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(endpoint.scoring_uri, data=request, headers=headers) as response,
        ):
            status = response.status
            deployment = response.headers.get("azureml-model-deployment")
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise FlightdeckError(f"The scoring request failed: {exc}") from None
    try:
        answer: Any = json.loads(text)
    except ValueError:
        answer = text
    if status != 200:
        raise FlightdeckError(f"The scoring request answered HTTP {status}: {text[:300]}")
    return {
        "endpoint": endpoint.name,
        "scoring_uri": endpoint.scoring_uri,
        "traffic": dict(endpoint.traffic),
        "request": json.loads(request),
        "status": status,
        "answered_by": deployment,
        "response": answer,
    }


def _request_body(folder: Path) -> bytes:
    sample = folder / "sample-request.json"
    if sample.is_file():
        return sample.read_bytes()
    return json.dumps(DEFAULT_REQUEST).encode()


def _fingerprint(spec: DeploymentSpec) -> str:
    """A hash of the spec and of every file its code and model folders hold."""
    digest = hashlib.sha256()
    data = to_json(replace(spec, source_file=None))
    digest.update(json.dumps(data, sort_keys=True).encode())
    roots = [spec.code_path, spec.model.path if spec.model else None]
    for root in (Path(r) for r in roots if r):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(root) if file != root else file.name).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]
