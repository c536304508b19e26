"""Every user-facing text of the scoring package: HTTP 400 messages and init errors.

Each is a ``str.format`` template (literal braces doubled), always used through ``format``.

Request messages name the place in the body with a JSON path (``data[1][3]``) so that the
sender can find what is wrong without reading our code.
"""

from __future__ import annotations

# --- request body (HTTP 400) -------------------------------------------------------------

USAGE = (
    'send {{"data": [[x1, ..., xK], ...]}} (a batch of rows) or {{"data": [x1, ..., xK]}} (one row)'
)
NO_DATA = 'the request body has no "data" key: ' + USAGE
DATA_NOT_LIST = '"data" must be a list of rows or one row, and got {kind}: ' + USAGE
DATA_EMPTY = '"data" is empty: send at least one row'
MIXED_ROWS = '"data" mixes rows and single values at data[{index}]: ' + USAGE
WIDTH_SINGLE = "expected {expected} features and got {got}"
WIDTH_IN_ROW = "expected {expected} features and got {got} in data[{index}]"
ROW_EMPTY = "data[{index}] is empty: a row needs at least one feature"
RAGGED_ROWS = "rows differ in length: data[0] has {first} features and data[{index}] has {got}"
BATCH_FIXED = "this model takes exactly {expected} row(s) per request, and got {got}"
NOT_A_NUMBER = "{where} is {value}, not a number ({expected})"
NOT_AN_INTEGER = "{where} is {value}, not a whole number ({expected})"
NOT_A_BOOLEAN = "{where} is {value}, not true or false ({expected})"
OUT_OF_RANGE = "{where} is {value}, out of range for {dtype} ({expected})"

EXPECTED_NUMBERS = "the model's input {name!r} takes {onnx_type}"

# --- init (the deployment fails to start; the message is in the inference-server log) ----

MODEL_DIR_UNSET = (
    "AZUREML_MODEL_DIR is not set: the inference server sets it to the folder holding the "
    "deployment's model"
)
MODEL_DIR_MISSING = "AZUREML_MODEL_DIR={path} is not a folder"
NO_ONNX_FILE = (
    "no .onnx file under AZUREML_MODEL_DIR={path}: the deployment's model must contain one "
    "(or set {env} to its path)"
)
MANY_ONNX_FILES = (
    "{count} .onnx files under AZUREML_MODEL_DIR={path} ({files}): set {env} to the one to "
    "serve, e.g. {env}={first}"
)
NAMED_FILE_MISSING = "{env}={value}: no such file under AZUREML_MODEL_DIR={path}"
NAMED_FILE_AMBIGUOUS = (
    "{env}={value} matches {count} files under AZUREML_MODEL_DIR={path} ({files}): "
    "give its path relative to that folder"
)
BAD_CHOICE = "{env}={value!r} is not one of: {choices}"
BAD_COUNT = "{env}={value!r} is not a whole number >= 0"
BAD_SWITCH = "{env}={value!r} is not one of: 1, 0, true, false, yes, no, on, off"
MODEL_UNREADABLE = "cannot load the ONNX model {path}: {reason}"
MANY_INPUTS = (
    "the model {path} has {count} inputs ({names}): this scoring script serves models with one "
    "input of shape [batch, features]"
)
BAD_INPUT_RANK = (
    "the model's input {name!r} has shape {shape}: this scoring script serves inputs of shape "
    "[batch, features]"
)
BAD_INPUT_TYPE = "the model's input {name!r} is {onnx_type}: supported types are {supported}"

# --- log lines --------------------------------------------------------------------------

LOADED = (
    "Loaded ONNX model {path} ({size} bytes, {meta}) with {options}; "
    "input {input}; outputs {outputs}"
)
