"""`FragmentStore` over the PostgreSQL store (docs/interfaces.md §13): MO parts and the
"seen" ledger in the tables `sms_fragments` and `sms_seen` (migration 009), shared by
every bind of every instance. A long SMS whose parts arrived on different binds, at
different instances, is reassembled once: each part is committed before its
deliver_sm_resp (as with `SqliteFragmentStore`), so whichever instance stores the last
part finds them all. Two instances that store the last parts at the same moment may both
find the message complete: both then hand over the same digest, hence the same
`Inbound.external_id` (channel.py), and the journal keeps one (docs/architecture.md,
data flow step 2). The parts are deleted only after the message is journaled.

It speaks to an `asyncpg.Pool` (the store's `PgDatabase.pool`); each call is one
autocommitted statement, or one short transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from .fragments import Fragment


class PgFragmentStore:
    """`FragmentStore` in PostgreSQL. The pool belongs to the caller (the store)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool  # asyncpg.Pool

    async def __aenter__(self) -> PgFragmentStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def add(self, fragment: Fragment) -> bool:
        if fragment.received_at.tzinfo is None:
            raise ValueError("datetime must be timezone-aware")
        status = await self.pool.execute(
            "INSERT INTO sms_fragments (key, seq, ref, total, data, data_coding, source,"
            " destination, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (key, seq) DO NOTHING",
            fragment.key,
            fragment.seq,
            fragment.ref,
            fragment.total,
            fragment.data,
            fragment.data_coding,
            fragment.source,
            fragment.destination,
            fragment.received_at,
        )
        return bool(status == "INSERT 0 1")

    async def parts(self, key: str) -> list[Fragment]:
        rows = await self.pool.fetch(
            "SELECT key, ref, total, seq, data, data_coding, source, destination, received_at"
            " FROM sms_fragments WHERE key = $1 ORDER BY seq",
            key,
        )
        return [
            Fragment(
                key=row["key"],
                ref=row["ref"],
                total=row["total"],
                seq=row["seq"],
                data=bytes(row["data"]),
                data_coding=row["data_coding"],
                source=row["source"],
                destination=row["destination"],
                received_at=row["received_at"],
            )
            for row in rows
        ]

    async def delete(self, key: str) -> None:
        await self.pool.execute("DELETE FROM sms_fragments WHERE key = $1", key)

    async def expired(self, older_than: datetime) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT key FROM sms_fragments GROUP BY key HAVING min(received_at) < $1",
            older_than,
        )
        return [row["key"] for row in rows]

    async def seen_count(self, digest: str) -> int:
        count = await self.pool.fetchval("SELECT count FROM sms_seen WHERE digest = $1", digest)
        return int(count or 0)

    async def note_seen(self, digests: Sequence[str], at: datetime) -> None:
        if not digests:
            return
        # One statement, atomic: each digest counted once more per time it is listed
        # (as the SQLite store does), and two instances noting one digest both count.
        await self.pool.execute(
            "INSERT INTO sms_seen (digest, count, noted_at)"
            " SELECT d, count(*), $2 FROM unnest($1::text[]) AS d GROUP BY d"
            " ON CONFLICT (digest) DO UPDATE SET count = sms_seen.count + excluded.count,"
            " noted_at = excluded.noted_at",
            list(digests),
            at,
        )

    async def forget_seen(self, older_than: datetime) -> int:
        status = await self.pool.execute("DELETE FROM sms_seen WHERE noted_at < $1", older_than)
        return int(status.split()[-1])
