"""Figures for `/metrics`, read at scrape time (docs/interfaces.md §13).

Each is one indexed aggregate query: the outbox by `outbox_due (status, priority, …)`;
open appeals past their due time from the appeals table (a count over open appeals).
"""

from __future__ import annotations

from datetime import datetime

from storage.db import Database, to_db

# What the sender still has to do: waiting, deferred by quiet hours, or claimed.
_PENDING = ("queued", "sending", "deferred")


class SqliteOpsStats:
    """`storage.ports.OpsStats` over the SQLite store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def outbox_depth(self) -> dict[int, int]:
        rows = await self.db.fetchall(
            "SELECT priority, count(*) AS n FROM outbox"
            f" WHERE status IN ({', '.join('?' for _ in _PENDING)}) GROUP BY priority",
            _PENDING,
        )
        return {int(row["priority"]): int(row["n"]) for row in rows}

    async def appeals_overdue(self, now: datetime) -> int:
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM appeals WHERE status = 'open' AND due_at < ?",
                (to_db(now),),
            )
        )
