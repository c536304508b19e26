"""Errors of the scoring package (domain errors: their message is for the user, as is).

::

    ScoringError
     ├── BadRequest       the request body is wrong: run() answers HTTP 400 with the message
     └── ModelLoadError   init() cannot serve the model: the deployment does not start, and
                          the inference-server log says why

Anything else raised in run() is a bug: the inference server logs its traceback and answers 500.
"""

from __future__ import annotations


class ScoringError(Exception):
    """Base of the scoring package's domain errors; ``str(error)`` is the user's message."""


class BadRequest(ScoringError):
    """The request body cannot be scored (HTTP 400)."""


class ModelLoadError(ScoringError):
    """The model or its settings cannot be loaded (init() fails)."""
