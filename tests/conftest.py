"""Shared fixtures: a real SQLite store in tmp_path."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.store import Store


@pytest.fixture(params=["sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Every repository contract test runs over each storage implementation; SQLite is the
    one we have. A PostgreSQL one is added by extending `params` (e.g. "postgres") and
    yielding a `Store` whose fields are its repositories (`storage.ports`) here; the
    contract tests in tests/storage/test_repos.py then run over both unchanged."""
    assert request.param == "sqlite"
    async with await Store.open(tmp_path / "gateway.db") as opened:
        yield opened


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without the shell's GATEWAY__* variables and GATEWAY_CONFIG: the
    README advises exporting GATEWAY__SMPP__PORT, and a test that inherited it bound the
    wrong port or read the wrong file. Tests that need one set it with monkeypatch."""
    for name in list(os.environ):
        if name.upper().startswith("GATEWAY__") or name.upper() == "GATEWAY_CONFIG":
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _isolated_logging() -> Iterator[None]:
    """Tests that call the CLI's `main()` in-process get its logging set-up (a root
    handler on the stderr of that moment, logger levels); undo it after each test, or
    later tests log through a stale handler that does not know their secrets."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in ("aiohttp.access",
                                                               "aiogram.event", "aiosqlite")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)
