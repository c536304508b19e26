"""The contract suite's fixture: one started backend per test module and backend name."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.contract.backends import FACTORIES, ContractCase

#: Cases that start processes (instances, the daemon): slow, with their budget in seconds.
SLOW_CASES = {"local": 30, "local-daemon": 30}


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=[
        pytest.param(name, marks=[pytest.mark.slow(budget=SLOW_CASES[name])])
        if name in SLOW_CASES
        else name
        for name in sorted(FACTORIES)
    ],
)
async def case(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ContractCase]:
    name: str = request.param
    async with FACTORIES[name](tmp_path_factory.mktemp(name)) as started:
        yield started
