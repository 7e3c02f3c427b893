"""Fixtures of the quality tests: a real SQLite store in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import matplotlib
import pytest

from storage.store import Store
from tests.stores import suite_store

# No display in tests or on servers: charts are drawn on the Agg canvas.
matplotlib.use("Agg")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with suite_store(tmp_path) as opened:
        yield opened
