"""Conda packages that have a PyPI twin, and what the twin is called on PyPI.

Only packages listed here (or under ``pip:``) can be installed by the local
platform; any other conda package is conda-only (a native library, a CUDA
toolkit, a compiler, MKL...) and makes the environment an error that names it.
Most twins share their name; the others are spelled out in ``RENAMED``.

    >>> pypi_twin("pytorch"), pypi_twin("scikit_learn"), pypi_twin("cudatoolkit")
    ('torch', 'scikit-learn', None)
"""

from __future__ import annotations

from packaging.utils import canonicalize_name

__all__ = ["IGNORED", "RENAMED", "SAME_NAME", "pypi_twin"]

#: Conda name -> PyPI name, where they differ.
RENAMED: dict[str, str] = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-lightgbm": "lightgbm",
    "py-opencv": "opencv-python-headless",
    "opencv": "opencv-python-headless",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "pytables": "tables",
    "python-graphviz": "graphviz",
    "ruamel_yaml": "ruamel.yaml",
    "tensorflow-base": "tensorflow",
}

#: Conda packages whose PyPI twin has the same (normalized) name.
SAME_NAME: frozenset[str] = frozenset(
    {
        "accelerate",
        "attrs",
        "azure-identity",
        "azure-storage-blob",
        "beautifulsoup4",
        "bokeh",
        "bottleneck",
        "catboost",
        "certifi",
        "cffi",
        "charset-normalizer",
        "click",
        "cloudpickle",
        "cryptography",
        "cython",
        "dask",
        "datasets",
        "dill",
        "distributed",
        "duckdb",
        "einops",
        "fastapi",
        "flask",
        "fonttools",
        "fsspec",
        "gensim",
        "gunicorn",
        "h5py",
        "huggingface-hub",
        "hyperopt",
        "idna",
        "imageio",
        "imbalanced-learn",
        "jax",
        "jaxlib",
        "jinja2",
        "joblib",
        "keras",
        "kiwisolver",
        "lightning",
        "lightgbm",
        "llvmlite",
        "lxml",
        "markupsafe",
        "matplotlib",
        "mlflow",
        "networkx",
        "nltk",
        "numba",
        "numexpr",
        "numpy",
        "onnx",
        "onnxruntime",
        "openpyxl",
        "optuna",
        "orjson",
        "packaging",
        "pandas",
        "pillow",
        "plotly",
        "pmdarima",
        "polars",
        "prophet",
        "protobuf",
        "py-cpuinfo",
        "psutil",
        "pyarrow",
        "pydantic",
        "pyparsing",
        "python-dateutil",
        "pytorch-lightning",
        "pytz",
        "pyyaml",
        "regex",
        "requests",
        "ruamel.yaml",
        "safetensors",
        "scikit-image",
        "scikit-learn",
        "scipy",
        "seaborn",
        "sentencepiece",
        "setuptools",
        "shap",
        "six",
        "spacy",
        "sqlalchemy",
        "statsmodels",
        "sympy",
        "tabulate",
        "tensorboard",
        "tensorflow",
        "threadpoolctl",
        "tifffile",
        "timm",
        "tokenizers",
        "toolz",
        "torchaudio",
        "torchvision",
        "tqdm",
        "transformers",
        "typing-extensions",
        "tzdata",
        "ujson",
        "urllib3",
        "uvicorn",
        "werkzeug",
        "wheel",
        "xgboost",
        "xlrd",
    }
)

#: Conda packages that only select a build variant and do nothing locally.
IGNORED: frozenset[str] = frozenset({"cpuonly", "nomkl"})

_RENAMED = {canonicalize_name(k): v for k, v in RENAMED.items()}


def pypi_twin(conda_name: str) -> str | None:
    """The PyPI name of a conda package, or ``None`` when it is conda-only."""
    name = canonicalize_name(conda_name)
    if name in _RENAMED:
        return _RENAMED[name]
    if name in SAME_NAME:
        return name
    return None
