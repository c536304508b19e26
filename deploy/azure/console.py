"""Keep azure-ai-ml's console chatter out of Flightdeck's output and logs.

azure-ai-ml writes to the terminal on its own: its pollers print a dot to stdout on
every poll (``_utils/_azureml_polling.AzureMLPolling.update_status``), an upload prints
a colour reset to stderr (``_artifacts/_blob_storage_helper``), and at import it gives
its ``azure.ai.ml`` logger a stderr handler at INFO that does not propagate, so lines
such as "Check: endpoint X exists" reach stderr whatever the application's logging
says. In the bot they garble the console; in the CLI they corrupt the JSON on stdout.

``quiet_sdk_console()`` (idempotent, called whenever the backend builds or uses
MLClient) takes those handlers away and lets the SDK's loggers propagate at WARNING,
so its warnings still reach Flightdeck's own logging (its activity log, which only
repeats failures Flightdeck gets as exceptions, is dropped), and silences the two
``print`` calls in the modules that make them (only there: nothing else prints less).
Errors are not affected: they are raised as exceptions and reported by the backend.
Progress bars are turned off with ``MLClient(show_progress=False)``.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

__all__ = ["quiet_sdk_console"]

_SDK_LOGGER = "azure.ai.ml"
#: The SDK's activity log ("ActivityStarted", and an ERROR for every expected 404): its
#: failures reach Flightdeck as exceptions, so the log only repeats them.
_TELEMETRY_LOGGER = "azure.ai.ml._telemetry"
#: Modules of azure-ai-ml that ``print`` to the console as a side effect.
_PRINTING_MODULES = (
    "azure.ai.ml._utils._azureml_polling",
    "azure.ai.ml._artifacts._blob_storage_helper",
)
_silenced: set[str] = set()
_loggers_seen = -1


def _silent_print(*args: Any, **kwargs: Any) -> None:
    """What the SDK's dots and colour resets are written to: nowhere."""


def quiet_sdk_console() -> None:
    """Route azure-ai-ml's console output into logging at WARNING (see the module doc)."""
    global _loggers_seen
    manager = logging.Logger.manager
    root = logging.getLogger(_SDK_LOGGER)
    if len(manager.loggerDict) == _loggers_seen and root.propagate and not root.handlers:
        return  # nothing new since the last call
    _loggers_seen = len(manager.loggerDict)
    for name in [_SDK_LOGGER, _TELEMETRY_LOGGER, *manager.loggerDict]:
        if not (name == _SDK_LOGGER or name.startswith(_SDK_LOGGER + ".")):
            continue
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            # The SDK's own console handlers (initialize_logger_info); files etc. stay.
            if type(handler) is logging.StreamHandler:
                logger.removeHandler(handler)
        if name == _TELEMETRY_LOGGER:
            logger.setLevel(logging.CRITICAL)
        elif name == _SDK_LOGGER or logger.level == logging.INFO:
            logger.setLevel(logging.WARNING)
        logger.propagate = True
    for module_name in _PRINTING_MODULES:
        if module_name in _silenced:
            continue
        module = importlib.import_module(module_name)
        module.print = _silent_print  # type: ignore[attr-defined]
        _silenced.add(module_name)
