"""The PostgreSQL store (docs/interfaces.md §13): `PgDatabase`, an asyncpg pool behind the
`storage.db.Database` port.

SQL is shared with SQLite and written with `?` or `:name` placeholders; `to_pg` turns it
into PostgreSQL's `$1…$n` (outside string literals, quoted names and comments). Values
keep the SQLite representation so that one schema serves both stores: timestamps as ISO
UTC text (`storage.db.to_db`), booleans as 0/1 integers, money as decimal text.

A transaction holds one pool connection in a `ContextVar`: the statements of the task
inside `async with db.transaction()` run on it; statements outside a transaction take a
pool connection each. `pool` and `connection()` are there for features that need a
connection of their own (LISTEN/NOTIFY, advisory locks).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import lru_cache
from types import TracebackType
from typing import Any, Self, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from storage.db import IntegrityError, Params, StoreOpenError, migrations

log = logging.getLogger(__name__)

# A pool connection (the stubs' generic; not subscriptable at run time).
Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"

# Serialises schema upgrades of several instances starting together (any fixed number
# that no other feature uses as an advisory lock key).
MIGRATION_LOCK = 0x5B7_0001

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def mask_url(url: str) -> str:
    """The url with its password replaced by `***` (for logs and messages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unreadable url>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


@lru_cache(maxsize=1024)
def to_pg(sql: str) -> tuple[str, tuple[str, ...]]:
    """SQL with `?` or `:name` placeholders as PostgreSQL `$n` SQL, and the parameter
    names in `$n` order (empty for `?`). Literals ('…'), quoted names ("…"), comments
    and `::` casts are left alone. Mixing `?` and `:name` in one statement is an error."""
    out: list[str] = []
    names: list[str] = []
    positional = 0
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:  # '' or "" inside
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1])
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end])
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(sql[i:end])
            i = end
        elif sql.startswith("::", i):
            out.append("::")
            i += 2
        elif ch == "?":
            positional += 1
            out.append(f"${positional}")
            i += 1
        elif ch == ":" and (match := _NAME.match(sql, i + 1)):
            name = match[0]
            if name not in names:
                names.append(name)
            out.append(f"${names.index(name) + 1}")
            i = match.end()
        else:
            out.append(ch)
            i += 1
    if positional and names:
        raise ValueError(f"both ? and :name placeholders in {sql!r}")
    return "".join(out), tuple(names)


def _args(names: tuple[str, ...], params: Params) -> Sequence[Any]:
    if isinstance(params, dict):
        if not names and params:
            raise ValueError("named parameters for a statement without :name placeholders")
        return [params[name] for name in names]
    if names:
        raise ValueError(f"the statement wants named parameters {names}")
    return params


async def _no_reset_query(conn: object) -> None:
    """The pool's reset on release: nothing beyond what asyncpg always does (roll back a
    transaction left open, forget listener callbacks). asyncpg's default sends a reset
    query (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) on every release,
    a second round trip for each statement outside a transaction (bench/
    bench_store_layer.py measures it). Pool connections keep no session state here: LISTEN
    and the leader's lock have connections of their own (notifications/wake.py,
    storage/cluster.py), conversation locks are transaction-scoped, `SET LOCAL` ends with
    its transaction, the migration lock is released explicitly, and `connection()` resets
    a connection it lent outside a transaction."""


