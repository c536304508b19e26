"""``flightdeck fastserve``: run scoring scripts on fastserve in Azure ML, as a custom container.

    flightdeck fastserve environment --out ./fastserve-env [--name flightdeck-fastserve]
    az ml environment create --file ./fastserve-env/environment.yml

writes a Docker build context: a ``Dockerfile`` on an Azure ML inference base image that
installs fastserve's dependencies, copies fastserve into the image and starts it, and an
``environment.yml`` whose ``inference_config`` routes Azure's liveness, readiness and scoring
probes to it. A deployment then uses ``environment: azureml:<name>:<version>`` with its usual
``code_configuration`` (the scoring folder and ``score.py``): Azure mounts the code and the
model and sets ``AML_APP_ROOT``, ``AZUREML_ENTRY_SCRIPT`` and ``AZUREML_MODEL_DIR``, which
fastserve reads as azmlinfsrv does. The YAML is checked with azure-ai-ml's own loader before
anything is written; the folder appears whole or not at all.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import tempfile
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path
from typing import Any

import yaml

from cli.output import print_json
from deploy.errors import ValidationError

__all__ = ["BASE_IMAGE", "IMAGE_DIR", "register", "write_environment"]

BASE_IMAGE = "mcr.microsoft.com/azureml/minimal-py312-inference:latest"
IMAGE_DIR = "/opt/flightdeck/fastserve"
DEFAULT_PORT = 5001
SCHEMA = "https://azuremlschemas.azureedge.net/latest/environment.schema.json"
#: What fastserve and the project's score.py import (versions from Flightdeck's own pins).
RUNTIME_PACKAGES = (
    "httptools", "orjson", "numpy", "onnxruntime", "inference-schema",
    "azureml-inference-server-http",
)  # fmt: skip
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,254}$")

OUT_NOT_EMPTY = "{path} exists and is not empty: choose another --out, or remove it first."
BAD_NAME = "Environment name {name!r} is invalid: letters, digits, '.', '-' and '_'."
BAD_PORT = "--port {port} is not a port number (1-65535)."
NEXT_STEP = (
    "Register it with `az ml environment create --file {yml}`, then deploy with "
    "`environment: azureml:{name}:{version}` and code_configuration pointing at scoring/."
)


def register(subparsers: Any) -> None:
    """Add ``fastserve`` and its verb ``environment``."""
    group = subparsers.add_parser("fastserve", help="serve scoring scripts with fastserve")
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    env = verbs.add_parser(
        "environment", help="write an Azure ML custom-container environment running fastserve"
    )
    env.add_argument("--out", required=True, help="folder to create (must not exist or be empty)")
    env.add_argument("--name", default="flightdeck-fastserve", help="the environment's name")
    env.add_argument("--version", default="1", help="the environment's version")
    env.add_argument("--port", type=int, default=DEFAULT_PORT, help="the container's port")
    env.add_argument("--base-image", default=BASE_IMAGE, help="an Azure ML inference image")
    env.set_defaults(handler=_environment)


def _environment(args: argparse.Namespace) -> int:
    out = Path(args.out).expanduser().resolve()
    write_environment(
        out, name=args.name, version=args.version, port=args.port, base_image=args.base_image
    )
    yml = out / "environment.yml"
    print_json(
        {
            "path": str(out),
            "files": sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()),
            "image": args.base_image,
            "routes": {"liveness": "/", "readiness": "/", "scoring": "/score", "port": args.port},
            "next": NEXT_STEP.format(yml=yml, name=args.name, version=args.version),
        }
    )
    return 0


def write_environment(out: Path, *, name: str, version: str, port: int, base_image: str) -> None:
    """Create ``out`` with Dockerfile, environment.yml, requirements.txt and fastserve/."""
    if not _NAME.match(name):
        raise ValidationError(BAD_NAME.format(name=name))
    if not 1 <= port <= 65535:
        raise ValidationError(BAD_PORT.format(port=port))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValidationError(OUT_NOT_EMPTY.format(path=out))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; a build context is not
        shutil.copytree(
            _fastserve_source(), staging / "fastserve",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )  # fmt: skip
        (staging / "requirements.txt").write_text(_requirements(), encoding="utf-8")
        (staging / "Dockerfile").write_text(dockerfile(base_image, port), encoding="utf-8")
        (staging / "environment.yml").write_text(
            environment_yaml(name=name, version=version, port=port), encoding="utf-8"
        )
        _check_with_azure_loader(staging / "environment.yml")
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def dockerfile(base_image: str, port: int) -> str:
    """The Dockerfile: the base image, fastserve's dependencies, fastserve, its command."""
    command = json.dumps(["python", IMAGE_DIR, "--port", str(port)])
    return (
        "# Written by `flightdeck fastserve environment`: fastserve on an Azure ML inference\n"
        "# image. Azure mounts the deployment's code and model at run time and sets\n"
        "# AML_APP_ROOT, AZUREML_ENTRY_SCRIPT and AZUREML_MODEL_DIR; fastserve reads them.\n"
        f"FROM {base_image}\n"
        "COPY requirements.txt /tmp/fastserve-requirements.txt\n"
        "RUN python -m pip install --no-cache-dir -r /tmp/fastserve-requirements.txt\n"
        f"COPY fastserve {IMAGE_DIR}\n"
        "ENV FASTSERVE_HOST=0.0.0.0\n"
        f"EXPOSE {port}\n"
        f"CMD {command}\n"
    )


def environment_yaml(*, name: str, version: str, port: int) -> str:
    """The environment's YAML: build context here, probes and scoring on fastserve's port."""
    document = {
        "$schema": SCHEMA,
        "name": name,
        "version": version,
        "description": "Scoring scripts served by fastserve (Flightdeck) instead of azmlinfsrv.",
        "build": {"path": ".", "dockerfile_path": "Dockerfile"},
        "inference_config": {
            "liveness_route": {"path": "/", "port": port},
            "readiness_route": {"path": "/", "port": port},
            "scoring_route": {"path": "/score", "port": port},
        },
    }
    return yaml.safe_dump(document, sort_keys=False)


def _requirements() -> str:
    pins: dict[str, str] = {package: package for package in RUNTIME_PACKAGES}
    try:
        for requirement in requires("flightdeck") or []:
            spec = requirement.split(";", 1)[0].strip()
            package = re.split(r"[<>=!~\[ ]", spec, maxsplit=1)[0]
            if package in pins:
                pins[package] = spec.replace(" ", "")
    except PackageNotFoundError:
        pass  # running from a checkout without installing: unpinned names
    return "".join(f"{pin}\n" for pin in pins.values())


def _fastserve_source() -> Path:
    spec = importlib.util.find_spec("scoring.fastserve")
    if spec is None or spec.origin is None:  # pragma: no cover - it ships with the project
        raise ValidationError("The fastserve package (scoring/fastserve) is not installed.")
    return Path(spec.origin).parent


def _check_with_azure_loader(path: Path) -> None:
    """Load the YAML with azure-ai-ml (offline): a bug here must not reach Azure."""
    from azure.ai.ml import load_environment

    environment = load_environment(source=path)
    routes = environment.inference_config
    if routes is None or routes.scoring_route.path != "/score":
        raise AssertionError(f"azure-ai-ml read no scoring route from {path}")
