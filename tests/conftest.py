"""Shared fixtures: a real SQLite store in tmp_path."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from storage.store import Store
from tests.stores import pg_url, suite_store

__all__ = ["pg_url"]  # a fresh PostgreSQL database for any test (tests/stores.py)

_PG_LEFT_OUT = pytest.StashKey[int]()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A SQLite store for tests of what runs above the store. The store contract tests
    (tests/storage/, and the repository tests that import `tests.stores`) replace this
    fixture with one over both SQLite and PostgreSQL."""
    async with suite_store(tmp_path) as opened:
        yield opened


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a reachable PostgreSQL (and not under CI=true) its store tests are left
    out, said once in the header (`pytest_report_header`), not once per test."""
    from tests.stores import in_ci, pg_unreachable

    def on_pg(item: pytest.Item) -> bool:
        if "pg_url" in getattr(item, "fixturenames", ()):
            return True
        callspec = getattr(item, "callspec", None)
        return callspec is not None and callspec.params.get("store_kind") == "postgresql"

    if not any(on_pg(item) for item in items) or in_ci() or pg_unreachable() is None:
        return
    left_out = [item for item in items if on_pg(item)]
    items[:] = [item for item in items if not on_pg(item)]
    config.hook.pytest_deselected(items=left_out)
    config.stash[_PG_LEFT_OUT] = len(left_out)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """The one line (also under -q) saying the PostgreSQL store tests did not run."""
    left_out = config.stash.get(_PG_LEFT_OUT, 0)
    if left_out:
        from tests.stores import report_header

        terminalreporter.write_line(f"{report_header()} ({left_out} tests)", yellow=True)


def pytest_report_header(config: pytest.Config) -> str:
    """One line: whether the PostgreSQL store tests run here (tests/stores.py)."""
    from tests.stores import report_header

    return report_header()


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
