"""The SQLite database: connection lifecycle, WAL, versioned migrations.

Migrations are the numbered files in `storage/migrations/` (`001_core.sql`, …), applied
in order inside one transaction each; `PRAGMA user_version` records the last applied.
One aiosqlite connection serialises every statement on its own thread: SQLite allows one
writer anyway, and keeping one connection makes the single-writer rule explicit.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")

Params = Sequence[Any] | dict[str, Any]


def to_db(moment: datetime) -> str:
    """An aware datetime as a UTC ISO string (string order is time order)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text)


def from_db_opt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every shipped migration, in order."""
    found = []
    for entry in (resources.files("storage") / "migrations").iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append((int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations must be numbered 001.. without gaps: {versions}")
    return found


class StoreOpenError(OSError):
    """The database file cannot be created or opened (a bad `[storage] path`)."""


class Database:
    """An open SQLite database. Use `async with Database(path) as db:`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        # Serialises explicit transactions: statements from other tasks must not land
        # inside someone else's BEGIN … COMMIT on the shared connection.
        self._tx_lock = asyncio.Lock()
        self._tx_owner: asyncio.Task[Any] | None = None

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

    async def migrate(self) -> int:
        """Apply the migrations not yet applied; return the schema version."""
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        current = int(row[0]) if row else 0
        for version, name, sql in migrations():
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
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error). Nested use joins the outer one."""
        if self._in_own_tx():
            yield self.conn
            return
        async with self._tx_lock:
            self._tx_owner = asyncio.current_task()
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
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
        """Run one statement; return lastrowid (INSERT) or rowcount."""
        async with self._guard(), self.conn.execute(sql, params) as cur:
            if sql.lstrip()[:6].upper() == "INSERT":
                # An INSERT … DO NOTHING that inserted nothing leaves a stale lastrowid.
                return int(cur.lastrowid or 0) if cur.rowcount > 0 else 0
            return int(cur.rowcount)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        async with self._guard():
            await self.conn.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        async with self._guard(), self.conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        async with self._guard(), self.conn.execute(sql, params) as cur:
            return await cur.fetchone()

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def ping(self) -> bool:
        try:
            return bool(await self.fetchval("SELECT 1") == 1)
        except Exception:  # any failure means "store is down" for /healthz
            return False


def utcnow() -> datetime:
    return datetime.now(UTC)
