"""Which inference server runs a deployment's instances on the local platform.

A deployment picks it with ``FLIGHTDECK_SERVER`` in its ``environment_variables``:
``azmlinfsrv`` (the default: Azure's own server, for fidelity) or ``fast`` (fastserve, the
asyncio server shipped in ``scoring/fastserve``: the same routes and answers, more requests
per core).

    server = deployment_server(spec.environment_variables)   # ValidationError if unknown
"""

from __future__ import annotations

from collections.abc import Mapping

from deploy.errors import ValidationError
from deploy.local import messages as msg

__all__ = ["AZMLINFSRV", "FAST", "SERVERS", "SERVER_ENV", "deployment_server"]

#: The deployment variable that picks the server.
SERVER_ENV = "FLIGHTDECK_SERVER"
AZMLINFSRV = "azmlinfsrv"
FAST = "fast"
#: The servers a deployment may pick, the default first.
SERVERS = (AZMLINFSRV, FAST)


def deployment_server(environment_variables: Mapping[str, str], *, name: str = "") -> str:
    """The server named by ``FLIGHTDECK_SERVER`` (default azmlinfsrv); ``ValidationError``
    naming the value when it is none of ``SERVERS``."""
    value = str(environment_variables.get(SERVER_ENV, AZMLINFSRV)).strip()
    if value not in SERVERS:
        raise ValidationError(
            msg.SERVER_INVALID.format(
                name=name, variable=SERVER_ENV, value=value, choices=" or ".join(SERVERS)
            )
        )
    return value
