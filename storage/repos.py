"""SQLite repositories. Handlers reach storage through the protocols in `storage.ports`;
these classes implement them over one `Database`."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from storage.db import Database, Row, from_db, from_db_opt, insert_id, to_db, utcnow
from storage.models import (
    ZONES,
    Account,
    Appeal,
    Contact,
    ConversationKey,
    ConversationState,
    JournalEntry,
    Meter,
    NewReading,
    Outage,
    ReadingRecord,
    UnlinkedSubmission,
)


def _dec(text: str | None) -> Decimal | None:
    return None if text is None or text == "" else Decimal(text)


def _meter(row: Row) -> Meter:
    last: dict[str, Decimal | None] = {
        zone: _dec(row[f"last_{zone.lower()}"]) for zone in ZONES[: row["zones"]]
    }
    return Meter(
        account=row["account"],
        serial=row["serial"],
        zones=row["zones"],
        digits=row["digits"],
        last=last,
        last_date=date.fromisoformat(row["last_date"]) if row["last_date"] else None,
    )


class RegistryRepo:
    """Accounts, their phones and meters (the billing registry)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_account(self, number: str) -> Account | None:
        row = await self.db.fetchone("SELECT * FROM accounts WHERE number = ?", (number,))
        if row is None:
            return None
        phones = await self.db.fetchall(
            "SELECT phone FROM account_phones WHERE account = ? ORDER BY phone", (number,)
        )
        meters = await self.db.fetchall(
            "SELECT * FROM meters WHERE account = ? ORDER BY serial", (number,)
        )
        return Account(
            number=row["number"],
            holder=row["holder"],
            settlement=row["settlement"],
            street=row["street"],
            house=row["house"],
            apartment=row["apartment"],
            balance=Decimal(row["balance"]),
            segment=row["segment"],
            phones=tuple(r["phone"] for r in phones),
            meters=tuple(_meter(r) for r in meters),
        )

    async def accounts_for_phone(self, phone: str) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT account FROM account_phones WHERE phone = ? ORDER BY account", (phone,)
        )
        return [r["account"] for r in rows]

    async def phone_on_account(self, phone: str, account: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM account_phones WHERE phone = ? AND account = ?", (phone, account)
        )
        return row is not None

    async def accounts_for_email(self, email: str) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT account FROM account_emails WHERE email = ? ORDER BY account",
            (email.lower(),),
        )
        return [r["account"] for r in rows]

    async def email_on_account(self, email: str, account: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM account_emails WHERE email = ? AND account = ?",
            (email.lower(), account),
        )
        return row is not None

    async def count_accounts(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM accounts"))


class ContactRepo:
    """People on channels. An SMS contact's phone is its address (verified by the
    network); a Telegram contact's phone is set only once verified."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _contact(row: Row) -> Contact:
        return Contact(
            id=row["id"],
            channel=row["channel"],
            address=row["address"],
            phone=row["phone"],
            verified_by=row["verified_by"],
            blocked=bool(row["blocked"]),
            opted_out=bool(row["opted_out"]),
            display_name=row["display_name"],
        )

    async def get(self, channel: str, address: str) -> Contact | None:
        row = await self.db.fetchone(
            "SELECT * FROM contacts WHERE channel = ? AND address = ?", (channel, address)
        )
        return None if row is None else self._contact(row)

    async def by_id(self, contact_id: int) -> Contact | None:
        row = await self.db.fetchone("SELECT * FROM contacts WHERE id = ?", (contact_id,))
        return None if row is None else self._contact(row)

    async def resolve(
        self,
        channel: str,
        address: str,
        *,
        phone: str | None = None,
        verified_by: str | None = None,
    ) -> Contact:
        """Get or create the contact; an SMS/console-by-phone contact comes with its phone."""
        now = to_db(utcnow())
        await self.db.execute(
            "INSERT INTO contacts (channel, address, phone, verified_by, verified_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel, address) DO NOTHING",
            (channel, address, phone, verified_by if phone else None, now if phone else None, now),
        )
        contact = await self.get(channel, address)
        assert contact is not None
        return contact

    async def seen(self, contact_id: int, at: datetime) -> None:
        await self.db.execute(
            "UPDATE contacts SET last_inbound_at = ? WHERE id = ?", (to_db(at), contact_id)
        )

    async def verify_phone(self, contact_id: int, phone: str, verified_by: str) -> None:
        await self.db.execute(
            "UPDATE contacts SET phone = ?, verified_by = ?, verified_at = ? WHERE id = ?",
            (phone, verified_by, to_db(utcnow()), contact_id),
        )

    async def unlink(self, contact_id: int) -> None:
        await self.db.execute(
            "UPDATE contacts SET phone = NULL, verified_by = NULL, verified_at = NULL"
            " WHERE id = ?",
            (contact_id,),
        )

    async def set_blocked(self, channel: str, address: str, blocked: bool) -> None:
        await self.db.execute(
            "UPDATE contacts SET blocked = ? WHERE channel = ? AND address = ?",
            (int(blocked), channel, address),
        )

    async def set_opted_out(self, contact_id: int, opted_out: bool) -> None:
        await self.db.execute(
            "UPDATE contacts SET opted_out = ? WHERE id = ?", (int(opted_out), contact_id)
        )

    async def by_phone(self, phone: str) -> list[Contact]:
        rows = await self.db.fetchall(
            "SELECT * FROM contacts WHERE phone = ? AND verified_by IS NOT NULL ORDER BY id",
            (phone,),
        )
        return [self._contact(r) for r in rows]

    # -- Telegram linking codes and failed identification attempts (handlers/identity.py)

    async def add_link_code(
        self, contact_id: int, phone: str, code_hash: str, created_at: datetime,
        expires_at: datetime,
    ) -> int:
        return await insert_id(self.db, 
            "INSERT INTO link_codes (contact_id, phone, code_hash, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (contact_id, phone, code_hash, to_db(created_at), to_db(expires_at)),
        )

    async def link_codes_since(
        self, since: datetime, *, phone: str | None = None, contact_id: int | None = None
    ) -> int:
        """Codes sent since a moment, to a phone or to a contact (the daily limit)."""
        column, value = ("phone", phone) if phone is not None else ("contact_id", contact_id)
        return int(
            await self.db.fetchval(
                f"SELECT count(*) FROM link_codes WHERE {column} = ? AND created_at >= ?",
                (value, to_db(since)),
            )
        )

    async def live_link_code(
        self, contact_id: int, now: datetime
    ) -> tuple[int, str, str, int] | None:
        """The newest unused, unexpired code of a contact: (id, phone, code_hash, tries)."""
        row = await self.db.fetchone(
            "SELECT id, phone, code_hash, tries FROM link_codes WHERE contact_id = ?"
            " AND used = 0 AND expires_at > ? ORDER BY id DESC LIMIT 1",
            (contact_id, to_db(now)),
        )
        if row is None:
            return None
        return int(row["id"]), row["phone"], row["code_hash"], int(row["tries"])

    async def link_code_tried(self, code_id: int, *, used: bool) -> None:
        await self.db.execute(
            "UPDATE link_codes SET tries = tries + 1, used = ? WHERE id = ?",
            (int(used), code_id),
        )

    async def add_auth_failure(self, channel: str, address: str, at: datetime) -> None:
        await self.db.execute(
            "INSERT INTO auth_failures (channel, address, at) VALUES (?, ?, ?)",
            (channel, address, to_db(at)),
        )

    async def auth_failures_since(self, channel: str, address: str, since: datetime) -> int:
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM auth_failures WHERE channel = ? AND address = ?"
                " AND at >= ?",
                (channel, address, to_db(since)),
            )
        )


class ReadingRepo:
    """Readings the gateway accepted (or holds for confirmation)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _reading(row: Row) -> ReadingRecord:
        return ReadingRecord(
            id=row["id"],
            account=row["account"],
            meter_serial=row["meter_serial"],
            zone=row["zone"],
            value=Decimal(row["value"]),
            period=row["period"],
            channel=row["channel"],
            sender=row["sender"],
            received_at=from_db(row["received_at"]),
            status=row["status"],
            linked=bool(row["linked"]),
            entered_by=row["entered_by"],
        )

    async def current(
        self, account: str, serial: str, zone: str, period: str
    ) -> ReadingRecord | None:
        row = await self.db.fetchone(
            "SELECT * FROM readings WHERE account = ? AND meter_serial = ? AND zone = ?"
            " AND period = ? AND status = 'accepted' AND linked = 1 ORDER BY id DESC LIMIT 1",
            (account, serial, zone, period),
        )
        return None if row is None else self._reading(row)

    async def last_before(
        self, account: str, serial: str, zone: str, period: str
    ) -> ReadingRecord | None:
        """The newest accepted reading of an earlier period (the base for validation)."""
        row = await self.db.fetchone(
            "SELECT * FROM readings WHERE account = ? AND meter_serial = ? AND zone = ?"
            " AND period < ? AND status = 'accepted' AND linked = 1"
            " ORDER BY period DESC, id DESC LIMIT 1",
            (account, serial, zone, period),
        )
        return None if row is None else self._reading(row)

    async def history(self, account: str, serial: str, zone: str) -> list[ReadingRecord]:
        """Accepted readings, one per period, oldest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM readings WHERE account = ? AND meter_serial = ? AND zone = ?"
            " AND status = 'accepted' AND linked = 1 ORDER BY period, id",
            (account, serial, zone),
        )
        by_period: dict[str, ReadingRecord] = {}
        for row in rows:
            by_period[row["period"]] = self._reading(row)
        return list(by_period.values())

    async def save(self, readings: Sequence[NewReading]) -> tuple[list[int], bool]:
        """Store readings in one transaction. An accepted reading replaces the accepted one
        of the same (account, meter, zone, period). Returns the new ids and whether any
        earlier value was replaced (a correction)."""
        ids: list[int] = []
        replaced = False
        async with self.db.transaction():
            for r in readings:
                if r.status == "accepted":
                    count = await self._replace_current(
                        r.account, r.meter_serial, r.zone, r.period, r.channel, linked=r.linked
                    )
                    replaced = replaced or count > 0
                ids.append(
                    await insert_id(self.db, 
                        "INSERT INTO readings (account, meter_serial, zone, value, period,"
                        " channel, sender, received_at, status, inbound_id, linked,"
                        " entered_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            r.account, r.meter_serial, r.zone, str(r.value), r.period,
                            r.channel, r.sender, to_db(r.received_at), r.status, r.inbound_id,
                            int(r.linked), r.entered_by,
                        ),
                    )
                )
        return ids, replaced

    async def _replace_current(
        self, account: str, serial: str, zone: str, period: str, channel: str, *, linked: bool
    ) -> int:
        """Mark the accepted reading of this key replaced in its lane. Readings typed in
        `gateway chat` (channel console) and real ones are separate lanes: an operator's
        test must not replace what the customer sent, which billing would then not
        receive. So are a linked contact's and an unlinked sender's: a stranger's value
        never replaces the owner's (docs/architecture.md «Identification»)."""
        return await self.db.execute(
            "UPDATE readings SET status = 'replaced' WHERE account = ? AND meter_serial = ?"
            " AND zone = ? AND period = ? AND status = 'accepted'"
            " AND (CASE WHEN channel = 'console' THEN 1 ELSE 0 END) = ? AND linked = ?",
            (account, serial, zone, period, int(channel == "console"), int(linked)),
        )

    async def pending(self, ids: Iterable[int]) -> list[ReadingRecord]:
        wanted = list(ids)
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        rows = await self.db.fetchall(
            f"SELECT * FROM readings WHERE id IN ({marks}) AND status = 'pending' ORDER BY id",
            wanted,
        )
        return [self._reading(r) for r in rows]

    async def confirm(self, ids: Iterable[int]) -> bool:
        """Turn pending readings into accepted ones; returns whether one replaced another."""
        replaced = False
        async with self.db.transaction():
            for record in await self.pending(ids):
                count = await self._replace_current(
                    record.account, record.meter_serial, record.zone, record.period,
                    record.channel, linked=record.linked,
                )
                replaced = replaced or count > 0
                await self.db.execute(
                    "UPDATE readings SET status = 'accepted' WHERE id = ?", (record.id,)
                )
        return replaced

    async def reject(self, ids: Iterable[int]) -> None:
        wanted = list(ids)
        if wanted:
            marks = ",".join("?" * len(wanted))
            await self.db.execute(
                f"UPDATE readings SET status = 'rejected' WHERE id IN ({marks})"
                " AND status = 'pending'",
                wanted,
            )

    # -- submissions from senders not linked to the account ------------------------------

    async def add_unlinked(self, submission: UnlinkedSubmission) -> int:
        s = submission
        return await insert_id(self.db, 
            "INSERT INTO unlinked_submissions (channel, address, sender, account, text,"
            " outcome, reason, received_at, inbound_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (s.channel, s.address, s.sender, s.account, s.text, s.outcome, s.reason,
             to_db(s.received_at), s.inbound_id),
        )

    async def unlinked_since(
        self, channel: str, address: str, since: datetime
    ) -> list[tuple[str, datetime]]:
        """(account, received_at) of the sender's unlinked submissions since `since`,
        those refused by a limit not counted."""
        rows = await self.db.fetchall(
            "SELECT account, received_at FROM unlinked_submissions WHERE channel = ?"
            " AND address = ? AND received_at >= ? AND outcome != 'limited' ORDER BY id",
            (channel, address, to_db(since)),
        )
        return [(str(r["account"]), from_db(r["received_at"])) for r in rows]

    async def unlinked_for_account_since(self, account: str, since: datetime) -> int:
        """Unlinked submissions for the account since `since`, from any sender, those
        refused by a limit not counted."""
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM unlinked_submissions WHERE account = ?"
                " AND received_at >= ? AND outcome != 'limited'",
                (account, to_db(since)),
            )
        )

    async def unlinked(
        self, outcome: str | None = None, limit: int = 100
    ) -> list[UnlinkedSubmission]:
        """The newest unlinked submissions (of one outcome): what staff check."""
        where = "WHERE outcome = ?" if outcome else ""
        rows = await self.db.fetchall(
            f"SELECT * FROM unlinked_submissions {where} ORDER BY id DESC LIMIT ?",
            (outcome, limit) if outcome else (limit,),
        )
        return [
            UnlinkedSubmission(
                channel=r["channel"], address=r["address"], sender=r["sender"],
                account=r["account"], text=r["text"], outcome=r["outcome"],
                reason=r["reason"], received_at=from_db(r["received_at"]),
                inbound_id=r["inbound_id"],
            )
            for r in rows
        ]

    async def export_rows(
        self, period: str | None, include_console: bool
    ) -> list[ReadingRecord]:
        """The current accepted readings for billing (docs/interfaces.md §4), all at once."""
        return [r async for r in self.iter_export_rows(period, include_console)]

    async def iter_export_rows(
        self, period: str | None, include_console: bool, *, page: int = 1000
    ) -> AsyncGenerator[ReadingRecord, None]:
        """The current accepted readings for billing, streamed `page` rows at a time.

        One SELECT stays open while the caller consumes: memory stays flat for any size,
        and in WAL mode an export run by another process (the CLI) reads one snapshot
        without blocking the service's writers. It does not take the connection's
        transaction lock, so inside the service other tasks keep writing meanwhile.
        """
        sql = "SELECT * FROM readings WHERE status = 'accepted'"
        params: list[Any] = []
        if period:
            sql += " AND period = ?"
            params.append(period)
        if not include_console:
            sql += " AND channel != 'console'"
        # Within a key, linked readings after unlinked ones: the last row of a key is the
        # newest linked reading, or the newest unlinked one while there is none.
        sql += " ORDER BY period, account, meter_serial, zone, linked, id"
        held: ReadingRecord | None = None  # the newest row of the key being read
        async for row in self.db.iterate(sql, params, page=page):
            record = self._reading(row)
            # With console readings there may be one accepted per lane: the
            # export names one value per key, the newest (rows come by key, id).
            if held is not None and _key(held) != _key(record):
                yield held
            held = record
        if held is not None:
            yield held


