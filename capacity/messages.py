"""Every user-facing string of the capacity search, in one place."""

from __future__ import annotations

# ----------------------------------------------------------------- option errors
MUST_BE_POSITIVE = "{option} must be above 0, not {value:g}"
ERROR_RATE_RANGE = "--max-error-rate must be between 0% and 100%, not {value:g}%"
START_ABOVE_MAX = "--start-rate {start:g} is above --max-rate {max:g}"
HEADROOM_RANGE = "headroom must be between 0% and 500%, not {value:g}%"
TOTAL_OVER_LIMIT = (
    "the search may take up to {steps} steps of {step:g}s ({total:g}s), above the configured"
    " load-test limit of {limit:g}s: use a shorter --step or a lower --max-rate"
)
NOT_SERVING = (
    "the deployment answered {status} to the search's requests ({count} of {sent}):"
    " no rate can pass. Check the request body (--request-file) and the key."
)

# ----------------------------------------------------------------- steps
PASS = "pass"
FAIL = "fail"
STOPPED_EARLY = "fail (stopped early)"
STEP_HEAD = (
    "  step  offered/s  achieved/s   P50 ms   P99 ms  errors  result",
    "  ----  ---------  ----------  -------  -------  ------  ------",
)
STEP_LINE = (
    "  {n:>4}  {offered:>9.1f}  {achieved:>10.1f}  {p50:>7}  {p99:>7}  {errors:>6}  {result}"
)
PROGRESS_LINE = (
    "step {n} at {offered:g} req/s: {elapsed:.1f}s, sent {sent}, P99 {p99}, errors {errors}"
)
NO_VALUE = "-"

# ----------------------------------------------------------------- answer
LIMITED_BY = {
    "latency": "P99 latency",
    "errors": "errors",
    "rate_cap": "the --max-rate cap (the deployment may serve more)",
}
ANSWER = (
    "{deployment} serves {per_instance:.0f} req/s per instance at P99 ≤ {p99:g} ms"
    " ({total:.0f} req/s on {instances} instance{s}, limited by {limited_by})"
)
ANSWER_NONE = (
    "{deployment} did not meet P99 ≤ {p99:g} ms with errors ≤ {errors:g}% even at {lowest:g} req/s"
)
ANSWER_TARGET = "; for {target:g} req/s with {headroom:g}% headroom: {count} × {sku}"
ANSWER_COST = ", about {cost}/month"
TARGET_FROM_PEAK = (
    "The target is the busiest minute of the last {window} ({rate:.1f} req/s, all deployments)."
)
AUTOSCALE_LINE = (
    "Autoscale: min {min}, max {max}, target utilization {target}% (the knee is at"
    " {knee:.0f}% utilization)"
)
OVER_AZURE_MAX = (
    "{count} instances is above Azure's 50 per deployment: split the traffic over more"
    " deployments or choose a larger instance type"
)
COST_LINE = "Cost: {count} × {sku} at {price} {currency}/hour: {hourly}/hour, {monthly}/month"
COST_UNPRICED = (
    "Cost: {sku} is not in the price table; add it under pricing: in the config"
    " (per hour, in {currency})"
)
PRICES_FROM = "prices: {source}, as of {as_of}"
KNEE_LINE = "At the knee: utilization {utilization}, CPU {cpu}"
NOT_AVAILABLE = "not available"

# ----------------------------------------------------------------- advice
WORKERS_BELOW = (
    "WORKER_COUNT is {workers} but max_concurrent_requests_per_instance is {concurrent}:"
    " requests queue inside the instance behind {workers} worker{s}. Set WORKER_COUNT to"
    " {concurrent}: expected about {expected:.0f} req/s per instance if the model is not"
    " CPU-bound (it was at {cpu} CPU)"
)
WORKERS_ABOVE = (
    "WORKER_COUNT is {workers} but max_concurrent_requests_per_instance is {concurrent}:"
    " the platform answers 429 beyond {limit} requests in flight per instance, so workers"
    " stay idle. Set max_concurrent_requests_per_instance to {workers}: expected about"
    " {expected:.0f} req/s per instance"
)
KNEE_BY_429 = (
    "The knee is set by 429 (too many requests in flight: more than 2 ×"
    " max_concurrent_requests_per_instance × instances), not by latency. Raise"
    " max_concurrent_requests_per_instance and WORKER_COUNT together to {next}: expected"
    " about {expected:.0f} req/s per instance if the model is not CPU-bound (it was at {cpu} CPU)"
)
CPU_BOUND = "; it is CPU-bound at {cpu}: more workers will not help, more instances will"
SCALING = "Scaling: {one:.0f} req/s on 1 instance, {two:.0f} req/s on 2 ({factor:.2f}×)."
SCALING_MODEL = {
    "linear": " Capacity grows with instances: the count uses {one:.0f} req/s per instance.",
    "measured": (
        " A second instance added only {gain:.0f} req/s here ({efficiency:.0%} of linear):"
        " the count assumes each instance past the first adds that much, not {one:.0f} req/s."
    ),
    "flat": (
        " A second instance added next to nothing: on one machine the instances share its"
        " cores, so more instances will not serve more here. The count assumes separate"
        " machines, as Azure's instances are, at {one:.0f} req/s each."
    ),
}
SCALING_SKIPPED_CAPPED = (
    "Scaling not measured: 1 instance already served --max-rate; raise --max-rate to see"
    " what 2 serve."
)
SCALING_SKIPPED_NONE = "Scaling not measured: nothing passed on 1 instance."
TWO_INSTANCES_TABLE = "On 2 instances:"
GENERATOR_LATE = (
    "The load generator sent {late:.0%} of the requests late at {rate:g} req/s: the figure"
    " may be limited by this machine, not the deployment."
)

# ----------------------------------------------------------------- plan (dry run)
PLAN_LINE = (
    "Plan: ramp {ramp} req/s (×{growth:g} each step, stop at the first failing step), then"
    " bisect to {precision:g}%; {step:g}s a step, at most {steps} steps ({total}), at most"
    " {max_rate:g} req/s and {requests} requests in a step"
)

# ----------------------------------------------------------------- chart
CHART_TITLE = "Capacity of {deployment}: P99 and errors against offered rate"
CHART_X = "offered rate (req/s)"
CHART_P99 = "P99 latency (ms)"
CHART_ERRORS = "error rate (%)"
CHART_OBJECTIVE = "objective P99 ≤ {p99:g} ms"
CHART_KNEE = "capacity {rate:.0f} req/s"
CHART_PASS = "passed"
CHART_FAIL = "failed"