def _rowcount(status: str) -> int:
    """asyncpg's command status ("UPDATE 3", "INSERT 0 1") as a rowcount; -1 if none."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


class PgDatabase:
    """A PostgreSQL store over an asyncpg pool. `async with PgDatabase(url) as db:`.

    `open()` applies the migrations not yet applied unless `migrate=False`. The url's
    password may be left out: asyncpg then reads `PGPASSWORD` (docs/interfaces.md §13)."""

    dialect = "postgresql"

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 10, migrate: bool = True
    ) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self._migrate_on_open = migrate
        self._pool: asyncpg.Pool | None = None
        self._tx: ContextVar[Connection | None] = ContextVar(
            f"pg_tx_{id(self):x}", default=None
        )

    def __repr__(self) -> str:
        return f"PgDatabase({mask_url(self.url)!r})"

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    async def open(self) -> Self:
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=self.min_size, max_size=self.max_size, reset=_no_reset_query
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
            raise StoreOpenError(
                f"cannot open the database {self.masked_url}: "
                f"{str(exc).replace(self.url, self.masked_url)}"
            ) from exc
        if self._migrate_on_open:
            await self.migrate()
        return self

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    def interrupt(self) -> None:
        """Abort what runs now: the pool's connections are closed at once (a stop that ran
        out of time must not wait for a long query)."""
        if self._pool is not None:
            self._pool.terminate()

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
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database is not open")
        return self._pool

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """The task's transaction connection, or a pool connection for this block (reset
        after it: the caller may have changed the session)."""
        current = self._tx.get()
        if current is not None:
            yield current
            return
        async with self.pool.acquire() as conn:
            try:
                yield conn
            finally:
                if not conn.is_closed():
                    await conn.execute(conn.get_reset_query())

    @asynccontextmanager
    async def _statement(self) -> AsyncIterator[Connection]:
        """Where one statement of this class runs: the task's transaction connection, or
        a pool connection taken for it alone (no reset needed: `_no_reset_query`)."""
        current = self._tx.get()
        if current is not None:
            yield current
            return
        async with self.pool.acquire() as conn:
            yield conn

    async def schema_version(self) -> int:
        async with self._statement() as conn:
            return await self._version(conn)

    @staticmethod
    async def _version(conn: Connection) -> int:
        if await conn.fetchval("SELECT to_regclass('schema_version')") is None:
            return 0
        value = await conn.fetchval("SELECT max(version) FROM schema_version")
        return int(value or 0)

    async def migrate(self) -> int:
        """Apply the migrations not yet applied, each in its own transaction; return the
        schema version. Instances starting together take turns (an advisory lock)."""
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    " version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL"
                    " DEFAULT now())"
                )
                current = await self._version(conn)
                for version, name, sql in migrations("postgresql"):
                    if version <= current:
                        continue
                    async with conn.transaction():
                        await conn.execute(sql)
                        await conn.execute(
                            "INSERT INTO schema_version (version) VALUES ($1)", version
                        )
                    log.info("storage: applied migration %s", name)
                    current = version
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        return current

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """BEGIN … COMMIT on one pool connection (ROLLBACK on error). Nested use joins the
        outer one."""
        if self._tx.get() is not None:
            yield
            return
        async with self.pool.acquire() as conn, conn.transaction():
            token = self._tx.set(conn)
            try:
                yield
            finally:
                self._tx.reset(token)

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return its rowcount."""
        text, names = to_pg(sql)
        try:
            async with self._statement() as conn:
                return _rowcount(await conn.execute(text, *_args(names, params)))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(str(exc)) from exc

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        text, names = to_pg(sql)
        args = [_args(names, row) for row in rows]
        if not args:
            return
        try:
            async with self._statement() as conn:
                await conn.executemany(text, args)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(str(exc)) from exc

    async def fetchall(self, sql: str, params: Params = ()) -> list[asyncpg.Record]:
        text, names = to_pg(sql)
        try:
            async with self._statement() as conn:
                return list(await conn.fetch(text, *_args(names, params)))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(str(exc)) from exc

    async def fetchone(self, sql: str, params: Params = ()) -> asyncpg.Record | None:
        text, names = to_pg(sql)
        try:
            async with self._statement() as conn:
                return await conn.fetchrow(text, *_args(names, params))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(str(exc)) from exc

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        text, names = to_pg(sql)
        try:
            async with self._statement() as conn:
                return await conn.fetchval(text, *_args(names, params))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(str(exc)) from exc

    async def iterate(
        self, sql: str, params: Params = (), *, page: int = 1000
    ) -> AsyncIterator[asyncpg.Record]:
        """The rows of a large query through a server-side cursor, `page` at a time."""
        text, names = to_pg(sql)
        args = _args(names, params)
        async with self._statement() as conn:
            if conn.is_in_transaction():
                async for row in conn.cursor(text, *args, prefetch=page):
                    yield row
            else:
                async with conn.transaction():
                    async for row in conn.cursor(text, *args, prefetch=page):
                        yield row

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(5):
                return bool(await self.fetchval("SELECT 1") == 1)
        except Exception:  # any failure means "store is down" for /healthz
            return False