def _key(record: ReadingRecord) -> tuple[str, str, str, str]:
    return (record.account, record.meter_serial, record.zone, record.period)


class StateRepo:
    """Conversation state by `ConversationKey`; an expired state reads as none."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(
        self, key: ConversationKey, now: datetime | None = None
    ) -> ConversationState | None:
        row = await self.db.fetchone(
            "SELECT kind, data, expires_at FROM conversation_state"
            " WHERE channel = ? AND address = ?",
            (key.channel, key.address),
        )
        if row is None:
            return None
        expires = from_db_opt(row["expires_at"])
        if expires is not None and expires <= (now or utcnow()):
            return None
        return ConversationState(row["kind"], json.loads(row["data"]), expires)

    async def set(self, key: ConversationKey, state: ConversationState | None) -> None:
        if state is None:
            await self.db.execute(
                "DELETE FROM conversation_state WHERE channel = ? AND address = ?",
                (key.channel, key.address),
            )
            return
        await self.db.execute(
            "INSERT INTO conversation_state (channel, address, kind, data, expires_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel, address) DO UPDATE SET"
            " kind = excluded.kind, data = excluded.data, expires_at = excluded.expires_at,"
            " updated_at = excluded.updated_at",
            (
                key.channel,
                key.address,
                state.kind,
                json.dumps(state.data, ensure_ascii=False, default=str),
                to_db(state.expires_at) if state.expires_at else None,
                to_db(utcnow()),
            ),
        )


class JournalRepo:
    """The inbound journal: every message stored before its channel acknowledges it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def append(
        self, channel: str, external_id: str, address: str, payload: str, received_at: datetime
    ) -> tuple[int, bool]:
        """Store a message; returns (id, True) when new, (id, False) for a redelivery."""
        new_id = await insert_id(self.db, 
            "INSERT INTO inbound (channel, external_id, address, payload, received_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, external_id) DO NOTHING",
            (channel, external_id, address, payload, to_db(received_at)),
        )
        if new_id > 0:
            return new_id, True
        row = await self.db.fetchone(
            "SELECT id FROM inbound WHERE channel = ? AND external_id = ?", (channel, external_id)
        )
        assert row is not None
        return int(row["id"]), False

    async def mark_processed(self, entry_id: int, error: str | None = None) -> None:
        await self.db.execute(
            "UPDATE inbound SET processed_at = ?, error = ? WHERE id = ?",
            (to_db(utcnow()), error, entry_id),
        )

    async def is_processed(self, entry_id: int) -> bool:
        processed = await self.db.fetchval(
            "SELECT processed_at IS NOT NULL FROM inbound WHERE id = ?", (entry_id,)
        )
        return bool(processed)

    async def earlier_unprocessed(self, entry_id: int, channel: str, address: str) -> bool:
        found = await self.db.fetchval(
            "SELECT 1 FROM inbound WHERE processed_at IS NULL AND id < ? AND channel = ?"
            " AND address = ? LIMIT 1",
            (entry_id, channel, address),
        )
        return found is not None

    async def unprocessed(self, limit: int = 1000) -> list[JournalEntry]:
        rows = await self.db.fetchall(
            "SELECT * FROM inbound WHERE processed_at IS NULL ORDER BY id LIMIT ?", (limit,)
        )
        return [
            JournalEntry(
                id=r["id"],
                channel=r["channel"],
                external_id=r["external_id"],
                payload=r["payload"],
                received_at=from_db(r["received_at"]),
                processed_at=None,
            )
            for r in rows
        ]


