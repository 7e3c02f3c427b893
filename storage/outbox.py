"""The outbox: every reply and notice, durable until the channel took it.

Rows are claimed with a lease (`status = 'sending'`, `lease_until`; on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, so the senders of several instances never take one row twice
and never wait for each other): a sender that dies leaves its rows to be claimed again
when the lease runs out, so a crash resumes where it stopped and duplicates at most the
messages in flight. The idempotency key makes each
(campaign, recipient) one row, however often a campaign is (re)built.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from storage.db import Database, Row, from_db, from_db_opt, insert_id, to_db, utcnow
from storage.models import OutboxItem

# Priorities: lower goes first (docs/architecture.md: replies before broadcasts).
PRIORITY_REPLY = 0
PRIORITY_URGENT = 10  # unplanned outage, power restored, appeal answers
PRIORITY_BULK = 20  # invoices, debts, planned outages, reminders, surveys

# When several parts of one message report, the message takes its worst part's state
# (ranked in SQL: delivered 0, pending 1, expired 2, anything else 3 → failed).
_RANK_SQL = (
    "CASE state WHEN 'delivered' THEN 0 WHEN 'pending' THEN 1 WHEN 'expired' THEN 2 ELSE 3 END"
)
_RANK_STATUS = {0: "delivered", 2: "expired"}
_CHUNK = 500  # ids per IN (…): well under SQLite's bound on variables
# SMPP 3.4 §5.2.23: a message_id is at most 65 octets. A receipt naming a longer one is
# not kept for later (a malformed or hostile peer must not fill the table).
MAX_MESSAGE_ID = 65


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


@dataclass(frozen=True, slots=True)
class Receipt:
    """One delivery receipt for `OutboxRepo.report_many` (see `OutboxRepo.report`)."""

    channel: str
    message_id: str
    state: str
    at: datetime
    whole: bool = False


@dataclass(frozen=True, slots=True)
class SubmitMark:
    """One SMS part about to go on the wire (`OutboxRepo.journal`)."""

    outbox_id: int
    part: int
    parts: int
    reference: int
    at: datetime


@dataclass(frozen=True, slots=True)
class SubmitAnswer:
    """The SMSC's answer to one part: accepted with `message_id`, or refused (None);
    `unanswered` earlier submits of the part got no answer (possible duplicates)."""

    outbox_id: int
    part: int
    channel: str
    message_id: str | None
    unanswered: int = 0


@dataclass(frozen=True, slots=True)
class PartRecord:
    """The journal's record of one part, read back to resume a message."""

    part: int
    parts: int
    reference: int
    state: str  # submitting | submitted | refused
    message_id: str | None


@dataclass(frozen=True, slots=True)
class NewMessage:
    channel: str
    address: str
    payload: str  # Outbound as JSON
    priority: int = PRIORITY_REPLY
    not_before: datetime | None = None
    valid_until: datetime | None = None
    campaign_id: int | None = None
    account: str | None = None
    phone: str | None = None
    idempotency_key: str | None = None
    status: str = "queued"


def _item(row: Row) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        channel=row["channel"],
        address=row["address"],
        payload=row["payload"],
        priority=row["priority"],
        status=row["status"],
        attempts=row["attempts"],
        campaign_id=row["campaign_id"],
        valid_until=from_db_opt(row["valid_until"]),
        account=row["account"],
        phone=row["phone"],
    )


_INSERT = (
    "INSERT INTO outbox (channel, address, payload, priority, status, not_before, valid_until,"
    " campaign_id, account, phone, idempotency_key, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING"
)


# A part's id → its message. An SMSC may reuse an id for a new message: the mapping then
# moves to the new message and forgets the old part's state; recorded again for the same
# message (the journal, then `mark_sent`), it keeps the state a receipt may have set.
_MAP_ID = (
    "INSERT INTO outbox_message_ids (channel, message_id, outbox_id) VALUES (?, ?, ?)"
    " ON CONFLICT (channel, message_id) DO UPDATE SET outbox_id = excluded.outbox_id,"
    " state = CASE WHEN outbox_message_ids.outbox_id = excluded.outbox_id"
    " THEN outbox_message_ids.state ELSE NULL END"
)


