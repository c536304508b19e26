"""Every user-facing string of the load-test engine, in one place."""

from __future__ import annotations

# ----------------------------------------------------------------- plan errors
BAD_URL = (
    "target URL {url!r} is not an http:// or https:// URL with a host"
    " (non-ASCII characters must be percent-encoded)"
)
BAD_MODE = "mode must be 'closed' or 'open', not {mode!r}"
CLOSED_NEEDS_REQUESTS = "closed loop needs --requests N (a positive number of requests)"
OPEN_NEEDS_RATE = "open loop needs --rate R (requests per second, above 0)"
OPEN_NEEDS_DURATION = "open loop needs --duration D (e.g. 30s or 2m, above 0)"
BOTH_MODES = "choose --requests N (closed loop) or --rate R --duration D (open loop), not both"
NOT_FOR_MODE = "{option} does not apply to the {mode} loop"
MUST_BE_POSITIVE = "{option} must be above 0, not {value}"
BAD_METHOD = "HTTP method {method!r} is not a token such as POST or GET"
BAD_HEADER_NAME = "header name {name!r} is not a valid HTTP header name"
BAD_HEADER_VALUE = "the value of header {name!r} contains a line break or a non-ASCII character"
BAD_DEPLOYMENT = "deployment name {name!r} is not a valid deployment name"
BAD_CA_FILE = "CA file {path} cannot be used to check https certificates: {reason}"

# ----------------------------------------------------------------- limit errors
OVER_LIMIT = "{option} {value} is above the configured limit of {limit}"
DURATION_OVER_LIMIT = "--duration {value} is above the configured limit of {limit}"
OPEN_TOTAL_OVER_LIMIT = (
    "--rate {rate} for --duration {duration}s makes {total} requests,"
    " above the configured limit of {limit}"
)
NOT_LOOPBACK = (
    "target host {host!r} is not a loopback address: with the local backend only"
    " 127.0.0.0/8, ::1 and localhost may be load tested"
)

# ----------------------------------------------------------------- payload errors
REQUEST_FILE_MISSING = "request file {path} does not exist"
REQUEST_FILE_UNREADABLE = "request file {path} cannot be read: {reason}"
REQUEST_FILE_TOO_BIG = "request file {path} is {size} bytes, above the limit of {limit} bytes"
REQUEST_FILE_NOT_JSON = "request file {path} is not valid JSON: {reason}"
SWAGGER_NO_SAMPLE = (
    "the endpoint's swagger has no sample input (ServiceInput example): pass a request file instead"
)

# ----------------------------------------------------------------- error categories
CONNECTION_ERROR = "connection_error"
TIMEOUT = "timeout"
PROTOCOL_ERROR = "protocol_error"
#: The TLS handshake failed: most often the certificate is not trusted or names another host.
TLS_ERROR = "tls_error"

# ----------------------------------------------------------------- report
TITLE_CLOSED = "Load test: {url}  (closed loop, {requests} requests, concurrency {concurrency})"
TITLE_OPEN = (
    "Load test: {url}  (open loop, {rate} req/s for {duration}s, {concurrency} connections)"
)
TITLE_DEPLOYMENT = "  deployment: {deployment}"
CANCELLED_NOTE = "Cancelled after {elapsed:.1f}s: partial results."
LINE_REQUESTS = "Requests     sent {sent}, completed {completed}, ok {ok}, errors {errors}"
LINE_THROUGHPUT = "Throughput   {throughput:.1f} req/s over {elapsed:.2f}s"
LINE_OPEN_SENDS = "Open loop    late sends (>{late_ms} ms) {late}, dropped sends {dropped}"
LINE_LATENCY_HEAD = "Latency (ms)"
LINE_NO_LATENCY = "Latency      no response received"
LINE_FROM_SEND = (
    "From send    P50 {p50}, P99 {p99} ms (uncorrected: each request's own send,"
    " as wrk and hey time it)"
)
LINE_STATUS_HEAD = "Responses by status"
LINE_ERRORS_HEAD = "Errors"
LATENCY_LABELS = ("P50", "P90", "P95", "P99", "P99.9", "max", "mean")
PROGRESS_LINE = "{elapsed:5.1f}s  sent {sent}  ok {ok}  errors {errors}  P99 {p99}"
PROGRESS_NO_P99 = "-"

# ----------------------------------------------------------------- chart
CHART_DISTRIBUTION_TITLE = "Latency by percentile"
CHART_DISTRIBUTION_X = "percentile"
CHART_TIMELINE_TITLE = "Latency over time"
CHART_TIMELINE_X = "seconds since start"
CHART_LATENCY_Y = "latency (ms)"
CHART_NO_DATA = "no responses"
CHART_RATE = "responses/s"
CHART_SERIES = ("max", "P99", "P50")
