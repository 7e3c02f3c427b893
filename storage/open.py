"""Choosing and opening the store (docs/interfaces.md §13, `[storage] url`).

Empty or `sqlite:///PATH` is the embedded SQLite file (`path` is its short form;
`sqlite:///rel.db` is relative to the working directory, `sqlite:////abs.db` absolute);
`postgresql://USER[:PASSWORD]@HOST[:PORT]/DB` is PostgreSQL. `url` wins over `path`.
A writing command opens with `create=True` (creates the schema in an empty store and
upgrades an older one); a reading command with `create=False`, which refuses a missing
or older store (`StoreMissingError`) and never creates or changes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from storage.db import Database, SqliteDatabase, StoreOpenError, latest_version
from storage.pg import PgDatabase, mask_url

SQLITE_PREFIX = "sqlite:///"
PG_SCHEMES = ("postgresql", "postgres")


class StoreMissingError(StoreOpenError):
    """A reading command found no store, or one older than this gateway's schema."""


@dataclass(frozen=True)
class StoreTarget:
    """Where the store is: `kind` "sqlite" with `path`, or "postgresql" with `url`."""

    kind: str
    path: Path | None = None
    url: str = ""

    def describe(self) -> str:
        """For messages and `--verbose`: never the password."""
        if self.kind == "sqlite":
            assert self.path is not None
            return f"SQLite {self.path} (absolute {self.path.resolve()})"
        return f"PostgreSQL {mask_url(self.url)}"


def parse_store_url(url: str) -> StoreTarget | None:
    """The target a `[storage] url` names; None when empty (then `path` is used).
    Raises ValueError (with the password masked) for anything else."""
    text = url.strip()
    if not text:
        return None
    if text.startswith(SQLITE_PREFIX):
        rest = text[len(SQLITE_PREFIX) :]
        if not rest or rest.endswith("/"):
            raise ValueError(f"sqlite:/// must name a database file: {text!r}")
        return StoreTarget("sqlite", path=Path(rest))
    try:
        parts = urlsplit(text)
        _ = parts.port  # a port that is not a number raises here
    except ValueError as exc:
        raise ValueError(f"not a store url: {mask_url(text)!r} ({exc})") from None
    if parts.scheme in PG_SCHEMES:
        database = parts.path.lstrip("/")
        if not parts.hostname or not database or "/" in database:
            raise ValueError(
                f"{mask_url(text)!r}: expected postgresql://USER[:PASSWORD]@HOST[:PORT]/DB"
            )
        return StoreTarget("postgresql", url=text)
    raise ValueError(
        f"{mask_url(text)!r}: expected empty, sqlite:///PATH or "
        "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB"
    )


def store_target(url: str, path: str | Path) -> StoreTarget:
    """`url` wins over `path`."""
    return parse_store_url(url) or StoreTarget("sqlite", path=Path(path))


def url_has_password(url: str) -> bool:
    try:
        return urlsplit(url.strip()).password is not None
    except ValueError:
        return False


def database_for(target: StoreTarget, *, migrate: bool = True) -> Database:
    """The store `target` names, not opened yet."""
    if target.kind == "postgresql":
        return PgDatabase(target.url, migrate=migrate)
    assert target.path is not None
    return SqliteDatabase(target.path, migrate=migrate)


async def open_database(target: StoreTarget, *, create: bool) -> Database:
    """Open the store. `create=False` refuses a missing or older store (never creating
    one: a missing SQLite file is not made, an empty PostgreSQL database not filled)."""
    if not create:
        problem = await read_problem(target)
        if problem is not None:
            raise StoreMissingError(problem)
    db = database_for(target, migrate=create)
    await db.open()
    return db


async def read_problem(target: StoreTarget) -> str | None:
    """Why a reading command must not use `target` (missing, unreadable, older), or None."""
    name = target.describe()
    latest = latest_version()
    if target.kind == "sqlite":
        assert target.path is not None
        if not target.path.exists():
            return f"the database {name} does not exist"
    try:
        version = await _version(target)
    except (OSError, StoreOpenError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return f"cannot read the database {name}: {exc}"
    if version == 0:
        return f"the database {name} is empty (no schema)"
    if version < latest:
        return (
            f"the database {name} has schema version {version}, this gateway needs {latest}"
        )
    return None


async def _version(target: StoreTarget) -> int:
    if target.kind == "sqlite":
        import sqlite3

        assert target.path is not None
        conn = sqlite3.connect(f"{target.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("PRAGMA user_version").fetchone()
        except sqlite3.Error as exc:
            raise StoreOpenError(str(exc)) from exc
        finally:
            conn.close()
        return int(row[0]) if row else 0
    db = PgDatabase(target.url, min_size=1, max_size=1, migrate=False)
    async with db:
        return await db.schema_version()
