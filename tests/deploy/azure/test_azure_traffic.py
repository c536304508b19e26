"""Traffic and mirror traffic on Azure: the endpoint PUT carries them; the rules hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.azure import AzureMLBackend
from deploy.errors import ValidationError
from deploy.types import DeploymentSpec, EndpointSpec, ModelRef
from tests.support.fake_arm import FakeArm

ENDPOINT = "product-recommender"


@pytest.fixture
async def blue_green(backend: AzureMLBackend, fake: FakeArm, code_dir: Path) -> FakeArm:
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    await backend.register_model("rec", "1", "azureml://datastores/workspaceblobstore/paths/m/")
    for name in ("blue", "green"):
        await backend.create_or_update_deployment(
            DeploymentSpec(
                name=name,
                endpoint_name=ENDPOINT,
                model=ModelRef(name="rec", version="1"),
                code_path=str(code_dir),
                scoring_script="score.py",
            )
        )
    fake.clear_calls()
    return fake


def last_put(fake: FakeArm) -> dict[str, object]:
    body: dict[str, object] = fake.find("PUT", f"/onlineEndpoints/{ENDPOINT}")[-1].body
    return body


async def test_a_split_is_put_on_the_endpoint(backend: AzureMLBackend, blue_green: FakeArm) -> None:
    endpoint = await backend.set_traffic(ENDPOINT, {"blue": 90, "green": 10})
    assert last_put(blue_green)["properties"]["traffic"] == {"blue": 90, "green": 10}  # type: ignore[index]
    assert endpoint.traffic == {"blue": 90, "green": 10}
    assert (await backend.get_endpoint(ENDPOINT)).traffic == {"blue": 90, "green": 10}


async def test_a_mirror_keeps_the_live_split(backend: AzureMLBackend, blue_green: FakeArm) -> None:
    await backend.set_traffic(ENDPOINT, {"blue": 100})
    endpoint = await backend.set_traffic(ENDPOINT, mirror_traffic={"green": 20})
    props = last_put(blue_green)["properties"]
    assert props["traffic"] == {"blue": 100}  # type: ignore[index]
    assert props["mirrorTraffic"] == {"green": 20}  # type: ignore[index]
    assert endpoint.mirror_traffic == {"green": 20}

    cleared = await backend.set_traffic(ENDPOINT, mirror_traffic={})
    assert last_put(blue_green)["properties"]["mirrorTraffic"] == {}  # type: ignore[index]
    assert cleared.mirror_traffic == {}
    assert cleared.traffic == {"blue": 100}


@pytest.mark.parametrize(
    ("traffic", "mirror", "reason"),
    [
        ({"blue": 90, "green": 20}, None, "sum to 100 .or 0.; these sum to 110"),
        ({"blue": 100, "red": 0}, None, "Deployment 'red' does not exist"),
        ({"blue": 100}, {"green": 60}, "the most is 50%"),
        ({"blue": 50, "green": 50}, {"green": 10}, "a mirror target must take none"),
    ],
)
async def test_rules_are_checked_before_anything_is_put(
    backend: AzureMLBackend,
    blue_green: FakeArm,
    traffic: dict[str, int],
    mirror: dict[str, int] | None,
    reason: str,
) -> None:
    with pytest.raises(ValidationError, match=reason):
        await backend.set_traffic(ENDPOINT, traffic, mirror_traffic=mirror)
    assert not blue_green.find("PUT", f"/onlineEndpoints/{ENDPOINT}")


async def test_live_traffic_to_the_mirror_target_is_refused(
    backend: AzureMLBackend, blue_green: FakeArm
) -> None:
    await backend.set_traffic(ENDPOINT, {"blue": 100}, mirror_traffic={"green": 10})
    with pytest.raises(ValidationError, match="a mirror target must take none"):
        await backend.set_traffic(ENDPOINT, {"blue": 50, "green": 50})


async def test_zero_traffic_is_allowed(backend: AzureMLBackend, blue_green: FakeArm) -> None:
    await backend.set_traffic(ENDPOINT, {"blue": 100})
    endpoint = await backend.set_traffic(ENDPOINT, {})
    assert endpoint.traffic == {}
