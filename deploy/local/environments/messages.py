"""User-facing text of deployment environments on the local platform, in one place."""

from __future__ import annotations

# ---------------------------------------------------------------- warnings
#: How a warning is logged (``PreparedEnvironment.warnings`` keeps it without the prefix).
WARNING_LINE = "Warning: {warning}"
NO_ENVIRONMENT = "no environment given; using the platform's interpreter ({python})"
REGISTERED_UNAVAILABLE = (
    "environment azureml:{name} is not available locally; using the platform's interpreter "
    "({python})"
)
IMAGE_UNAVAILABLE = (
    "image {image} is not run locally and has no conda file; using the platform's interpreter "
    "({python})"
)
PYTHON_MISSING = (
    "the conda file pins python {pin}, which this machine does not have ({reason}); the "
    "environment uses Python {version} instead (`uv python install {pin}` makes it available "
    "to later builds)"
)

# ---------------------------------------------------------------- notes (progress lines)
IMAGE_IGNORED = "Image {image} is not run locally: its conda file goes into a virtual environment"
CHANNELS_IGNORED = "Conda channels ignored ({channels}): packages come from PyPI"
KEYS_IGNORED = "Conda file keys ignored locally: {keys}"
SELECTORS_IGNORED = "Conda packages without effect locally, ignored: {names}"
TWINS_USED = "Conda packages installed from PyPI: {pairs}"
SERVER_ADDED = (
    "azureml-inference-server-http added: the conda file does not list it, and Azure's "
    "inference images have it"
)
NUMPY_CAPPED = (
    "numpy<2 added as a constraint: {names} was built against numpy 1.x (conda-forge's "
    "repodata has this bound; PyPI's metadata does not)"
)
PYTHON_FOUND = "Python {pin} for the environment: {python}"
ENVIRONMENT_CACHED = "Environment {key} is cached: {path}"
ENVIRONMENT_WAITING = "Environment {key}: waiting for another build of it to finish"
ENVIRONMENT_BUILDING = "Building environment {key} on Python {version}: {requirements}"
ENVIRONMENT_CREATING_VENV = "Creating an isolated virtual environment on {python} (uv)"
ENVIRONMENT_INSTALL = "Resolving and installing {count} requirement(s) with uv"
ENVIRONMENT_READY = "Environment {key} ready in {seconds:.1f} s: {path}"

# ---------------------------------------------------------------- errors
CONDA_FILE_KEY = "environment.conda_file"
CONDA_NOT_MAPPING = "expected a conda environment (a mapping with dependencies:), not {kind}"
CONDA_DEPENDENCIES_NOT_LIST = "dependencies: expected a list, not {kind}"
CONDA_PIP_NOT_LIST = "dependencies: pip: expected a list of requirements, not {kind}"
CONDA_ENTRY_INVALID = "dependencies: '{entry}' is not a conda package spec"
CONDA_ENTRY_UNSUPPORTED = (
    "dependencies: '{entry}': {what} is not supported locally; write the version as "
    "name=1.2, name==1.2.3 or name>=1.2,<2"
)
CONDA_ONLY = (
    "dependencies: {names}: conda-only package(s) with no PyPI equivalent, which the local "
    "platform cannot install; remove them, or list a PyPI package under pip:"
)
PIP_ENTRY_INVALID = "dependencies: pip: '{entry}' is not a valid requirement ({reason})"
PIP_OPTION_FILE = (
    "dependencies: pip: '{entry}' refers to a file, which the local platform cannot read; "
    "list the packages instead"
)
PIP_OPTION_UNSUPPORTED = (
    "dependencies: pip: option '{entry}' is not supported locally (supported: {supported})"
)
PIP_OPTION_VALUE = "dependencies: pip: option '{option}' needs a value"

BASE_PYTHON_FAILED = "The platform's interpreter {python} could not be inspected: {reason}"
VENV_FAILED = "Building the environment {key} failed: {reason}"
UV_FAILED = "Building the environment {key} failed (see the storage-initializer log): {reason}"

# ---------------------------------------------------------------- no-code MLflow deployments
MLFLOW_NO_CODE = (
    "No-code MLflow deployment: Flightdeck's MLflow scoring script serves the model in {folder}"
)
MLFLOW_MODEL_ENVIRONMENT = (
    "Environment from the model's own dependencies ({source}), mlflow as mlflow-skinny "
    "(with numpy<3 and pandas<3, which mlflow brings, where the model does not list them)"
)
MLFLOW_NO_MLMODEL = (
    "model {path}: type mlflow_model, but there is no MLmodel file in it (nor in one folder "
    "in it); give the folder MLflow saved the model to"
)
MLFLOW_NO_ENVIRONMENT = (
    "MLflow model {path} has neither conda.yaml nor requirements.txt; give the deployment "
    "an environment"
)
MLFLOW_ENV_INVALID = "MLflow model's {path} cannot be read: {reason}"
MLFLOW_SCRIPT_MISSING = (
    "the MLflow scoring script (scoring/mlflow_nocode) is not installed with Flightdeck"
)
