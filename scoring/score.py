"""Flightdeck's ONNX scoring script: Azure ML's init()/run() contract, served by azmlinfsrv.

This folder is a deployment's ``code_configuration.code`` (``scoring_script: score.py``). It is
uploaded alone, so it imports only onnxruntime, numpy, inference-schema and the inference
server, plus its sibling modules. The inference server does not put this folder on
``sys.path`` (it loads the script by file path and adds only ``AML_APP_ROOT``), so the script
adds its own folder before importing them.

Request: ``{"data": [[x1, ..., xK], ...]}`` (a batch) or ``{"data": [x1, ..., xK]}`` (one row).
Answer: ``{"predictions": ..., "latency_ms": ..., "batch_size": N}``; ``predictions`` is the
output's rows, or ``{output name: rows}`` for a model with several outputs. A bad body gets
HTTP 400 with ``{"message": "..."}`` naming what is wrong. Settings: see session_settings.py.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import numpy as np  # noqa: E402
from azureml_inference_server_http.api.aml_response import AMLResponse  # noqa: E402
from inference_schema.parameter_types.numpy_parameter_type import (  # noqa: E402
    NumpyParameterType,
)
from inference_schema.parameter_types.standard_py_parameter_type import (  # noqa: E402
    StandardPythonParameterType,
)
from inference_schema.schema_decorators import input_schema, output_schema  # noqa: E402
from input_rows import to_batch  # noqa: E402
from onnx_session import LoadedModel, load_model  # noqa: E402
from scoring_errors import BadRequest  # noqa: E402

# A child of the inference server's own logger, so lines reach its configured handler.
logger = logging.getLogger("azmlinfsrv.score")

_model: LoadedModel | None = None

# Read by fastserve (ignored by azmlinfsrv) after init(): True declares run() fast and
# thread-safe, so fastserve calls it on its event loop instead of handing it to a worker
# thread. With micro-batching on and no wait, init() sets "alone": run() on the loop when a
# request comes alone or a few together, to the threads when a crowd is ready, where they
# coalesce. With a wait above 0, False: a batching run() that waits for company must not
# hold the loop.
FASTSERVE_INLINE: bool | str = False

# Samples for the swagger document (GET /swagger.json): the sample product recommender.
_INPUT_SAMPLE = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]], dtype=np.float32)
_OUTPUT_SAMPLE = {"predictions": [[0.31, 0.69]], "latency_ms": 0.05, "batch_size": 1}


def init() -> None:
    """Load the ONNX model under AZUREML_MODEL_DIR once per worker; log what was loaded."""
    global _model, FASTSERVE_INLINE
    _model = load_model(os.environ)
    batching = _model.batching
    if not batching.enabled:
        FASTSERVE_INLINE = True
    else:
        FASTSERVE_INLINE = "alone" if batching.max_wait_s == 0 else False
    logger.info(_model.describe())


# convert_to_provided_type=False: the decorators describe the API for swagger, and run()
# checks the body itself, so that a bad one gets a 400 with a clear message instead of a 500.
@input_schema(  # type: ignore[untyped-decorator]
    "data", NumpyParameterType(_INPUT_SAMPLE, enforce_shape=False), convert_to_provided_type=False
)
@output_schema(StandardPythonParameterType(_OUTPUT_SAMPLE))  # type: ignore[untyped-decorator]
def run(data: Any = None) -> dict[str, Any] | AMLResponse:
    """Score a batch or a single row; a bad body gets HTTP 400 with a message."""
    started = time.perf_counter()
    if _model is None:
        raise RuntimeError("run() was called before init()")
    try:
        batch = to_batch(data, _model.input)
    except BadRequest as error:
        return AMLResponse({"message": str(error)}, 400, json_str=True)
    predictions = _model.predict(batch)
    return {
        "predictions": predictions,
        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        "batch_size": int(batch.shape[0]),
    }
