"""Generation folders a killed daemon left (staged, never committed, or replaced but not yet
removed) are removed at the next start; those a stored deployment uses stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local.versions import sweep_generations
from deploy.types import EndpointSpec
from tests.deploy.local.platform_kit import deployment_spec, echo_code, running_platform

pytestmark = [pytest.mark.slow(budget=60)]


def leftover(home: Path, *parts: str) -> Path:
    folder = home.joinpath("deployments", *parts)
    (folder / "code").mkdir(parents=True)
    (folder / "code" / "score.py").write_text("# staged by a daemon killed mid-deploy\n")
    return folder


async def test_start_removes_generations_no_deployment_uses(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with running_platform(home) as platform:
        await platform.create_or_update_endpoint(EndpointSpec(name="sweep-ep"))
        await platform.create_or_update_deployment(
            deployment_spec("sweep-ep", "blue", echo_code(tmp_path / "code"))
        )
    live = home / "deployments" / "sweep-ep" / "blue" / "1"
    assert live.is_dir()
    stale = [
        leftover(home, "sweep-ep", "blue", "2"),  # an update staged, never committed
        leftover(home, "sweep-ep", "ghost", "1"),  # a create never committed
        leftover(home, "gone-ep", "blue", "3"),  # an endpoint deleted mid-way
    ]
    async with running_platform(home) as platform:
        assert (await platform.get_deployment("sweep-ep", "blue")).name == "blue"
        assert live.is_dir()
        for folder in stale:
            assert not folder.exists(), folder
        assert not (home / "deployments" / "sweep-ep" / "ghost").exists()
        assert not (home / "deployments" / "gone-ep").exists()


def test_sweep_leaves_what_is_not_a_generation(tmp_path: Path) -> None:
    (tmp_path / "ep" / "blue" / "notes").mkdir(parents=True)
    (tmp_path / "ep" / "blue" / "4").mkdir()
    removed = sweep_generations(tmp_path, {("ep", "blue", 5)})
    assert removed == [tmp_path / "ep" / "blue" / "4"]
    assert (tmp_path / "ep" / "blue" / "notes").is_dir()
