"""Choosing and running a backend from the command line.

``--backend local|azure`` (else $FLIGHTDECK_BACKEND, else the config file's
``backend.name``, else ``local``), built through ``deploy.registry.create_backend``;
each handler's async work runs in ``asyncio.run`` and the backend is closed afterwards::

    parser = subparsers.add_parser("show", parents=[backend_options()])
    endpoint = run_with_backend(args, lambda backend: backend.get_endpoint(args.name))

The backend's settings are merged from three places, the first that sets a key wins:

1. flags: ``--subscription-id``, ``--resource-group``, ``--workspace-name`` (azure),
   ``--home`` where a verb has it (local);
2. the environment: AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE_NAME,
   AZURE_LOG_ANALYTICS_WORKSPACE_ID (azure), FLIGHTDECK_HOME (local);
3. the config file's ``backend:`` options (``--config`` where a verb has it, else
   $FLIGHTDECK_CONFIG, else ``./flightdeck.yml``), when its ``name`` is the chosen backend.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from cli import messages
from cli.output import say
from deploy.backend import Backend
from deploy.errors import DeploymentFailedError, ValidationError
from deploy.local.state.home import HOME_ENV
from deploy.registry import available_backends, create_backend

__all__ = [
    "BACKEND_ENV",
    "DEFAULT_BACKEND",
    "WORKSPACE_FLAGS",
    "backend_name",
    "backend_options",
    "backend_settings",
    "merge_settings",
    "open_backend",
    "resolve_backend",
    "run_with_backend",
]

T = TypeVar("T")

BACKEND_ENV = "FLIGHTDECK_BACKEND"
DEFAULT_BACKEND = "local"
#: Where the config file is looked for when a verb has no ``--config`` (as bot.config does).
_CONFIG_ENV = "FLIGHTDECK_CONFIG"
_DEFAULT_CONFIG = Path("flightdeck.yml")

#: The azure workspace's flags: (flag, setting, environment variable, what it names).
WORKSPACE_FLAGS = (
    ("--subscription-id", "subscription_id", "AZURE_SUBSCRIPTION_ID", "the Azure subscription"),
    (
        "--resource-group",
        "resource_group",
        "AZURE_RESOURCE_GROUP",
        "the workspace's resource group",
    ),
    ("--workspace-name", "workspace_name", "AZUREML_WORKSPACE_NAME", "the Azure ML workspace"),
)
#: The Azure CLI's spellings of the same flags (``az ml ... -g RG -w WS --subscription S``).
_AZ_ALIASES = {
    "--subscription-id": ("--subscription",),
    "--resource-group": ("-g",),
    "--workspace-name": ("-w",),
}
_WORKSPACE_SETTINGS = frozenset(setting for _, setting, _, _ in WORKSPACE_FLAGS)


def _azure_variables() -> Mapping[str, str]:
    from deploy.azure.settings import SETTING_ENV_VARS  # the Azure SDK: only when chosen

    return SETTING_ENV_VARS


#: Per backend: setting -> the environment variable that fills it when no flag does.
_ENVIRONMENT: dict[str, Callable[[], Mapping[str, str]]] = {
    "local": lambda: {"home": HOME_ENV},
    "azure": _azure_variables,
}


def backend_options(*, az: bool = False) -> argparse.ArgumentParser:
    """A parent parser adding ``--backend`` and the azure workspace's flags to a verb.

    ``az``: also the Azure CLI's spellings (``-g``, ``-w``, ``--subscription``) and
    ``--local``, for the verbs that mirror ``az ml``."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--backend",
        default=None,
        metavar="NAME",
        help=f"where endpoints live: {', '.join(available_backends())} "
        f"(default: ${BACKEND_ENV}, else the config file's backend.name, else {DEFAULT_BACKEND})",
    )
    if az:
        _az_local(parent)
    for flag, setting, variable, what in WORKSPACE_FLAGS:
        parent.add_argument(
            flag,
            *(_AZ_ALIASES[flag] if az else ()),
            dest=setting,
            default=None,
            metavar=setting.upper(),
            help=f"azure: {what} (default: ${variable}, else the config file's "
            f"backend.{setting}); accepted and ignored by the local platform",
        )
    return parent


