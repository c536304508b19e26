"""Every user-facing text of fastserve: HTTP answers (as azmlinfsrv words them) and log lines.

The HTTP texts are azmlinfsrv's own, word for word, so that a client sees the same answer
from either server; the compatibility suite (tests/scoring/compat/) checks them.
"""

from __future__ import annotations

# --- HTTP answers (azmlinfsrv's wording) -----------------------------------------------------

HEALTHY = "Healthy"
NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually please "
    "check your spelling and try again."
)
METHOD_NOT_ALLOWED = "The method is not allowed for the requested URL."
SCORE_METHOD_NOT_ALLOWED = "Method not allowed"
REQUEST_ID_TOO_LONG = "x-request-id must not exceed {limit} characters"
CLIENT_IDS_TOO_LONG = (
    "x-ms-request-id and x-ms-client-request-id must not exceed {limit} characters"
)
NOT_JSON_CONTENT = "Expects Content-Type to be application/json"
BODY_NOT_JSON = "POST body could not be decoded as JSON: {error}"
BODY_EMPTY = "POST body is empty. Expecting a JSON dictionary."
BODY_NOT_OBJECT = "POST body should be a JSON dictionary."
PARAMETER_MISSING = "A value is not provided for the {name!r} parameter."
NOT_UTF8 = "Input cannot be decoded as UTF-8: {error}"
RUN_FAILED = "An unexpected error occurred in scoring script. Check the logs for more info."
RUN_TIMEOUT = "Scoring timeout after {timeout_ms} ms"
INTERNAL_ERROR = "An unexpected internal error occurred. Check the logs for more info."
SWAGGER_VERSION_INVALID = (
    "Swagger version [{version}] is not valid. Supported versions: [{supported}]."
)
SWAGGER_VERSION_UNSUPPORTED = (
    "Swagger version [{version}] is not supported for the scoring script. "
    "Supported swagger versions: [{supported}]."
)

# --- start-up errors (the process exits; azmlinfsrv's exit code 3 for a script that fails) ---

NO_ENTRY_SCRIPT = (
    "no scoring script: give --entry_script PATH or set AZUREML_ENTRY_SCRIPT "
    "(e.g. --entry_script score.py)"
)
SCRIPT_MISSING = "the scoring script {path} does not exist"
SCRIPT_IMPORT_FAILED = "importing the scoring script {path} failed"
NO_INIT = "the scoring script {path} does not have an init() function defined"
NO_RUN = "the scoring script {path} does not have a run() function defined"
RUN_BAD_PARAMETERS = "run() cannot accept positional-only arguments, *args, or **kwargs."
RUN_ONLY_HEADERS = 'run() needs to accept an argument other than "request_headers".'
RUN_NO_PARAMETER = "run() needs to accept an argument for input data."
RUN_RAW_AND_SCHEMA = "run() cannot be decorated with both @rawhttp and @input_schema"
INIT_FAILED = "the scoring script's init() failed"
BAD_NUMBER = "{name}={value!r} is not a whole number >= {minimum}"
BAD_PORT = "{name}={value!r} is not a port number (1-65535)"
BAD_SWITCH = "{name}={value!r} is not one of: true, false, 1, 0"
PORT_IN_USE = "cannot listen on {host}:{port}: {reason}"
UNIX_SOCKET_FAILED = "cannot listen on the Unix socket {path} (FASTSERVE_UNIX_SOCKET): {reason}"
RAWHTTP_NEEDS_FLASK = (
    "run() is decorated with @rawhttp, which passes a flask request: install "
    "azureml-inference-server-http (it brings flask)"
)

# --- log lines ----------------------------------------------------------------------------------

STARTING = (
    "fastserve {version}: entry script {script}, model dir {model_dir}, {workers} worker thread(s)"
)
FOUND_SCRIPT = "Found user script at {path}"
FOUND_DRIVER = "Found driver script at {path} and the score script at {user}"
PARSER_RAW = (
    "run() is decorated with @rawhttp. Server will invoke it with the flask request object."
)
PARSER_OBJECT = (
    "run() is decorated with @input_schema. Server will invoke it with the following "
    "arguments: {names}."
)
PARSER_STRING = "run() is not decorated. Server will invoke it with the input in JSON string."
INIT_STARTED = "Invoking user's init function"
INIT_DONE = "Users's init has completed successfully"
INIT_TOOK = "init() took {seconds:.3f} s"
LISTENING = "Listening on http://{host}:{port} (liveness GET /, scoring /score, GET /swagger.json)"
RUN_INLINE = (
    "The script declares FASTSERVE_INLINE = True: run() runs on the event loop, not in worker "
    "threads (FASTSERVE_INLINE=false to use threads)"
)
RUN_INLINE_ALONE = (
    "The script declares FASTSERVE_INLINE = 'alone': run() runs on the event loop when a "
    "request comes alone or a few together, in worker threads when a crowd is ready or others "
    "run (FASTSERVE_INLINE=false to use threads always)"
)
RUN_EXCEPTION = "run() raised an exception"
RUN_TIMED_OUT = (
    "run() did not finish within SCORING_TIMEOUT_MS={timeout_ms}: answered 500; the call goes "
    "on in its worker thread until it returns"
)
PROCESSES_STARTED = "Started {count} server processes: {pids}"
CHILD_FAILED_TO_START = "Server process {pid} could not start (exit {code}): stopping all"
CHILD_DIED = "Server process {pid} exited with {code}: starting another"
BAD_REQUEST = "Bad request"
HEAD_TOO_LARGE = "Request header fields too large"
UPGRADE_UNSUPPORTED = "Upgrades are not supported"
UNHANDLED = "unexpected error while answering {method} {path}"
STOPPING = "Stopping on signal {signal}: {pending} request(s) still in flight"
UNUSED_OPTION = "{option} is not used by fastserve: ignored"
CORS_UNSUPPORTED = "AML_CORS_ORIGINS is set, but fastserve does not answer CORS: use azmlinfsrv"
