"""Fixtures for the scoring package's tests.

The scoring folder has no __init__.py: Azure uploads it alone, the inference server loads
score.py by file path, and score.py puts its own folder on sys.path. The in-process unit
tests do the same, so they import its modules by the same top-level names.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from samples import product_recommender
from tests.scoring.helpers import SCORING_DIR

if str(SCORING_DIR) not in sys.path:
    sys.path.insert(0, str(SCORING_DIR))


@pytest.fixture(scope="session")
def sample_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding model-v1/model.onnx and model-v2/model.onnx, built by code."""
    folder = tmp_path_factory.mktemp("sample-models")
    product_recommender.write_models(folder)
    return folder