def _az_local(parent: argparse.ArgumentParser) -> None:
    parent.add_argument(
        "--local",
        nargs="?",
        const="true",
        default=None,
        choices=("true", "false"),
        type=str.lower,
        help="the local platform: the same as --backend local (as az ml's --local)",
    )


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given as flags."""
    given = {setting: getattr(args, setting, None) for _, setting, _, _ in WORKSPACE_FLAGS}
    given["home"] = getattr(args, "home", None)
    given["no_wait"] = getattr(args, "no_wait", None)
    return {key: value for key, value in given.items() if value}


def merge_settings(
    name: str,
    *,
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    config_name: str | None = None,
    config_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The settings for backend ``name``: flags, then the environment, then the config file's
    ``backend:`` options (only when the file names this backend)."""
    if name != "azure":  # as az ml --local: the workspace flags are accepted and ignored
        flags = {k: v for k, v in flags.items() if k not in _WORKSPACE_SETTINGS}
    if name != "local":  # --no-wait: only the local platform's client returns early
        flags = {k: v for k, v in flags.items() if k != "no_wait"}
    merged: dict[str, Any] = dict(config_options or {}) if config_name == name else {}
    variables = _ENVIRONMENT.get(name)
    for setting, variable in (variables() if variables is not None else {}).items():
        if environ.get(variable):
            merged[setting] = environ[variable]
    merged.update(flags)
    return merged


def _config_backend(
    args: argparse.Namespace, environ: Mapping[str, str]
) -> tuple[str | None, dict[str, Any]]:
    """The config file's backend name and options; ``(None, {})`` without a file."""
    explicit: str | None = getattr(args, "config", None)
    if not (explicit or environ.get(_CONFIG_ENV) or _DEFAULT_CONFIG.is_file()):
        return None, {}  # no file: skip importing the bot's settings
    from bot.config import load_settings

    backend = load_settings(explicit, environ).backend
    return backend.name, dict(backend.options)


def resolve_backend(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """The chosen backend's name and merged settings (``environ`` defaults to the process's)."""
    env = os.environ if environ is None else environ
    config_name, options = _config_backend(args, env)
    chosen: str | None = getattr(args, "backend", None)
    if getattr(args, "local", None) == "true":
        if chosen not in (None, "local"):
            raise ValidationError(messages.local_and_backend(chosen))
        chosen = "local"
    name = chosen or env.get(BACKEND_ENV) or config_name or DEFAULT_BACKEND
    settings = merge_settings(
        name, flags=_flags(args), environ=env, config_name=config_name, config_options=options
    )
    return name, settings


def backend_name(args: argparse.Namespace) -> str:
    """The backend the user chose."""
    return resolve_backend(args)[0]


def backend_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Settings handed to the chosen backend's factory."""
    return resolve_backend(args)[1]


def open_backend(args: argparse.Namespace) -> Backend:
    """Build the chosen backend (``ValidationError`` for an unknown name or setting)."""
    name, settings = resolve_backend(args)
    return create_backend(name, settings)


def run_with_backend(args: argparse.Namespace, work: Callable[[Backend], Awaitable[T]]) -> T:
    """Run ``work(backend)`` in a fresh event loop, then close the backend."""

    async def main() -> T:
        backend = open_backend(args)
        try:
            return await work(backend)
        finally:
            await backend.aclose()

    try:
        return asyncio.run(main())
    except DeploymentFailedError as exc:
        # The instance's own words come first; main() then prints the one ERROR line.
        if exc.log_lines:
            say(messages.INSTANCE_LOG_HEADER)
            for line in exc.log_lines:
                say(f"  {line}")
        raise