def _row(msg: NewMessage, now: str) -> tuple[Any, ...]:
    return (
        msg.channel,
        msg.address,
        msg.payload,
        msg.priority,
        msg.status,
        to_db(msg.not_before) if msg.not_before else now,
        to_db(msg.valid_until) if msg.valid_until else None,
        msg.campaign_id,
        msg.account,
        msg.phone,
        msg.idempotency_key,
        now,
    )


# One statement for both kinds of journal entry: a mark inserts (or restarts) a part as
# `submitting`; an answer (parts, reference and time given as 0, 0, '') only sets the
# state and message id of the part its mark inserted.
_JOURNAL = (
    "INSERT INTO outbox_submits (outbox_id, part, parts, reference, state, message_id, at)"
    " VALUES {values} ON CONFLICT (outbox_id, part) DO UPDATE SET"
    " state = excluded.state, message_id = excluded.message_id,"
    " parts = CASE WHEN excluded.state = 'submitting' THEN excluded.parts"
    " ELSE outbox_submits.parts END,"
    " reference = CASE WHEN excluded.state = 'submitting' THEN excluded.reference"
    " ELSE outbox_submits.reference END,"
    " at = CASE WHEN excluded.state = 'submitting' THEN excluded.at ELSE outbox_submits.at END"
)

_JOURNAL_ROWS = 100  # rows per statement: 700 variables, under SQLite's bound


