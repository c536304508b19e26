"""Every user-facing line the Azure ML backend writes: errors and progress."""

from __future__ import annotations

ROLES_HINT = (
    "Flightdeck's identity needs 'AzureML Data Scientist' (or a custom role with the "
    "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/* actions) on the workspace, "
    "'Monitoring Reader' for metrics and 'Monitoring Contributor' for autoscale settings."
)

MISSING_SETTINGS = (
    "The azure backend needs {missing}: set them under 'backend' in the config file, "
    "or in the environment ({env})."
)
BAD_NUMBER = "Setting '{key}' of the azure backend must be a positive number, not {value!r}."

AUTH_FAILED = (
    "Azure did not accept Flightdeck's credentials ({detail}). Sign in with 'az login', or set "
    "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or use a managed identity)."
)
FORBIDDEN = "Azure refused the operation: {detail} " + ROLES_HINT
UNREACHABLE = "Azure ML could not be reached or failed ({detail}). Try again in a minute."
REFUSED = "Azure ML refused the request: {detail}"
OPERATION_FAILED = "Azure ML reports that the operation failed: {detail}"
CONFLICT = "Azure ML reports a conflict: {detail}"
QUOTA = (
    "Not enough quota in the subscription: {detail} Ask for more quota for this VM family "
    "(Azure portal > Azure Machine Learning > Quota) or choose a smaller instance_type or "
    "instance_count."
)

WORKSPACE_NOT_FOUND = (
    "Workspace '{workspace}' was not found in resource group '{resource_group}' of subscription "
    "'{subscription}'. Check the azure backend settings."
)
ENDPOINT_NOT_FOUND = "Endpoint '{endpoint}' does not exist in workspace '{workspace}'."
DEPLOYMENT_NOT_FOUND = "Deployment '{deployment}' does not exist on endpoint '{endpoint}'."
MODEL_PATH_MISSING = "Model path '{path}' does not exist."
MODEL_NOT_FOUND = "Model '{name}:{version}' is not registered in workspace '{workspace}'."
MODEL_ARCHIVE_NOT_SUPPORTED = (
    "Archiving and restoring models is not supported by Flightdeck on Azure yet: "
    "use `az ml model archive/restore` there."
)

DEPLOYMENT_FAILED = "Deployment '{deployment}' of '{endpoint}' failed: {detail}"
DEPLOYMENT_HAS_TRAFFIC = (
    "Deployment '{deployment}' takes {percent}% of {kind} traffic on '{endpoint}': move its "
    "traffic elsewhere before deleting it."
)
NO_KEYS = "Endpoint '{endpoint}' uses {auth_mode} authentication: it has no keys to regenerate."
BAD_KEY_TYPE = "Key type must be 'primary' or 'secondary', not '{key_type}'."
BAD_WINDOW = "A metrics window is between 1 and {longest} minutes, not {minutes}."
BAD_LINES = "Ask for at least one log line, not {lines}."
BAD_INSTANCE_COUNT = "Instance count must be between 1 and {most}, not {count}."
AUTOSCALE_OVERRIDES = (
    "Note: autoscale setting '{setting}' manages '{deployment}' between {low} and {high} "
    "instances and will override this count when its rules fire."
)
AUTH_MODE_FIXED = (
    "Endpoint '{endpoint}' uses auth_mode {current}; it cannot change to {mode} (the auth mode "
    "is chosen when an endpoint is created: delete it and create it again)."
)

AUTOSCALE_LEFT = (
    "Note: autoscale setting '{setting}' could not be deleted (it needs 'Monitoring Contributor'); "
    "its deployment is gone, so it does nothing. Delete it in the Azure portal."
)
AUTOSCALE_NOT_SAVED = (
    "Deployment '{deployment}' of '{endpoint}' is serving, but its autoscale setting was not "
    "saved: {detail}"
)