def _appeal(row: Row) -> Appeal:
    return Appeal(
        id=row["id"],
        contact_id=row["contact_id"],
        channel=row["channel"],
        address=row["address"],
        reply_source=row["reply_source"],
        account=row["account"],
        category=row["category"],
        text=row["text"],
        status=row["status"],
        created_at=from_db(row["created_at"]),
        due_at=from_db(row["due_at"]),
        answered_at=from_db_opt(row["answered_at"]),
        answer=row["answer"],
        repeats=row["repeats"],
        outage_id=row["outage_id"],
    )


class AppealRepo:
    """Appeals (обращения) with their ticket numbers and due times."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        *,
        contact_id: int,
        channel: str,
        address: str,
        reply_source: str | None,
        account: str | None,
        category: str,
        text: str,
        created_at: datetime,
        due_at: datetime,
        outage_id: int | None = None,
        status: str = "open",
    ) -> Appeal:
        async with self.db.transaction():
            appeal_id = await insert_id(self.db, 
                "INSERT INTO appeals (contact_id, channel, address, reply_source, account,"
                " category, text, status, created_at, due_at, outage_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    contact_id, channel, address, reply_source, account, category, text,
                    status, to_db(created_at), to_db(due_at), outage_id,
                ),
            )
            await self.db.execute(
                "INSERT INTO appeal_messages (appeal_id, text, received_at) VALUES (?, ?, ?)",
                (appeal_id, text, to_db(created_at)),
            )
        appeal = await self.get(appeal_id)
        assert appeal is not None
        return appeal

    async def get(self, appeal_id: int) -> Appeal | None:
        row = await self.db.fetchone("SELECT * FROM appeals WHERE id = ?", (appeal_id,))
        return None if row is None else _appeal(row)

    async def open_for(self, contact_id: int, category: str) -> Appeal | None:
        row = await self.db.fetchone(
            "SELECT * FROM appeals WHERE contact_id = ? AND category = ? AND status = 'open'"
            " ORDER BY id DESC LIMIT 1",
            (contact_id, category),
        )
        return None if row is None else _appeal(row)

    async def add_repeat(self, appeal_id: int, text: str, at: datetime) -> None:
        async with self.db.transaction():
            await self.db.execute(
                "UPDATE appeals SET repeats = repeats + 1 WHERE id = ?", (appeal_id,)
            )
            await self.db.execute(
                "INSERT INTO appeal_messages (appeal_id, text, received_at) VALUES (?, ?, ?)",
                (appeal_id, text, to_db(at)),
            )

    async def answer(self, appeal_id: int, text: str, by: str, at: datetime) -> Appeal | None:
        async with self.db.transaction():
            changed = await self.db.execute(
                "UPDATE appeals SET status = 'answered', answer = ?, answered_by = ?,"
                " answered_at = ? WHERE id = ?",
                (text, by, to_db(at), appeal_id),
            )
            if changed:
                # Every answer is kept: a second one no longer hides the first.
                await self.db.execute(
                    "INSERT INTO appeal_answers (appeal_id, text, answered_by, at)"
                    " VALUES (?, ?, ?, ?)",
                    (appeal_id, text, by, to_db(at)),
                )
        return await self.get(appeal_id)

    async def answers(self, appeal_id: int) -> list[tuple[str, str, datetime]]:
        """Every staff answer to the appeal (text, who, when), oldest first."""
        rows = await self.db.fetchall(
            "SELECT text, answered_by, at FROM appeal_answers WHERE appeal_id = ? ORDER BY id",
            (appeal_id,),
        )
        return [(r["text"], r["answered_by"], from_db(r["at"])) for r in rows]

    async def recent(self, status: str | None = None, limit: int = 100) -> list[Appeal]:
        if status:
            rows = await self.db.fetchall(
                "SELECT * FROM appeals WHERE status = ? ORDER BY due_at LIMIT ?", (status, limit)
            )
        else:
            rows = await self.db.fetchall(
                "SELECT * FROM appeals ORDER BY id DESC LIMIT ?", (limit,)
            )
        return [_appeal(r) for r in rows]

    async def between(self, start: datetime, end: datetime) -> list[Appeal]:
        rows = await self.db.fetchall(
            "SELECT * FROM appeals WHERE created_at >= ? AND created_at < ? ORDER BY id",
            (to_db(start), to_db(end)),
        )
        return [_appeal(r) for r in rows]

    async def messages(self, appeal_id: int) -> list[tuple[str, datetime]]:
        """The appeal's messages (the first and every repeat), oldest first."""
        rows = await self.db.fetchall(
            "SELECT text, received_at FROM appeal_messages WHERE appeal_id = ? ORDER BY id",
            (appeal_id,),
        )
        return [(r["text"], from_db(r["received_at"])) for r in rows]

    async def for_outage(self, contact_id: int, outage_id: int) -> Appeal | None:
        """A contact's appeal already linked to an outage (a second «нет света»)."""
        row = await self.db.fetchone(
            "SELECT * FROM appeals WHERE contact_id = ? AND outage_id = ?"
            " ORDER BY id DESC LIMIT 1",
            (contact_id, outage_id),
        )
        return None if row is None else _appeal(row)


