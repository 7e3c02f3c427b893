"""A PostgreSQL database of its own per test (docs/interfaces.md §13), made and dropped
by the helpers of tests/stores.py (server `GATEWAY_TEST_PG_URL`, skipped where it cannot
be reached, failed under `CI=true`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib import resources

import asyncpg
import pytest

from tests.stores import create_pg_database, database_url, drop_pg_database, require_pg


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """The url of a new, empty database, dropped after the test."""
    require_pg()
    name = await create_pg_database()
    try:
        yield database_url(name)
    finally:
        await drop_pg_database(name)


@pytest.fixture
async def pg_dsn(pg_url: str) -> str:
    """A new database with the cluster's tables only (migration 009), for the parts
    that need no store around them."""
    conn = await asyncpg.connect(pg_url)
    try:
        sql = (resources.files("storage") / "migrations" / "009_cluster.pg.sql").read_text()
        await conn.execute(sql)
    finally:
        await conn.close()
    return pg_url
