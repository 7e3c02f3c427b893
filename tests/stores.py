"""Fresh stores of either kind for the store contract tests (docs/interfaces.md §13).

`store_kind` runs a test over SQLite and PostgreSQL. The PostgreSQL variant creates its
own database (`gw_<12 hex>`) on the server `GATEWAY_TEST_PG_URL` names (default
`postgresql://postgres@127.0.0.1:5432/postgres`) and drops it afterwards, so parallel
tests never share one. When that server cannot be reached, the PostgreSQL variants are
left out (deselected, tests/conftest.py) with one line in the pytest header, except
under `CI=true`, where they fail naming the url: CI must not pass without them.

A test module or conftest uses them by importing the fixtures:
`from tests.stores import db, make_db, store, store_kind  # noqa: F401`.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from storage.db import Database, SqliteDatabase
from storage.open import StoreTarget
from storage.pg import PgDatabase, mask_url
from storage.store import Store

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
STORE_KINDS = ("sqlite", "postgresql")


def pg_admin_url() -> str:
    return os.environ.get("GATEWAY_TEST_PG_URL") or DEFAULT_PG_URL


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _run(coro_factory: Callable[[], object]) -> object:
    """Run a coroutine to completion in a thread of its own (callable from inside a
    running event loop, e.g. an async fixture)."""
    result: list[object] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro_factory()))  # type: ignore[arg-type]
        except BaseException as exc:  # handed to the caller
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    if failure:
        raise failure[0]
    if not result:
        raise TimeoutError("the PostgreSQL check did not finish in 30 s")
    return result[0]


@cache
def pg_unreachable() -> str | None:
    """Why the test PostgreSQL server cannot be used, or None when it can (checked once)."""

    async def check() -> None:
        conn = await asyncpg.connect(pg_admin_url(), timeout=5)
        await conn.close()

    try:
        _run(check)
    except Exception as exc:  # any failure: the reason goes into the one skip line
        return f"{type(exc).__name__}: {exc}".replace(pg_admin_url(), mask_url(pg_admin_url()))
    return None


def require_pg() -> None:
    """Skip (or under CI=true fail) the calling test when PostgreSQL is unreachable."""
    reason = pg_unreachable()
    if reason is None:
        return
    where = mask_url(pg_admin_url())
    if in_ci():
        pytest.fail(f"PostgreSQL tests: cannot reach {where} under CI=true: {reason}")
    pytest.skip(f"PostgreSQL unreachable at {where} (set GATEWAY_TEST_PG_URL)")


def database_url(name: str) -> str:
    """The admin url with its database replaced by `name`."""
    return urlunsplit(urlsplit(pg_admin_url())._replace(path=f"/{name}"))


async def create_pg_database() -> str:
    name = f"gw_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(pg_admin_url(), timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_pg_database(name: str) -> None:
    assert name.startswith("gw_"), name  # only what these helpers created
    conn = await asyncpg.connect(pg_admin_url(), timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class DbMaker:
    """`make_db(name)`: a store of the test's kind, not opened; the same name gives the
    same store again (reopening), a new name another one. PostgreSQL databases are
    dropped at the end of the test."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.created: dict[str, str] = {}

    def target(self, name: str = "g") -> str:
        """The SQLite path or the PostgreSQL url of store `name` (created if new)."""
        if self.kind == "sqlite":
            return str(self.tmp_path / f"{name}.db")
        if name not in self.created:
            self.created[name] = str(_run(create_pg_database))
        return database_url(self.created[name])

    def __call__(self, name: str = "g", *, migrate: bool = True) -> Database:
        if self.kind == "sqlite":
            return SqliteDatabase(self.target(name), migrate=migrate)
        return PgDatabase(self.target(name), min_size=1, max_size=4, migrate=migrate)

    def cleanup(self) -> None:
        for database in self.created.values():
            _run(lambda database=database: drop_pg_database(database))  # type: ignore[misc]
        self.created.clear()


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    kind = str(request.param)
    if kind == "postgresql":
        require_pg()
    return kind


@pytest.fixture
def make_db(store_kind: str, tmp_path: Path) -> Iterator[DbMaker]:
    maker = DbMaker(store_kind, tmp_path)
    try:
        yield maker
    finally:
        maker.cleanup()


@pytest.fixture
async def db(make_db: DbMaker) -> AsyncIterator[Database]:
    """A fresh, migrated store of the test's kind."""
    async with make_db() as opened:
        yield opened


@pytest.fixture
async def store(db: Database) -> Store:
    """Every repository over a fresh store of the test's kind."""
    return Store.over(db)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The url of a fresh, empty PostgreSQL database (dropped afterwards); for tests
    that only make sense on PostgreSQL (its CLI, `gateway run` on it)."""
    require_pg()
    name = str(_run(create_pg_database))
    try:
        yield database_url(name)
    finally:
        _run(lambda: drop_pg_database(name))


@asynccontextmanager
async def suite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """The store of the tests above the store layer: SQLite in tmp_path, or a fresh
    PostgreSQL database when `GATEWAY_TEST_STORE=postgresql` (the whole suite on PG)."""
    if os.environ.get("GATEWAY_TEST_STORE", "sqlite") != "postgresql":
        async with await Store.open(tmp_path / "gateway.db") as opened:
            yield opened
        return
    require_pg()
    name = await create_pg_database()
    try:
        async with await Store.open(
            StoreTarget("postgresql", url=database_url(name))
        ) as opened:
            yield opened
    finally:
        await drop_pg_database(name)


def report_header() -> str:
    """One line for `pytest_report_header`: whether the PostgreSQL tests run."""
    where = mask_url(pg_admin_url())
    reason = pg_unreachable()
    if reason is None:
        return f"PostgreSQL store tests: on {where}"
    if in_ci():
        return f"PostgreSQL store tests: FAIL (CI=true), {where} unreachable: {reason}"
    return (
        f"PostgreSQL store tests: SKIPPED (deselected), {where} unreachable: {reason}; "
        "set GATEWAY_TEST_PG_URL"
    )
