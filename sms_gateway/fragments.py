"""Parts of concatenated MO messages on disk, so that a restart loses nothing.

`FragmentStore` is the port; `SqliteFragmentStore` keeps them in a small SQLite file of
its own (e.g. `var/sms_fragments.db`, next to the main database) through the stdlib
`sqlite3` run in a thread; `MemoryFragmentStore` is for tests and the simulator-only
mode. A part is committed before its deliver_sm_resp goes out (channel.py).

The store also keeps a small ledger of "seen" digests: how many times a message with a
given content digest was handled and acknowledged, and which parts belonged to messages
already handled. That is what keeps `Inbound.external_id` stable for a redelivery while
letting a customer send the same text twice (see `channel.py`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Fragment:
    """One part of a concatenated MO, as received (octets undecoded: a UCS2 surrogate
    pair or a GSM escape may straddle two parts)."""

    key: str  # source|destination|reference|total: one message
    ref: int
    total: int
    seq: int
    data: bytes
    data_coding: int
    source: str
    destination: str
    received_at: datetime


@runtime_checkable
class FragmentStore(Protocol):
    """Durable storage of MO parts and of the digests of handled messages.

    `add` must be durable when it returns (the caller then acknowledges the part).
    """

    async def add(self, fragment: Fragment) -> bool:
        """Store a part; False when that (key, seq) was already stored."""
        ...

    async def parts(self, key: str) -> list[Fragment]:
        """The stored parts of one message, by sequence number."""
        ...

    async def delete(self, key: str) -> None:
        """Forget one message's parts (it was handled)."""
        ...

    async def expired(self, older_than: datetime) -> list[str]:
        """Keys of messages whose first part arrived before `older_than`."""
        ...

    async def seen_count(self, digest: str) -> int:
        """How many times `digest` was noted as handled."""
        ...

    async def note_seen(self, digests: Sequence[str], at: datetime) -> None:
        """Count each digest once more as handled."""
        ...

    async def forget_seen(self, older_than: datetime) -> int:
        """Drop ledger entries last noted before `older_than`; returns how many."""
        ...


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class MemoryFragmentStore:
    """`FragmentStore` in memory (tests; loses everything on restart)."""

    def __init__(self) -> None:
        self._parts: dict[str, dict[int, Fragment]] = {}
        self._seen: dict[str, tuple[int, datetime]] = {}

    async def add(self, fragment: Fragment) -> bool:
        group = self._parts.setdefault(fragment.key, {})
        if fragment.seq in group:
            return False
        group[fragment.seq] = fragment
        return True

    async def parts(self, key: str) -> list[Fragment]:
        group = self._parts.get(key, {})
        return [group[seq] for seq in sorted(group)]

    async def delete(self, key: str) -> None:
        self._parts.pop(key, None)

    async def expired(self, older_than: datetime) -> list[str]:
        return [
            key
            for key, group in self._parts.items()
            if group and min(f.received_at for f in group.values()) < older_than
        ]

    async def seen_count(self, digest: str) -> int:
        entry = self._seen.get(digest)
        return entry[0] if entry else 0

    async def note_seen(self, digests: Sequence[str], at: datetime) -> None:
        for digest in digests:
            count = self._seen.get(digest, (0, at))[0]
            self._seen[digest] = (count + 1, at)

    async def forget_seen(self, older_than: datetime) -> int:
        old = [digest for digest, (_, at) in self._seen.items() if at < older_than]
        for digest in old:
            del self._seen[digest]
        return len(old)

    async def __aenter__(self) -> MemoryFragmentStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS fragments (
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ref INTEGER NOT NULL,
    total INTEGER NOT NULL,
    data BLOB NOT NULL,
    data_coding INTEGER NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (key, seq)
);
CREATE TABLE IF NOT EXISTS seen (
    digest TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    noted_at TEXT NOT NULL
);
"""


class SqliteFragmentStore:
    """`FragmentStore` in its own SQLite file (stdlib sqlite3 in a worker thread).

    Use `async with SqliteFragmentStore(path) as store:` or `open()` / `close()`.
    WAL with synchronous=NORMAL: a committed part survives a crash of the process,
    which is what "a restart loses nothing" needs, at a fraction of FULL's cost.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def open(self) -> None:
        if self._db is None:
            await asyncio.to_thread(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        self._db = db

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is None:
            return

        def closing() -> None:
            # Under the lock: a worker thread whose awaiting task was cancelled (a stop
            # right after start) may still be using the connection, and closing it
            # under that thread crashed the process (SIGSEGV in sqlite3).
            with self._lock:
                db.close()

        await asyncio.to_thread(closing)

    async def __aenter__(self) -> SqliteFragmentStore:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._db is None:
            await self.open()
        db = self._db
        assert db is not None  # noqa: S101 - opened just above

        def locked() -> T:
            with self._lock:
                return work(db)

        return await asyncio.to_thread(locked)

    async def add(self, fragment: Fragment) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "INSERT OR IGNORE INTO fragments (key, seq, ref, total, data, data_coding,"
                " source, destination, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fragment.key,
                    fragment.seq,
                    fragment.ref,
                    fragment.total,
                    fragment.data,
                    fragment.data_coding,
                    fragment.source,
                    fragment.destination,
                    _iso(fragment.received_at),
                ),
            )
            return cursor.rowcount == 1

        return await self._run(work)

    async def parts(self, key: str) -> list[Fragment]:
        def work(db: sqlite3.Connection) -> list[Fragment]:
            rows = db.execute(
                "SELECT key, ref, total, seq, data, data_coding, source, destination,"
                " received_at FROM fragments WHERE key = ? ORDER BY seq",
                (key,),
            ).fetchall()
            return [
                Fragment(
                    key=row[0],
                    ref=row[1],
                    total=row[2],
                    seq=row[3],
                    data=bytes(row[4]),
                    data_coding=row[5],
                    source=row[6],
                    destination=row[7],
                    received_at=datetime.fromisoformat(row[8]),
                )
                for row in rows
            ]

        return await self._run(work)

    async def delete(self, key: str) -> None:
        await self._run(lambda db: db.execute("DELETE FROM fragments WHERE key = ?", (key,)))

    async def expired(self, older_than: datetime) -> list[str]:
        def work(db: sqlite3.Connection) -> list[str]:
            rows = db.execute(
                "SELECT key FROM fragments GROUP BY key HAVING MIN(received_at) < ?",
                (_iso(older_than),),
            ).fetchall()
            return [row[0] for row in rows]

        return await self._run(work)

    async def seen_count(self, digest: str) -> int:
        def work(db: sqlite3.Connection) -> int:
            row = db.execute("SELECT count FROM seen WHERE digest = ?", (digest,)).fetchone()
            return int(row[0]) if row else 0

        return await self._run(work)

    async def note_seen(self, digests: Sequence[str], at: datetime) -> None:
        stamp = _iso(at)

        def work(db: sqlite3.Connection) -> None:
            db.execute("BEGIN")
            try:
                db.executemany(
                    "INSERT INTO seen (digest, count, noted_at) VALUES (?, 1, ?)"
                    " ON CONFLICT (digest) DO UPDATE SET count = count + 1,"
                    " noted_at = excluded.noted_at",
                    [(digest, stamp) for digest in digests],
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._run(work)

    async def forget_seen(self, older_than: datetime) -> int:
        def work(db: sqlite3.Connection) -> int:
            cursor = db.execute("DELETE FROM seen WHERE noted_at < ?", (_iso(older_than),))
            return cursor.rowcount

        return await self._run(work)
