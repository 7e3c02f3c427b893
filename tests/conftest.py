"""Shared fixtures: a real SQLite store in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.store import Store


@pytest.fixture(params=["sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Every repository contract test runs over each storage implementation; SQLite is the
    one we have (a PostgreSQL one would be added to `params`)."""
    assert request.param == "sqlite"
    async with await Store.open(tmp_path / "gateway.db") as opened:
        yield opened