def _outage(row: Row) -> Outage:
    return Outage(
        id=row["id"],
        settlement=row["settlement"],
        street=row["street"],
        houses=row["houses"],
        reason=row["reason"],
        start_at=from_db(row["start_at"]),
        until_at=from_db(row["until_at"]),
        planned=bool(row["planned"]),
        status=row["status"],
        campaign_id=row["campaign_id"],
        restored_campaign_id=row["restored_campaign_id"],
        restored_at=from_db_opt(row["restored_at"]),
    )


class OutageRepo:
    """Known outages (staff broadcasts fill it; appeals read it)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        *,
        settlement: str,
        street: str,
        houses: str,
        reason: str,
        start_at: datetime,
        until_at: datetime,
        planned: bool,
    ) -> Outage:
        from storage.address import settlement_key, street_key

        outage_id = await insert_id(self.db, 
            "INSERT INTO outages (settlement, street, houses, settlement_key, street_key,"
            " reason, start_at, until_at, planned, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                settlement, street, houses, settlement_key(settlement), street_key(street),
                reason, to_db(start_at), to_db(until_at), int(planned), to_db(utcnow()),
            ),
        )
        outage = await self.get(outage_id)
        assert outage is not None
        return outage

    async def get(self, outage_id: int) -> Outage | None:
        row = await self.db.fetchone("SELECT * FROM outages WHERE id = ?", (outage_id,))
        return None if row is None else _outage(row)

    async def active(self, now: datetime) -> list[Outage]:
        """Outages not restored whose window has started and whose expected end is not
        more than a day past (an outage staff forgot to close still explains a dark house,
        but not forever)."""
        rows = await self.db.fetchall(
            "SELECT * FROM outages WHERE status = 'active' AND start_at <= ? AND until_at > ?"
            " ORDER BY id",
            (to_db(now), to_db(now - timedelta(days=1))),
        )
        return [_outage(r) for r in rows]

    async def set_campaign(self, outage_id: int, campaign_id: int, *, restored: bool) -> None:
        column = "restored_campaign_id" if restored else "campaign_id"
        await self.db.execute(
            f"UPDATE outages SET {column} = ? WHERE id = ?", (campaign_id, outage_id)
        )

    async def cancel(self, outage_id: int, at: datetime) -> Outage | None:
        """A planned outage called off before it started."""
        await self.db.execute(
            "UPDATE outages SET status = 'cancelled', restored_at = ? WHERE id = ?"
            " AND status = 'active'",
            (to_db(at), outage_id),
        )
        return await self.get(outage_id)

    async def restore(self, outage_id: int, at: datetime) -> Outage | None:
        await self.db.execute(
            "UPDATE outages SET status = 'restored', restored_at = ? WHERE id = ?"
            " AND status = 'active'",
            (to_db(at), outage_id),
        )
        return await self.get(outage_id)

    async def extend(self, outage_id: int, until: datetime) -> Outage | None:
        await self.db.execute(
            "UPDATE outages SET until_at = ? WHERE id = ? AND status = 'active'",
            (to_db(until), outage_id),
        )
        return await self.get(outage_id)

    async def recent(self, *, active_only: bool = False, limit: int = 200) -> list[Outage]:
        where = " WHERE status = 'active'" if active_only else ""
        rows = await self.db.fetchall(
            f"SELECT * FROM outages{where} ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [_outage(r) for r in rows]
