"""Names are case-insensitive, as on Azure ML: what create made (lowercased, as azure-ai-ml
does), show, traffic and delete find whatever the case they are given in."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.errors import NotFoundError
from deploy.specs import load_endpoint_spec
from tests.deploy.local.platform_kit import deployment_spec, echo_code, running_platform

pytestmark = [pytest.mark.slow(budget=60)]


async def test_show_and_delete_find_what_create_made(tmp_path: Path) -> None:
    yml = tmp_path / "endpoint.yml"
    yml.write_text("name: Names-Case\nauth_mode: key\n")
    async with running_platform(tmp_path / "home") as platform:
        await platform.create_or_update_endpoint(load_endpoint_spec(yml))
        assert [e.name for e in await platform.list_endpoints()] == ["names-case"]
        assert (await platform.get_endpoint("Names-Case")).name == "names-case"
        code = echo_code(tmp_path / "code")
        await platform.create_or_update_deployment(deployment_spec("NAMES-case", "Blue", code))
        assert (await platform.get_deployment("Names-Case", "BLUE")).name == "blue"
        await platform.set_traffic("Names-Case", {"blue": 100})
        assert (await platform.get_endpoint("names-case")).traffic == {"blue": 100}
        await platform.set_traffic("NAMES-CASE", {"blue": 0})
        await platform.delete_deployment("names-CASE", "Blue")
        assert await platform.list_deployments("names-case") == []
        await platform.delete_endpoint("NAMES-CASE")
        with pytest.raises(NotFoundError):
            await platform.get_endpoint("names-case")
        assert not (tmp_path / "home" / "deployments" / "names-case").exists()