@functools.lru_cache(maxsize=_JOURNAL_ROWS)
def _journal_sql(rows: int) -> str:
    """The journal statement for `rows` rows (cached: sqlite3 then finds it prepared)."""
    return _JOURNAL.format(values=", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows))

_MARK_SENT = (
    "UPDATE outbox SET status = 'sent', sent_at = ?, parts = ?, lease_until = NULL,"
    " error = NULL WHERE id = ?"
)


class OutboxRepo:
    """Durable queue of outbound messages over the `outbox` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(self, msg: NewMessage) -> int:
        """Add a message; returns its id, or 0 when its idempotency key exists already."""
        return await insert_id(self.db, _INSERT, _row(msg, to_db(utcnow())))

    async def claim(
        self,
        now: datetime,
        limit: int,
        lease: timedelta,
        *,
        channels: Sequence[str] | None = None,
        max_priority: int | None = None,
    ) -> list[OutboxItem]:
        """Take up to `limit` due messages, best priority first, and lease them."""
        where = (
            "((status IN ('queued', 'deferred') AND not_before <= :now)"
            " OR (status = 'sending' AND lease_until <= :now))"
        )
        params: dict[str, Any] = {"now": to_db(now), "limit": limit}
        if channels is not None:
            names = {f"c{i}": c for i, c in enumerate(channels)}
            where += f" AND channel IN ({', '.join(':' + k for k in names)})"
            params.update(names)
        if max_priority is not None:
            where += " AND priority <= :maxp"
            params["maxp"] = max_priority
        # PostgreSQL, several instances (docs/interfaces.md §13): rows another sender is
        # claiming right now are skipped, not waited for, and never claimed twice.
        # SQLite has one writer: BEGIN IMMEDIATE serialises the claims.
        skip_locked = (
            " FOR UPDATE SKIP LOCKED"
            if self.db.dialect == "postgresql"
            else ""
        )
        async with self.db.transaction():
            rows = await self.db.fetchall(
                f"SELECT * FROM outbox WHERE {where} ORDER BY priority, id LIMIT :limit"
                + skip_locked,
                params,
            )
            if rows and skip_locked:
                rows = await self._after_earlier(rows, params["now"])
            if not rows:
                return []
            ids = [r["id"] for r in rows]
            marks = ",".join("?" * len(ids))
            await self.db.execute(
                f"UPDATE outbox SET status = 'sending', lease_until = ?, attempts = attempts + 1"
                f" WHERE id IN ({marks})",
                [to_db(now + lease), *ids],
            )
            reclaimed = [r["id"] for r in rows if r["status"] == "sending"]
            if reclaimed:
                # Their sender died: a part it submitted without an answer goes again
                # and may reach the recipient twice.
                await self.db.execute(
                    "UPDATE outbox SET possible_duplicate = 1"
                    f" WHERE id IN ({_marks(reclaimed)}) AND EXISTS (SELECT 1 FROM"
                    " outbox_submits s WHERE s.outbox_id = outbox.id"
                    " AND s.state = 'submitting')",
                    reclaimed,
                )
        # As leased: `attempts` counts this try too.
        return [
            replace(_item(r), status="sending", attempts=r["attempts"] + 1) for r in rows
        ]

    async def _after_earlier(self, rows: list[Row], now: str) -> list[Row]:
        """Several instances (docs/interfaces.md §13): keep a customer's replies in order
        on the wire. A claimed reply waits (stays queued, for a later round) while an
        earlier reply to the same channel and address is due or being sent by someone
        else (skipped here as locked, or already `sending`). Earlier replies claimed in
        this same batch are fine: one sender keeps its batch's order per address. Notices
        are not held (a broadcast's claims cost no extra query), and a reply waiting for
        a later `not_before` (a retry) holds nothing back."""
        replies = [r for r in rows if r["priority"] == PRIORITY_REPLY]
        if not replies:
            return rows
        mine = {r["id"] for r in rows}
        keys = sorted({(r["channel"], r["address"]) for r in replies})
        marks = " OR ".join("(channel = ? AND address = ?)" for _ in keys)
        params: list[Any] = [v for key in keys for v in key]
        earlier = await self.db.fetchall(
            f"SELECT id, channel, address FROM outbox WHERE ({marks}) AND priority = ?"
            " AND id < ? AND (status = 'sending'"
            " OR (status IN ('queued', 'deferred') AND not_before <= ?))",
            [*params, PRIORITY_REPLY, max(r["id"] for r in replies), now],
        )
        first_held: dict[tuple[str, str], int] = {}
        for e in earlier:
            if e["id"] not in mine:
                key = (e["channel"], e["address"])
                first_held[key] = min(first_held.get(key, e["id"]), e["id"])
        if not first_held:
            return rows
        return [
            r for r in rows
            if r["priority"] != PRIORITY_REPLY
            or first_held.get((r["channel"], r["address"]), r["id"]) >= r["id"]
        ]

    async def mark_sent(
        self, item_id: int, channel: str, message_ids: Sequence[str], parts: int, at: datetime
    ) -> None:
        async with self.db.transaction():
            await self.db.execute(_MARK_SENT, (to_db(at), parts, item_id))
            if message_ids:
                await self.db.executemany(
                    _MAP_ID, [(channel, mid, item_id) for mid in message_ids]
                )
                await self._apply_early_receipts(channel, {mid: at for mid in message_ids})
                await self._settle({item_id: at})

    async def mark_final(self, item_id: int, status: str, error: str | None = None) -> None:
        """failed | expired | cancelled | delivered (Telegram: accepted means delivered)."""
        column = ", delivered_at = :at" if status == "delivered" else ""
        await self.db.execute(
            f"UPDATE outbox SET status = :status, error = :error, lease_until = NULL{column}"
            " WHERE id = :id",
            {"status": status, "error": error, "id": item_id, "at": to_db(utcnow())},
        )

    async def retry_at(self, item_id: int, when: datetime, error: str) -> None:
        await self.db.execute(
            "UPDATE outbox SET status = 'queued', not_before = ?, lease_until = NULL, error = ?"
            " WHERE id = ?",
            (to_db(when), error, item_id),
        )

    async def reroute(self, item_id: int, channel: str, address: str, payload: str) -> None:
        """Send the same message on another channel (Telegram blocked → SMS)."""
        await self.db.execute(
            "UPDATE outbox SET channel = ?, address = ?, payload = ?, status = 'queued',"
            " lease_until = NULL, attempts = 0 WHERE id = ?",
            (channel, address, payload, item_id),
        )

    async def report(
        self, channel: str, message_id: str, state: str, at: datetime, *, whole: bool = False
    ) -> int | None:
        """Apply a delivery receipt to one part; the message takes its worst part's state
        once every part has a final state. `whole`: the channel already combined its
        parts' receipts and the state is the message's (the SMS channel does so while
        it remembers the parts). Returns the outbox id, or None if unknown."""
        found = await self.report_many([Receipt(channel, message_id, state, at, whole)])
        return found[0]

    async def report_many(self, receipts: Sequence[Receipt]) -> list[int | None]:
        """`report` for many receipts, in their order, in one transaction with a few
        statements per batch (not per receipt): a campaign's receipts arrive as fast as
        its messages go. Returns the outbox id of each, None where the id is unknown
        (kept in `early_receipts` until the sender records it)."""
        if not receipts:
            return []
        async with self.db.transaction():
            owners: dict[tuple[str, str], int] = {}
            wanted: dict[str, set[str]] = {}
            for r in receipts:
                wanted.setdefault(r.channel, set()).add(r.message_id)
            for channel, ids in wanted.items():
                names = sorted(ids)
                for start in range(0, len(names), _CHUNK):
                    chunk = names[start : start + _CHUNK]
                    rows = await self.db.fetchall(
                        "SELECT message_id, outbox_id FROM outbox_message_ids"
                        f" WHERE channel = ? AND message_id IN ({_marks(chunk)})",
                        [channel, *chunk],
                    )
                    owners.update(
                        ((channel, row["message_id"]), int(row["outbox_id"])) for row in rows
                    )
            found = [owners.get((r.channel, r.message_id)) for r in receipts]
            # Not recorded yet (the receipt overtook our bookkeeping): kept for
            # `_apply_early_receipts`. Receipts for ids never recorded stay there
            # harmlessly (a table of receipts, not of messages).
            await self.db.executemany(
                "INSERT INTO early_receipts (channel, message_id, state, whole, at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, message_id) DO UPDATE SET"
                " state = excluded.state, whole = excluded.whole, at = excluded.at",
                [
                    (r.channel, r.message_id, r.state, int(r.whole), to_db(r.at))
                    for r, owner in zip(receipts, found, strict=True)
                    if owner is None and len(r.message_id) <= MAX_MESSAGE_ID
                ],
            )
            # In order: a part's later receipt overrides its earlier one; a `whole`
            # receipt sets every part of its message.
            await self.db.executemany(
                "UPDATE outbox_message_ids SET state = ? WHERE outbox_id = ?"
                " AND (? = 1 OR (channel = ? AND message_id = ?))",
                [
                    (r.state, owner, int(r.whole), r.channel, r.message_id)
                    for r, owner in zip(receipts, found, strict=True)
                    if owner is not None
                ],
            )
            # Each message touched, once: final when no part is pending any more.
            await self._settle(
                {owner: r.at for r, owner in zip(receipts, found, strict=True)
                 if owner is not None}
            )
        return found

    async def _settle(self, last_at: dict[int, datetime]) -> None:
        """Messages whose every part has a final state take the worst one, stamped with
        `last_at` (the last receipt's time). Only a message marked `sent` settles: while
        it is still being sent (or was cut short by a crash), a part without an id yet
        must not let the parts with one decide (`mark_sent_many` settles it after)."""
        touched = sorted(last_at)
        updates: list[tuple[str, str | None, int]] = []
        for start in range(0, len(touched), _CHUNK):
            part = touched[start : start + _CHUNK]
            rows = await self.db.fetchall(
                "SELECT outbox_id,"
                " max(CASE WHEN state IS NULL OR state = 'pending' THEN 1 ELSE 0 END) AS open,"
                f" max({_RANK_SQL}) AS worst FROM outbox_message_ids"
                f" WHERE outbox_id IN ({_marks(part)}) GROUP BY outbox_id",
                part,
            )
            for row in rows:
                if row["open"]:
                    continue
                status = _RANK_STATUS.get(int(row["worst"]), "failed")
                at = to_db(last_at[row["outbox_id"]]) if status == "delivered" else None
                updates.append((status, at, int(row["outbox_id"])))
        await self.db.executemany(
            "UPDATE outbox SET status = ?, delivered_at = ? WHERE id = ? AND status = 'sent'",
            updates,
        )

    async def _apply_early_receipts(self, channel: str, since: dict[str, datetime]) -> None:
        """Receipts that came before these ids were recorded: apply them now (inside the
        caller's transaction). `since` maps each id to when its part was submitted: a
        receipt older than that belongs to an earlier message that had the same id (an
        SMSC reuses ids) and is dropped, never applied."""
        if await self.db.fetchval("SELECT 1 FROM early_receipts LIMIT 1") is None:
            return  # the common case: one cheap look, no per-id queries
        message_ids = sorted(since)
        for start in range(0, len(message_ids), _CHUNK):
            chunk = message_ids[start : start + _CHUNK]
            rows = await self.db.fetchall(
                "SELECT * FROM early_receipts WHERE channel = ?"
                f" AND message_id IN ({_marks(chunk)})",
                [channel, *chunk],
            )
            if not rows:
                continue
            await self.db.executemany(
                "DELETE FROM early_receipts WHERE channel = ? AND message_id = ?",
                [(channel, row["message_id"]) for row in rows],
            )
            await self.report_many(
                [
                    Receipt(
                        channel, row["message_id"], row["state"], from_db(row["at"]),
                        bool(row["whole"]),
                    )
                    for row in rows
                    if from_db(row["at"]) >= since[row["message_id"]]
                ]
            )

    async def forget_early_receipts(self, before: datetime) -> int:
        """Drop receipts for ids still unknown that arrived before `before` (their
        message was never ours, or its bookkeeping is long lost). Returns how many."""
        return await self.db.execute(
            "DELETE FROM early_receipts WHERE at < ?", (to_db(before),)
        )

    # -- the submit journal (docs/architecture.md, the outbox) ---------------------------

    async def journal(
        self, answers: Sequence[SubmitAnswer], marks: Sequence[SubmitMark]
    ) -> None:
        """Record SMSC answers to parts, then parts about to be submitted, in one
        transaction (group commit: the parts of a whole window share it) of one
        statement, the journal being on every part's path. The ids are mapped for
        receipts by `mark_sent_many` (a receipt before that waits in early_receipts)."""
        if not answers and not marks:
            return
        rows = [
            (a.outbox_id, a.part, 0, 0,
             "submitted" if a.message_id is not None else "refused", a.message_id, "")
            for a in answers
        ] + [
            (m.outbox_id, m.part, m.parts, m.reference, "submitting", None, to_db(m.at))
            for m in marks
        ]
        doubtful = sorted({a.outbox_id for a in answers if a.unanswered})
        if doubtful:  # first: a crash right after must not lose the flag
            await self.db.execute(
                f"UPDATE outbox SET possible_duplicate = 1 WHERE id IN ({_marks(doubtful)})",
                doubtful,
            )
        # One multi-row statement per chunk, atomic on its own: the journal is on every
        # part's path, and a transaction around it would cost two more round trips. It
        # goes through `executemany` with one set of parameters: that is one call into
        # the database thread, where `execute` takes a second one to close its cursor.
        for start in range(0, len(rows), _JOURNAL_ROWS):
            chunk = rows[start : start + _JOURNAL_ROWS]
            await self.db.executemany(
                _journal_sql(len(chunk)), [[v for row in chunk for v in row]]
            )

    async def extend_lease(self, outbox_ids: Sequence[int], until: datetime) -> None:
        """The sender still holds these messages (a slow SMSC, a long queue for the
        window): their lease runs until `until`, so nobody takes them over meanwhile."""
        ids = sorted(set(outbox_ids))
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            await self.db.execute(
                "UPDATE outbox SET lease_until = ?"
                f" WHERE status = 'sending' AND id IN ({_marks(chunk)})",
                [to_db(until), *chunk],
            )

    async def forget_submits(self) -> int:
        """Drop the journal of messages that can no longer be claimed (sent, final):
        it matters only while a message may be claimed again. Returns how many parts."""
        return await self.db.execute(
            "DELETE FROM outbox_submits WHERE EXISTS (SELECT 1 FROM outbox o"
            " WHERE o.id = outbox_submits.outbox_id"
            " AND o.status NOT IN ('queued', 'sending', 'deferred'))"
        )

    async def parts(self, outbox_ids: Sequence[int]) -> dict[int, list[PartRecord]]:
        """The journal's records of these messages' parts, by outbox id, in part order."""
        found: dict[int, list[PartRecord]] = {}
        ids = sorted(set(outbox_ids))
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = await self.db.fetchall(
                "SELECT * FROM outbox_submits"
                f" WHERE outbox_id IN ({_marks(chunk)}) ORDER BY outbox_id, part",
                chunk,
            )
            for r in rows:
                found.setdefault(int(r["outbox_id"]), []).append(
                    PartRecord(
                        int(r["part"]), int(r["parts"]), int(r["reference"]), r["state"],
                        r["message_id"],
                    )
                )
        return found

    async def describe(self, outbox_ids: Sequence[int]) -> dict[int, OutboxItem]:
        """The rows of these ids (for log lines about receipts), by id."""
        found: dict[int, OutboxItem] = {}
        ids = sorted(set(outbox_ids))
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = await self.db.fetchall(
                f"SELECT * FROM outbox WHERE id IN ({_marks(chunk)})", chunk
            )
            found.update((int(r["id"]), _item(r)) for r in rows)
        return found

    async def stuck(self, now: datetime) -> int:
        """Messages still `sending` after their lease ran out at `now`: nobody is
        sending them (/healthz reports the sender down while there are any)."""
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM outbox WHERE status = 'sending' AND lease_until < ?",
                (to_db(now),),
            )
        )

    async def get(self, item_id: int) -> OutboxItem | None:
        row = await self.db.fetchone("SELECT * FROM outbox WHERE id = ?", (item_id,))
        return None if row is None else _item(row)

    async def pending_count(self) -> int:
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending', 'deferred')"
            )
        )

    async def sent_to(self, channel: str, address: str) -> list[str]:
        """Texts sent or queued to one address, oldest first (console and dev tools)."""
        rows = await self.db.fetchall(
            "SELECT payload FROM outbox WHERE channel = ? AND address = ? ORDER BY id",
            (channel, address),
        )
        texts = (json.loads(r["payload"]).get("text") for r in rows)
        return [t for t in texts if t is not None]  # templated campaign rows carry none

    # -- batch operations of the notification sender (notifications/sender.py) ----------

    async def mark_sent_many(
        self, sent: Sequence[tuple[int, str, Sequence[str], int]], at: datetime
    ) -> None:
        """`mark_sent` for many messages in one transaction: (id, channel, message ids,
        parts) each. One commit per batch is what lets the sender reach a thousand
        messages a second on SQLite."""
        if not sent:
            return
        stamp = to_db(at)
        async with self.db.transaction():
            await self.db.executemany(
                _MARK_SENT, [(stamp, parts, item_id) for item_id, _, _, parts in sent]
            )
            await self.db.executemany(
                _MAP_ID, [(ch, mid, item_id) for item_id, ch, mids, _ in sent for mid in mids]
            )
            by_channel: dict[str, dict[str, datetime]] = {}
            for _, ch, mids, _ in sent:
                by_channel.setdefault(ch, {}).update((mid, at) for mid in mids)
            for ch, since in by_channel.items():
                await self._apply_early_receipts(ch, since)
            # Receipts that came while the message was being sent (through the
            # journal's ids) settle it now.
            await self._settle({item_id: at for item_id, _, _, _ in sent})

    async def release(self, items: Sequence[tuple[int, datetime]]) -> None:
        """Give claimed messages back unsent (a rate limit said «not yet»): queued again
        at the given time, the claim not counted as a try."""
        if items:
            await self.db.executemany(
                "UPDATE outbox SET status = 'queued', not_before = ?, lease_until = NULL,"
                " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"
                " WHERE id = ? AND status = 'sending'",
                [(to_db(when), item_id) for item_id, when in items],
            )

    async def defer_priority(self, min_priority: int, until: datetime) -> int:
        """Quiet hours: every queued message of `min_priority` or worse that would go
        before `until` waits until then (status `deferred`). Returns how many."""
        return await self.db.execute(
            "UPDATE outbox SET status = 'deferred', not_before = :until"
            " WHERE status IN ('queued', 'deferred') AND priority >= :p AND not_before < :until",
            {"until": to_db(until), "p": min_priority},
        )
