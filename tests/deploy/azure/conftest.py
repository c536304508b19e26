"""Fixtures: the real Azure SDK clients against the fake ARM service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from deploy.azure import AzureMLBackend, create_azure_backend
from tests.support.fake_arm import FakeArm
from tests.support.fake_arm_http import FakeCredential
from tests.support.fake_scoring import FakeScoring


@pytest.fixture
def fake() -> FakeArm:
    return FakeArm()


@pytest.fixture
def scoring(fake: FakeArm) -> Iterator[FakeScoring]:
    server = FakeScoring(fake).start()
    yield server
    server.stop()


@pytest.fixture
async def backend(fake: FakeArm, scoring: FakeScoring) -> AsyncIterator[AzureMLBackend]:
    azure = create_azure_backend(
        {
            "subscription_id": fake.subscription_id,
            "resource_group": fake.resource_group,
            "workspace_name": fake.workspace,
            "credential": FakeCredential(),
            "transport": fake,
            "progress_interval": 0.05,
            "operation_timeout": 30,
        },
        environ={},
    )
    yield azure
    await azure.aclose()


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    """A scoring code folder (the SDK parses score.py before deploying it)."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "score.py").write_text(
        "import json\n\n\ndef init():\n    pass\n\n\ndef run(raw):\n    return json.loads(raw)\n"
    )
    return folder
