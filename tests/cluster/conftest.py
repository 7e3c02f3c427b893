"""A PostgreSQL database of its own per test (docs/interfaces.md §13). Tests are skipped
where no server answers at 127.0.0.1:5432 (or `GATEWAY_TEST_PG`)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from importlib import resources

import pytest

asyncpg = pytest.importorskip("asyncpg")

ADMIN_DSN = os.environ.get("GATEWAY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _dsn(name: str) -> str:
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """The url of a new, empty database, dropped after the test."""
    try:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"no PostgreSQL at {ADMIN_DSN}: {exc}")
    name = f"gw_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _dsn(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


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
