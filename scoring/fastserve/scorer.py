"""One /score request, start to end, as synchronous code for a worker thread.

Parse the input, call run(), turn its output into a :class:`Reply`: the event loop only
moves bytes. Every outcome is azmlinfsrv's: 400/415 for input it cannot parse, an empty 200
for OPTIONS, 405 for other methods, 500 with ``x-ms-run-function-failed: True`` when run()
raises, and ``x-ms-run-fn-exec-ms`` (run()'s own time) on every answer run() produced.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from . import messages as msg
from .inputs import Incoming, InputError, UnsupportedMethod, parse_arguments
from .replies import EXEC_MS_HEADER, FAILED_HEADER, TEXT_TYPE, Reply, error_reply, from_output
from .user_script import UserScript

logger = logging.getLogger("fastserve")


@dataclass(frozen=True)
class Scorer:
    """Answers /score requests with the loaded script; thread-safe if run() is."""

    script: UserScript

    def score(self, incoming: Incoming) -> Reply:
        """The answer to ``incoming`` (never raises for the script's or the client's faults)."""
        try:
            arguments = parse_arguments(incoming, self.script)
        except UnsupportedMethod as error:
            if incoming.method == "OPTIONS":
                return Reply(status=200, body=b"", content_type=TEXT_TYPE,
                             headers=[(FAILED_HEADER, "False")])  # fmt: skip
            return error_reply(error.status, str(error))
        except InputError as error:
            return error_reply(error.status, str(error))
        headers = incoming.titled_headers() if self.script.takes_headers else {}
        started = time.perf_counter()
        try:
            output = self.script.run(arguments, headers=headers)
        except Exception:
            logger.exception(msg.RUN_EXCEPTION)
            return error_reply(500, msg.RUN_FAILED, run_failed=True)
        elapsed_ms = (time.perf_counter() - started) * 1000
        reply = from_output(output)
        reply.headers.append((EXEC_MS_HEADER, f"{elapsed_ms:.3f}"))
        return reply
