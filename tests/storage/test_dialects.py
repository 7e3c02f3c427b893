"""Two dialects, one schema history (docs/interfaces.md §13): placeholders translated for
PostgreSQL, the migration files of both dialects, store urls, and what a store of either
kind does on open, migrate, transactions and reading commands."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from storage.db import Database, latest_version, migration_files, migrations
from storage.open import StoreMissingError, StoreTarget, open_database, parse_store_url
from storage.pg import _rowcount, mask_url, to_pg
from tests.stores import DbMaker


@pytest.mark.parametrize(
    ("sql", "expected", "names"),
    [
        ("SELECT 1", "SELECT 1", ()),
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2", ()),
        ("UPDATE t SET a = :a WHERE b = :b OR c = :a",
         "UPDATE t SET a = $1 WHERE b = $2 OR c = $1", ("a", "b")),
        ("SELECT '?', 'it''s ?', ? FROM t", "SELECT '?', 'it''s ?', $1 FROM t", ()),
        ("SELECT \"odd?name\" FROM t WHERE x = ?", "SELECT \"odd?name\" FROM t WHERE x = $1", ()),
        ("SELECT '10:00', x::text FROM t WHERE y = :y",
         "SELECT '10:00', x::text FROM t WHERE y = $1", ("y",)),
        ("SELECT json_extract(p, '$.digest') = ?", "SELECT json_extract(p, '$.digest') = $1", ()),
        ("SELECT 1 -- what? :no\nWHERE a = ?", "SELECT 1 -- what? :no\nWHERE a = $1", ()),
        ("SELECT /* ? :x */ ?", "SELECT /* ? :x */ $1", ()),
        ("INSERT INTO t VALUES (?, ?, ?) RETURNING id",
         "INSERT INTO t VALUES ($1, $2, $3) RETURNING id", ()),
    ],
)
def test_to_pg(sql: str, expected: str, names: tuple[str, ...]) -> None:
    assert to_pg(sql) == (expected, names)


def test_to_pg_refuses_mixed_placeholders() -> None:
    with pytest.raises(ValueError, match="both"):
        to_pg("SELECT ? WHERE a = :a")


@pytest.mark.parametrize(
    ("status", "count"),
    [("UPDATE 3", 3), ("INSERT 0 1", 1), ("DELETE 0", 0), ("CREATE TABLE", -1)],
)
def test_rowcount_from_the_command_status(status: str, count: int) -> None:
    assert _rowcount(status) == count


def test_migration_files_of_both_dialects() -> None:
    files = migration_files()
    shared = [version for version, _ in files["shared"]]
    assert shared == list(range(1, len(shared) + 1))  # numbered without gaps
    names = {name.removesuffix(".sql") for _, name in files["shared"]}
    for _, pg_name in files["pg"]:
        assert pg_name.removesuffix(".pg.sql") in names, f"{pg_name} has no shared twin"
    assert latest_version() == len(shared)
    sqlite_sql = {v: sql for v, _, sql in migrations("sqlite")}
    pg_sql = {v: sql for v, _, sql in migrations("postgresql")}
    assert sqlite_sql.keys() == pg_sql.keys()
    # What only SQLite reads never reaches PostgreSQL.
    for sql in pg_sql.values():
        code = re.sub(r"--[^\n]*", "", sql)
        assert not re.search(r"\bAUTOINCREMENT\b|\bBLOB\b|\bINTEGER PRIMARY KEY\b", code)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", None),
        ("sqlite:///var/g.db", StoreTarget("sqlite", path=Path("var/g.db"))),
        ("sqlite:////srv/g.db", StoreTarget("sqlite", path=Path("/srv/g.db"))),
        ("postgresql://gw@db.local:5433/gateway",
         StoreTarget("postgresql", url="postgresql://gw@db.local:5433/gateway")),
        ("postgres://gw@db/gateway", StoreTarget("postgresql", url="postgres://gw@db/gateway")),
    ],
)
def test_store_urls(url: str, expected: StoreTarget | None) -> None:
    assert parse_store_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["mysql://u:s3cret@h/d", "postgresql://u:s3cret@h/", "postgresql://u:s3cret@/d",
     "sqlite:///", "sqlite://rel.db", "postgresql://u:s3cret@h:port/d"],
)
def test_bad_store_urls_never_show_the_password(url: str) -> None:
    with pytest.raises(ValueError, match=r".") as caught:
        parse_store_url(url)
    assert "s3cret" not in str(caught.value)


def test_mask_url() -> None:
    assert mask_url("postgresql://gw:s3cret@db:5432/g") == "postgresql://gw:***@db:5432/g"
    assert mask_url("postgresql://gw@db/g") == "postgresql://gw@db/g"


async def test_reopening_migrates_nothing_and_counts_every_version(make_db: DbMaker) -> None:
    async with make_db() as db:
        assert await db.schema_version() == latest_version()
    async with make_db() as db:
        assert await db.migrate() == latest_version()
        assert await db.fetchval("SELECT count(*) FROM accounts") == 0


async def test_nested_transactions_join_and_roll_back_together(db: Database) -> None:
    async def both_then_fail() -> None:
        async with db.transaction():
            await db.execute(
                "INSERT INTO audit_log (actor, action, subject, at) VALUES (?, ?, ?, ?)",
                ("t", "a", "s", "2026-01-01"),
            )
            async with db.transaction():
                await db.execute(
                    "INSERT INTO audit_log (actor, action, subject, at) VALUES (?, ?, ?, ?)",
                    ("t", "b", "s", "2026-01-01"),
                )
            raise RuntimeError("undo both")

    with pytest.raises(RuntimeError, match="undo both"):
        await both_then_fail()
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 0


async def test_statements_of_other_tasks_stay_out_of_a_transaction(db: Database) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    async def writer() -> None:
        async with db.transaction():
            await db.execute(
                "INSERT INTO audit_log (actor, action, subject, at) VALUES (?, ?, ?, ?)",
                ("t", "rolled back", "s", "2026-01-01"),
            )
            inside.set()
            await release.wait()
            raise RuntimeError("roll back")

    task = asyncio.create_task(writer())
    await inside.wait()
    other = asyncio.create_task(db.execute(
        "INSERT INTO audit_log (actor, action, subject, at) VALUES (?, ?, ?, ?)",
        ("t", "kept", "s", "2026-01-01"),
    ))
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(RuntimeError, match="roll back"):
        await asyncio.wait_for(task, 10)
    await asyncio.wait_for(other, 10)
    rows = await db.fetchall("SELECT action FROM audit_log")
    assert [r["action"] for r in rows] == ["kept"]


async def test_iterate_reads_every_row_in_pages(db: Database) -> None:
    await db.executemany(
        "INSERT INTO audit_log (actor, action, subject, at) VALUES (?, ?, ?, ?)",
        [("t", f"a{i:03d}", "s", "2026-01-01") for i in range(25)],
    )
    got = [r["action"] async for r in db.iterate(
        "SELECT action FROM audit_log WHERE actor = ? ORDER BY id", ("t",), page=7)]
    assert got == [f"a{i:03d}" for i in range(25)]


async def test_new_ids_come_from_returning(db: Database) -> None:
    first = await db.fetchval(
        "INSERT INTO campaigns (kind, created_at) VALUES (?, ?) RETURNING id", ("x", "t")
    )
    second = await db.fetchval(
        "INSERT INTO campaigns (kind, created_at) VALUES (?, ?) RETURNING id", ("x", "t")
    )
    assert second == first + 1
    assert await db.execute("UPDATE campaigns SET title = :t", {"t": "n"}) == 2


async def test_a_reading_command_refuses_an_empty_store_and_creates_nothing(
    make_db: DbMaker, store_kind: str
) -> None:
    location = make_db.target("empty")
    target = (StoreTarget("sqlite", path=Path(location)) if store_kind == "sqlite"
              else StoreTarget("postgresql", url=location))
    with pytest.raises(StoreMissingError, match="does not exist|empty"):
        await open_database(target, create=False)
    if store_kind == "sqlite":
        assert not await asyncio.to_thread(Path(location).exists)
    db = await open_database(target, create=True)
    await db.close()
    db = await open_database(target, create=False)
    try:
        assert await db.schema_version() == latest_version()
    finally:
        await db.close()
