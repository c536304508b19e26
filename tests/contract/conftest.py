"""The contract suite's fixture: one started backend per test module and backend name."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.contract.backends import FACTORIES, ContractCase


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=sorted(FACTORIES))
async def case(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ContractCase]:
    name: str = request.param
    async with FACTORIES[name](tmp_path_factory.mktemp(name)) as started:
        yield started
