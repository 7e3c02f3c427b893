"""The store: the `Database` port and its SQLite implementation; versioned migrations.

`Database` is what repositories are typed against (docs/interfaces.md §13: `[storage] url`
chooses SQLite or PostgreSQL). SQL is written once with `?` (or `:name`) placeholders;
the PostgreSQL implementation (`storage.pg.PgDatabase`) translates them.

Migrations are the numbered files in `storage/migrations/` (`001_core.sql`, …), applied
in order inside one transaction each. An optional `NNN_name.pg.sql` next to a file
replaces it on PostgreSQL (identity keys, BYTEA). SQLite records the version in
`PRAGMA user_version`, PostgreSQL in the table `schema_version`.

`SqliteDatabase` keeps one aiosqlite connection that serialises every statement on its
own thread: SQLite allows one writer anyway, and one connection makes that explicit.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION = re.compile(r"^(\d{3})_[a-z0-9_]+(\.pg)?\.sql$")

Params = Sequence[Any] | dict[str, Any]

DIALECTS = ("sqlite", "postgresql")


class Row(Protocol):
    """A result row: `row["name"]` and `row[0]` (aiosqlite.Row and asyncpg.Record)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...

    def __len__(self) -> int: ...


class Database(Protocol):
    """An open store (docs/interfaces.md §13). `async with db:` opens and closes it.

    `execute` returns the rowcount on both stores; a new row's id comes from
    `fetchval("INSERT … RETURNING id")` (SQLite 3.35+ and PostgreSQL alike).
    `transaction()` runs the statements of the calling task inside it in one
    transaction; nested use joins the outer one."""

    dialect: str

    async def open(self) -> Self: ...

    async def close(self) -> None: ...

    @property
    def is_open(self) -> bool: ...

    def interrupt(self) -> None: ...

    async def migrate(self) -> int: ...

    async def schema_version(self) -> int: ...

    async def execute(self, sql: str, params: Params = ()) -> int: ...

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Any]: ...

    async def fetchone(self, sql: str, params: Params = ()) -> Any | None: ...

    async def fetchval(self, sql: str, params: Params = ()) -> Any: ...

    def iterate(
        self, sql: str, params: Params = (), *, page: int = 1000
    ) -> AsyncIterator[Any]: ...

    def transaction(self) -> AbstractAsyncContextManager[None]: ...

    async def ping(self) -> bool: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def to_db(moment: datetime) -> str:
    """An aware datetime as a UTC ISO string (string order is time order)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text)


def from_db_opt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def migration_files() -> dict[str, list[tuple[int, str]]]:
    """The shipped migration file names by kind: "shared" (`NNN_name.sql`) and "pg"
    (`NNN_name.pg.sql`), each as sorted (version, name)."""
    found: dict[str, list[tuple[int, str]]] = {"shared": [], "pg": []}
    for entry in (resources.files("storage") / "migrations").iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found["pg" if match[2] else "shared"].append((int(match[1]), entry.name))
    for names in found.values():
        names.sort()
    return found


def migrations(dialect: str = "sqlite") -> list[tuple[int, str, str]]:
    """(version, name, sql) of every shipped migration for `dialect`, in order: on
    PostgreSQL a `.pg.sql` file replaces its shared twin."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}")
    files = migration_files()
    versions = [version for version, _ in files["shared"]]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations must be numbered 001.. without gaps: {versions}")
    shared = {version: name for version, name in files["shared"]}
    pg = {version: name for version, name in files["pg"]}
    for version, name in pg.items():
        if shared.get(version, "").removesuffix(".sql") != name.removesuffix(".pg.sql"):
            raise RuntimeError(f"migration {name} has no shared twin")
    folder = resources.files("storage") / "migrations"
    chosen = []
    for version, shared_name in files["shared"]:
        name = pg[version] if dialect == "postgresql" and version in pg else shared_name
        chosen.append((version, name, (folder / name).read_text(encoding="utf-8")))
    return chosen


def latest_version() -> int:
    return len(migration_files()["shared"])


async def insert_id(db: Database, sql: str, params: Params = ()) -> int:
    """Run an INSERT of one row; return the new row's `id`, or 0 when nothing was
    inserted (ON CONFLICT DO NOTHING). `RETURNING id` works on SQLite and PostgreSQL."""
    return int(await db.fetchval(f"{sql} RETURNING id", params) or 0)


