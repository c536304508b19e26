"""The memory backend keeps az ml's archived flag as the local platform does."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.errors import NotFoundError, ValidationError
from deploy.memory import MemoryBackend


async def test_archive_a_version_then_the_whole_model(tmp_path: Path) -> None:
    backend = MemoryBackend()
    for version in ("1", "2"):
        await backend.register_model("m", version, str(tmp_path))
    await backend.set_model_archived("m", "1", archived=True)
    assert [m.archived for m in await backend.list_models()] == [True, False]
    assert (await backend.get_model("m", "1")).archived
    await backend.set_model_archived("m", None, archived=True)
    assert [m.archived for m in await backend.list_models()] == [True, True]
    with pytest.raises(ValidationError, match="archived as a whole"):
        await backend.set_model_archived("m", "1", archived=False)
    await backend.set_model_archived("m", None, archived=False)
    assert [m.archived for m in await backend.list_models()] == [True, False]
    await backend.set_model_archived("m", "1", archived=False)
    assert [m.archived for m in await backend.list_models()] == [False, False]
    with pytest.raises(NotFoundError):
        await backend.set_model_archived("other", None, archived=True)
    with pytest.raises(NotFoundError):
        await backend.set_model_archived("m", "9", archived=True)
