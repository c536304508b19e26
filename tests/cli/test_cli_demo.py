"""``flightdeck demo`` (what ``make demo`` runs): idempotent, run again and again on one home."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from samples.product_recommender import reference_predict
from tests.support.flightdeck_cli import (
    EXAMPLE,
    ROW,
    cleaned_up,
    flightdeck_script,
    run_cli,
    run_entry_point,
    write_deployment,
)

pytestmark = pytest.mark.slow(budget=60)


def _example_copy(folder: Path) -> Path:
    """The example with short probes (same models, same scoring code)."""
    folder.mkdir()
    shutil.copy(EXAMPLE / "endpoint.yml", folder / "endpoint.yml")
    for name, version in (("blue", "v1"), ("green", "v2")):
        shutil.copytree(EXAMPLE / f"model-{version}", folder / f"model-{version}")
        write_deployment(
            folder,
            name=name,
            version=version,
            model=folder / f"model-{version}",
            file_name=f"{name}-deployment.yml",
        )
    return folder


def test_demo_converges_and_is_idempotent(tmp_path: Path) -> None:
    examples = _example_copy(tmp_path / "example")
    home = tmp_path / "home"
    ports = ["--router-port", "0", "--control-port", "0"]  # the daemon binds free ones
    demo = ["demo", "--no-console", "--examples", str(examples), *ports]
    with cleaned_up(home):
        first = run_entry_point(*demo, home=home).ok()
        answer = first.json()
        assert answer["traffic"] == {"blue": 100, "green": 0}
        assert answer["status"] == 200 and answer["answered_by"] == "blue"
        expected = reference_predict("v1", np.array([ROW], dtype=np.float32))
        np.testing.assert_allclose(np.array(answer["response"]["predictions"]), expected, 1e-5)
        assert "Deploying blue" in first.stderr and "Deploying green" in first.stderr

        second = run_entry_point(*demo, home=home).ok()
        assert "already running" in second.stderr
        assert "Deployment blue is up to date." in second.stderr
        assert "Deployment green is up to date." in second.stderr
        assert "Deploying" not in second.stderr
        assert second.json()["response"]["predictions"] == answer["response"]["predictions"]

        # A user who shifted traffic and changed green's model: the demo puts both right.
        shift = ["online-endpoint", "update", "-n", "product-recommender"]
        run_cli(*shift, "--traffic", "blue=50 green=50", home=home).ok()
        shutil.copy(examples / "model-v1" / "model.onnx", examples / "model-v2" / "model.onnx")
        third = run_entry_point(*demo, home=home).ok()
        assert "Deployment blue is up to date." in third.stderr
        assert "Deployment green changed: rolling it out ..." in third.stderr
        assert third.json()["traffic"] == {"blue": 100, "green": 0}
        assert third.json()["answered_by"] == "blue"


def test_demo_ends_in_the_console(tmp_path: Path) -> None:
    """Without --no-console the demo hands over to the Slack console, which reads stdin."""
    examples = _example_copy(tmp_path / "example")
    home = tmp_path / "home"
    ports = ["--router-port", "0", "--control-port", "0"]  # the daemon binds free ones
    env = {**os.environ, "FLIGHTDECK_HOME": str(home)}
    for name in ("FLIGHTDECK_BACKEND", "FLIGHTDECK_CONFIG"):
        env.pop(name, None)
    with cleaned_up(home):
        done = subprocess.run(
            [str(flightdeck_script()), "demo", "--examples", str(examples), *ports],
            input="/traffic product-recommender\n",  # end of input ends the console
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        shown = f"stdout: {done.stdout}\nstderr: {done.stderr}"
        assert done.returncode == 0, shown
        assert "Traceback" not in done.stdout + done.stderr, shown
        assert "Opening the Slack console" in done.stderr, shown
        lines = done.stdout.splitlines()
        assert "Try: /traffic product-recommender" in done.stdout, shown
        prompt = "alice@#ml-deploys> /traffic product-recommender"
        assert prompt in lines, shown
        after = lines[lines.index(prompt) + 1 :]
        assert any(line.split()[:2] == ["blue", "100%"] for line in after), shown
        assert any(line.split()[:2] == ["green", "0%"] for line in after), shown
