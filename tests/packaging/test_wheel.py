"""Installable anywhere: the wheel holds everything a command needs, and ``flightdeck demo``
and a CLI flow run from it in a fresh virtual environment, from a folder outside the
repository, with no PYTHONPATH."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from samples.product_recommender import EXAMPLE_FILES, reference_predict
from tests.packaging.wheel_kit import InstalledVenv
from tests.support.flightdeck_cli import REPO, ROW, cleaned_up

# Measured: build 1 s, venv + pip install 55 s, demo 9 s on two idle cores.
pytestmark = pytest.mark.slow(budget=400)


def test_the_wheel_holds_the_packaged_example_and_no_models_or_tests(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in EXAMPLE_FILES:
        assert f"samples/product-recommender/{name}" in names
    assert "bot/offline/console/demo.yml" in names
    assert "base/migrations/script.py.mako" in names
    assert not [n for n in names if n.endswith(".onnx")], "models are made by code at run time"
    assert not [n for n in names if n.split("/")[0] in ("tests", "bench", "examples")]


def test_demo_and_a_cli_flow_run_from_the_installed_wheel(
    installed: InstalledVenv, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "home"
    env = {"FLIGHTDECK_HOME": str(home)}

    version = installed.run("--version", cwd=elsewhere).ok().stdout
    site = next(installed.root.glob("lib/python3*/site-packages"))
    assert version.startswith("flightdeck 0.") and f"installed in {site}" in version

    with cleaned_up(home):
        demo = installed.run(
            "demo", "--no-console", "--router-port", "0", "--control-port", "0",
            cwd=elsewhere, env=env, timeout=240,
        ).ok()  # fmt: skip
        answer = json.loads(demo.stdout)
        assert answer["status"] == 200 and answer["answered_by"] == "blue"
        expected = reference_predict("v1", np.array([ROW], dtype=np.float32))
        np.testing.assert_allclose(np.array(answer["response"]["predictions"]), expected, 1e-5)
        # The example came out of the installed package, laid out in the home.
        laid_out = home / "demo" / "product-recommender"
        assert str(site / "samples" / "product-recommender") in (
            laid_out / "blue-deployment.yml"
        ).read_text(encoding="utf-8")

        # One flow a user runs next: show, shift traffic, invoke the staged deployment.
        shown = installed.run(
            "online-endpoint", "show", "--name", "product-recommender", cwd=elsewhere, env=env
        ).ok()
        assert json.loads(shown.stdout)["traffic"] == {"blue": 100, "green": 0}
        installed.run(
            "online-endpoint", "update", "--name", "product-recommender",
            "--traffic", "blue=50 green=50", cwd=elsewhere, env=env,
        ).ok()  # fmt: skip
        request = elsewhere / "request.json"
        request.write_text(json.dumps({"data": [ROW]}), encoding="utf-8")
        invoked = installed.run(
            "online-endpoint", "invoke", "--name", "product-recommender",
            "--deployment-name", "green", "--request-file", str(request),
            cwd=elsewhere, env=env,
        ).ok()  # fmt: skip
        green = reference_predict("v2", np.array([ROW], dtype=np.float32))
        answer = json.loads(json.loads(invoked.stdout))  # as az ml: the answer as a JSON string
        np.testing.assert_allclose(np.array(answer["predictions"]), green, 1e-5)
        assert not (elsewhere / "examples").exists() and REPO not in elsewhere.parents


def test_examples_folder_matches_the_packaged_specs() -> None:
    """examples/product-recommender (for users of a clone, with committed models) holds the
    same YAML as the packaged copy the wheel ships."""
    for name in EXAMPLE_FILES:
        packaged = (REPO / "samples" / "product-recommender" / name).read_text(encoding="utf-8")
        assert (REPO / "examples" / "product-recommender" / name).read_text(
            encoding="utf-8"
        ) == packaged, name
