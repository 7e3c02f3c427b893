"""Staff accounts of the web workspace and their failed logins (SQLite).

The port is `storage.ports.StaffAccounts`; the use cases (hashing, rate limits) are in
`staff.accounts`. Logins are stored as given after `staff.accounts` lower-cased them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from storage.db import Database, from_db, from_db_opt, to_db

Role = Literal["operator", "supervisor"]
ROLES: tuple[Role, ...] = ("operator", "supervisor")


@dataclass(frozen=True, slots=True)
class StaffAccount:
    login: str
    role: Role
    password_hash: str
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


def _account(row: Any) -> StaffAccount:
    return StaffAccount(
        login=row["login"],
        role=row["role"],
        password_hash=row["password_hash"],
        created_at=from_db(row["created_at"]),
        disabled_at=from_db_opt(row["disabled_at"]),
    )


class StaffRepo:
    """`staff_accounts` and `staff_login_failures` (migration 007)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, login: str, role: Role, password_hash: str, at: datetime
    ) -> StaffAccount | None:
        inserted = await self.db.execute(
            "INSERT INTO staff_accounts (login, role, password_hash, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (login) DO NOTHING",
            (login, role, password_hash, to_db(at)),
        )
        return await self.get(login) if inserted else None

    async def get(self, login: str) -> StaffAccount | None:
        row = await self.db.fetchone("SELECT * FROM staff_accounts WHERE login = ?", (login,))
        return None if row is None else _account(row)

    async def all(self) -> list[StaffAccount]:
        rows = await self.db.fetchall("SELECT * FROM staff_accounts ORDER BY login")
        return [_account(r) for r in rows]

    async def disable(self, login: str, at: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE staff_accounts SET disabled_at = ? WHERE login = ? AND disabled_at IS NULL",
            (to_db(at), login),
        )
        return changed > 0

    async def set_password_hash(self, login: str, password_hash: str) -> None:
        await self.db.execute(
            "UPDATE staff_accounts SET password_hash = ? WHERE login = ?",
            (password_hash, login),
        )

    async def record_failure(self, login: str, address: str, at: datetime) -> None:
        await self.db.execute(
            "INSERT INTO staff_login_failures (login, address, at) VALUES (?, ?, ?)",
            (login, address, to_db(at)),
        )

    async def failures_since(
        self, since: datetime, *, login: str, address: str
    ) -> tuple[int, int]:
        """(failures of this login, failures from this address) at or after `since`."""
        row = await self.db.fetchone(
            "SELECT"
            " (SELECT count(*) FROM staff_login_failures WHERE login = ? AND at >= ?),"
            " (SELECT count(*) FROM staff_login_failures WHERE address = ? AND at >= ?)",
            (login, to_db(since), address, to_db(since)),
        )
        assert row is not None
        return int(row[0]), int(row[1])

    async def forget_failures(self, before: datetime) -> None:
        """Drop failures older than the longest rate-limit window (housekeeping)."""
        await self.db.execute("DELETE FROM staff_login_failures WHERE at < ?", (to_db(before),))