class IntegrityError(Exception):
    """A constraint refused a statement (unique, foreign key, check), on either store."""


class StoreOpenError(OSError):
    """The store cannot be created or opened (a bad `[storage] path` or `url`)."""


class SqliteDatabase:
    """An open SQLite database. Use `async with SqliteDatabase(path) as db:`.

    `open()` applies the migrations not yet applied unless `migrate=False` (reading
    commands check the version themselves and never change the file)."""

    dialect = "sqlite"

    def __init__(self, path: str | Path, *, migrate: bool = True) -> None:
        self.path = Path(path)
        self._migrate_on_open = migrate
        self._conn: aiosqlite.Connection | None = None
        # Serialises explicit transactions: statements from other tasks must not land
        # inside someone else's BEGIN … COMMIT on the shared connection.
        self._tx_lock = asyncio.Lock()
        self._tx_owner: asyncio.Task[Any] | None = None

    def __repr__(self) -> str:
        return f"SqliteDatabase({str(self.path)!r})"

    async def open(self) -> Self:
        if str(self.path) != ":memory:":
            try:
                if self.path.parent:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                # Tried here first: a failed aiosqlite.connect leaves its worker thread
                # writing to a closed event loop (a traceback after the message).
                sqlite3.connect(self.path).close()
            except (OSError, sqlite3.Error) as exc:
                # The CLI makes this one line naming storage.path, not a traceback.
                raise StoreOpenError(
                    f"cannot open the database {str(self.path)!r}: {exc}"
                ) from exc
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        self._conn = conn
        if self._migrate_on_open:
            await self.migrate()
        return self

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    def interrupt(self) -> None:
        """Abort the statement running in the worker thread, if any (a stop that ran out
        of time must not wait for a long query). sqlite3's `interrupt()` is safe to call
        from another thread; aiosqlite's own would queue behind the running statement."""
        raw = getattr(self._conn, "_connection", None) if self._conn is not None else None
        if isinstance(raw, sqlite3.Connection):
            raw.interrupt()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    async def schema_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> int:
        """Apply the migrations not yet applied; return the schema version."""
        current = await self.schema_version()
        for version, name, sql in migrations("sqlite"):
            if version <= current:
                continue
            # executescript commits first; wrap the file in its own transaction so a
            # failed migration leaves the previous version intact.
            await self.conn.executescript(
                f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
            )
            log.info("storage: applied migration %s", name)
            current = version
        return current

    def _in_own_tx(self) -> bool:
        return self._tx_owner is not None and self._tx_owner is asyncio.current_task()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error). Nested use joins the outer one."""
        if self._in_own_tx():
            yield
            return
        async with self._tx_lock:
            self._tx_owner = asyncio.current_task()
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")
            finally:
                self._tx_owner = None

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        # A statement outside a transaction waits for another task's transaction to end.
        if self._in_own_tx():
            yield
            return
        async with self._tx_lock:
            yield

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return its rowcount."""
        try:
            async with self._guard(), self.conn.execute(sql, params) as cur:
                return int(cur.rowcount)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        try:
            async with self._guard():
                await self.conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        try:
            async with self._guard(), self.conn.execute(sql, params) as cur:
                return list(await cur.fetchall())
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        try:
            async with self._guard(), self.conn.execute(sql, params) as cur:
                row = await cur.fetchone()
                # RETURNING: the statement is complete only once every row was stepped.
                await cur.fetchall()
                return row
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def iterate(
        self, sql: str, params: Params = (), *, page: int = 1000
    ) -> AsyncIterator[aiosqlite.Row]:
        """The rows of a large query, read `page` at a time (never all in memory). Not
        guarded: the caller may run other statements between rows."""
        async with self.conn.execute(sql, params) as cur:
            while rows := await cur.fetchmany(page):
                for row in rows:
                    yield row

    async def ping(self) -> bool:
        try:
            return bool(await self.fetchval("SELECT 1") == 1)
        except Exception:  # any failure means "store is down" for /healthz
            return False


def utcnow() -> datetime:
    return datetime.now(UTC)