TIMED_OUT = (
    "{what} is still in progress on Azure after {seconds:.0f} s; Flightdeck stopped waiting. "
    "Check its state later (it may still succeed)."
)
PROGRESS = "{what}: {status} ({seconds:.0f} s)"
INVOKE_FAILED = "Could not call the scoring URI of '{endpoint}': {detail}"
THROTTLED = (
    "Azure is throttling Flightdeck's requests (429 Too Many Requests) and kept doing so after "
    "the retries it asked for: {detail} Try again in a minute; if it persists, poll less often "
    "(alerts.poll_interval)."
)

METRIC_MISSING = (
    "Azure Monitor does not publish the metric {metric} for {resource}: Flightdeck cannot count "
    "its requests. Its metrics are: {known}."
)
METRIC_DIMENSION_MISSING = (
    "Azure Monitor's metric {metric} has no dimension '{dimension}' on {resource} "
    "(it has: {known}); {consequence}"
)
METRIC_AGGREGATION_MISSING = (
    "Azure Monitor's metric {metric} on {resource} supports none of the aggregations Flightdeck "
    "can read ({wanted}); it supports {known}."
)
METRIC_NOT_PUBLISHED = (
    "Azure Monitor does not publish {metric} for {resource}: it stays empty in metrics."
)

UNKNOWN_SETTING = "Unknown setting '{key}' of the azure backend.{hint} Known settings: {known}."
DID_YOU_MEAN = " Did you mean '{key}'?"

LOGS_NOT_CONFIGURED = (
    "No Log Analytics workspace is configured for the azure backend: set "
    "'log_analytics_workspace_id' under 'backend' in the config file (or "
    "AZURE_LOG_ANALYTICS_WORKSPACE_ID) to the Workspace ID of the Log Analytics workspace that "
    "receives the endpoints' diagnostic logs."
)
LOGS_WORKSPACE_NOT_FOUND = (
    "Log Analytics workspace '{workspace}' was not found: check 'log_analytics_workspace_id' "
    "(the Workspace ID, a GUID, from the workspace's Overview page)."
)
LOGS_FORBIDDEN = (
    "Azure refused the Log Analytics query: {detail} Flightdeck's identity needs 'Log Analytics "
    "Reader' (or 'Monitoring Reader') on the Log Analytics workspace."
)
LOGS_TABLE_MISSING = (
    "Log Analytics workspace '{workspace}' has no table {table}: add a diagnostic setting on the "
    "Azure ML workspace that sends the category {table} to it (logs appear a few minutes later)."
)
LOGS_QUERY_FAILED = "The Log Analytics query on {table} failed: {detail}"
LOGS_NOT_INGESTED_YET = (
    "{live} Log Analytics has no console lines of '{deployment}' yet either: it ingests them a "
    "few minutes late. Try again shortly."
)
BAD_TRAFFIC_WINDOW = "A traffic log window is between 1 minute and 30 days, not {window}."
BAD_TRAFFIC_LIMIT = "Ask for between 1 and {most} traffic log records, not {limit}."

STORAGE_ROLE = (
    "The workspace's storage account '{account}' refused Flightdeck's identity ({code}): the "
    "default datastore uses identity-based access, so uploading a model or code folder needs "
    "'Storage Blob Data Contributor' on that storage account (Owner or Contributor alone does "
    "not give access to blob data)."
)
STORAGE_REFUSED = (
    "The workspace's storage account '{account}' refused the upload ({code}). Check the "
    "account's network rules and that shared-key access is allowed, or make the default "
    "datastore identity-based and grant 'Storage Blob Data Contributor' on the account."
)
CANCELED = "{what} was canceled on Azure{by}. Nothing more is waited for; check its state."
CANCELED_BY = " ({detail})"
BUSY_WAITING = (
    "Waiting for the running operation on {target} ({operation}) before {action} "
    "({seconds:.0f} s so far)"
)
STILL_BUSY = (
    "{action} could not start: another operation is still running on {target} after "
    "{seconds:.0f} s ({operation}). Azure allows one change at a time (an autoscale "
    "setting or another user may be changing it); try again when it has finished."
)
