"""Where a person wants notices (docs/interfaces.md §14): the chosen channel per phone,
and where a person can be reached on each channel."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from storage.db import Database, to_db


class NoticeChannelRepo:
    """The `notice_channels` table and the look-ups a choice needs."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def choose(
        self, phones: Iterable[str], channel: str, address: str | None, at: datetime
    ) -> None:
        """Record the choice for each phone (`address` None: the phone itself, SMS)."""
        await self.db.executemany(
            "INSERT INTO notice_channels (phone, channel, address, chosen_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (phone) DO UPDATE SET"
            " channel = excluded.channel, address = excluded.address,"
            " chosen_at = excluded.chosen_at",
            [(phone, channel, address or phone, to_db(at)) for phone in phones],
        )

    async def chosen(self, phone: str) -> tuple[str, str] | None:
        """(channel, address) the person chose, or None."""
        row = await self.db.fetchone(
            "SELECT channel, address FROM notice_channels WHERE phone = ?", (phone,)
        )
        return None if row is None else (row["channel"], row["address"])

    async def phones_for_email(self, email: str) -> list[str]:
        """The phones of the accounts an e-mail address is registered on."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT ap.phone FROM account_emails ae"
            " JOIN account_phones ap ON ap.account = ae.account"
            " WHERE ae.email = ? ORDER BY ap.phone",
            (email.lower(),),
        )
        return [r["phone"] for r in rows]

    async def registry_email(self, phones: Iterable[str]) -> str | None:
        """An e-mail address the registry has on the accounts of these phones."""
        wanted, marks = _placeholders(phones)
        if not wanted:
            return None
        row = await self.db.fetchone(
            "SELECT ae.email FROM account_phones ap"
            " JOIN account_emails ae ON ae.account = ap.account"
            f" WHERE ap.phone IN ({marks}) ORDER BY ae.account, ae.email LIMIT 1",
            wanted,
        )
        return None if row is None else str(row["email"])

    async def messenger_address(self, channel: str, phones: Iterable[str]) -> str | None:
        """The address of a verified, unblocked contact on `channel` with one of these
        phones (the one that wrote last)."""
        wanted, marks = _placeholders(phones)
        if not wanted:
            return None
        row = await self.db.fetchone(
            "SELECT address FROM contacts WHERE channel = ? AND verified_by IS NOT NULL"
            f" AND blocked = 0 AND phone IN ({marks})"
            " ORDER BY coalesce(last_inbound_at, '') DESC, id DESC LIMIT 1",
            [channel, *wanted],
        )
        return None if row is None else str(row["address"])


def _placeholders(phones: Iterable[str]) -> tuple[list[str], str]:
    """The distinct phones, sorted, and their `?` list for an SQL `IN (…)`."""
    wanted = sorted(set(phones))
    return wanted, ",".join("?" * len(wanted))
