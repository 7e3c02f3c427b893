"""The inbox and the audit log over SQLite (migration 007; docs/interfaces.md §12).

A thread is one contact's conversation with people: it opens when the bot cannot act
on a message (or the customer asks for a person, or writes an appeal) and collects the
contact's later messages, the bot's replies and staff answers until it is closed. At
most one thread per contact is live (not closed): a unique index on (contact_id, live)
where `live` is 1 until the thread is closed and NULL after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, Row, from_db, from_db_opt, insert_id, to_db

THREAD_KINDS = ("unrecognised", "handover", "appeal")
THREAD_STATES = ("open", "answered", "closed")


@dataclass(frozen=True, slots=True)
class InboxThread:
    id: int
    contact_id: int
    channel: str
    address: str
    reply_source: str | None
    kind: str
    state: str
    due_at: datetime | None
    appeal_id: int | None
    first_message_id: int | None
    label: dict[str, Any] | None
    labelled_by: str | None
    acknowledged_at: datetime | None
    text: str
    received_at: datetime
    created_at: datetime
    answered_at: datetime | None
    answered_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    category: str | None = None  # the linked appeal's category


@dataclass(frozen=True, slots=True)
class InboxMessage:
    id: int
    thread_id: int
    direction: str  # in | out
    author: str  # customer | bot | a staff login | api | telegram:<id>
    text: str
    at: datetime
    handled: bool
    inbound_id: int | None
    outbox_id: int | None
    attachment: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class NewInboxMessage:
    direction: str
    author: str
    text: str
    at: datetime
    handled: bool = True
    inbound_id: int | None = None
    outbox_id: int | None = None
    attachment: dict[str, Any] | None = None
    attachment_data: bytes | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True)
class LabelledMessage:
    """A message a person labelled, for `gateway export labelled`."""

    thread_id: int
    text: str
    label: dict[str, Any]
    channel: str
    at: datetime


def _thread(row: Row) -> InboxThread:
    keys = row.keys()
    return InboxThread(
        id=row["id"],
        contact_id=row["contact_id"],
        channel=row["channel"],
        address=row["address"],
        reply_source=row["reply_source"],
        kind=row["kind"],
        state=row["state"],
        due_at=from_db_opt(row["due_at"]),
        appeal_id=row["appeal_id"],
        first_message_id=row["first_message_id"],
        label=json.loads(row["label"]) if row["label"] else None,
        labelled_by=row["labelled_by"],
        acknowledged_at=from_db_opt(row["acknowledged_at"]),
        text=row["text"],
        received_at=from_db(row["received_at"]),
        created_at=from_db(row["created_at"]),
        answered_at=from_db_opt(row["answered_at"]),
        answered_by=row["answered_by"],
        closed_at=from_db_opt(row["closed_at"]),
        closed_by=row["closed_by"],
        category=row["category"] if "category" in keys else None,
    )


def _message(row: Row) -> InboxMessage:
    return InboxMessage(
        id=row["id"],
        thread_id=row["thread_id"],
        direction=row["direction"],
        author=row["author"],
        text=row["text"],
        at=from_db(row["at"]),
        handled=bool(row["handled"]),
        inbound_id=row["inbound_id"],
        outbox_id=row["outbox_id"],
        attachment=json.loads(row["attachment"]) if row["attachment"] else None,
    )


_SELECT = (
    "SELECT t.*, a.category AS category FROM inbox_threads t"
    " LEFT JOIN appeals a ON a.id = t.appeal_id"
)


class InboxRepo:
    """Inbox threads and their messages."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        *,
        contact_id: int,
        channel: str,
        address: str,
        reply_source: str | None,
        kind: str,
        due_at: datetime | None,
        appeal_id: int | None,
        text: str,
        received_at: datetime,
    ) -> InboxThread:
        if kind not in THREAD_KINDS:
            raise ValueError(f"unknown thread kind {kind!r}")
        thread_id = await insert_id(self.db, 
            "INSERT INTO inbox_threads (contact_id, channel, address, reply_source, kind,"
            " due_at, appeal_id, text, received_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                contact_id, channel, address, reply_source, kind,
                None if due_at is None else to_db(due_at), appeal_id, text,
                to_db(received_at), to_db(received_at),
            ),
        )
        thread = await self.get(thread_id)
        assert thread is not None
        return thread

    async def get(self, thread_id: int) -> InboxThread | None:
        row = await self.db.fetchone(f"{_SELECT} WHERE t.id = ?", (thread_id,))
        return None if row is None else _thread(row)

    async def live_for(self, contact_id: int) -> InboxThread | None:
        """The contact's thread that is not closed, if any."""
        row = await self.db.fetchone(
            f"{_SELECT} WHERE t.contact_id = ? AND t.live = 1", (contact_id,)
        )
        return None if row is None else _thread(row)

    async def for_appeal(self, appeal_id: int) -> InboxThread | None:
        row = await self.db.fetchone(
            f"{_SELECT} WHERE t.appeal_id = ? ORDER BY t.id DESC LIMIT 1", (appeal_id,)
        )
        return None if row is None else _thread(row)

    async def add_message(self, thread_id: int, msg: NewInboxMessage) -> int:
        """Append a message; returns its id (0 when that inbound message or outbox row is
        in a thread already: processing again after a crash adds nothing)."""
        return await insert_id(self.db, 
            "INSERT INTO inbox_messages (thread_id, direction, author, text, at, handled,"
            " inbound_id, outbox_id, attachment, attachment_data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                thread_id, msg.direction, msg.author, msg.text, to_db(msg.at),
                1 if msg.handled else 0, msg.inbound_id, msg.outbox_id,
                None if msg.attachment is None else json.dumps(msg.attachment),
                msg.attachment_data,
            ),
        )

    async def link_outbox(self, message_id: int, outbox_id: int) -> None:
        """The outbox row that carries a message sent from the thread."""
        await self.db.execute(
            "UPDATE inbox_messages SET outbox_id = ? WHERE id = ?",
            (outbox_id or None, message_id),
        )

    async def customer_wrote(
        self,
        thread_id: int,
        text: str,
        at: datetime,
        *,
        reopen_due: datetime | None = None,
        first_unhandled: int | None = None,
    ) -> None:
        """The latest customer message; `reopen_due` sets an answered thread open again
        with that due time; `first_unhandled` is kept only if none is set yet."""
        await self.db.execute(
            "UPDATE inbox_threads SET text = ?, received_at = ?,"
            " first_message_id = COALESCE(first_message_id, ?),"
            " state = CASE WHEN ? = 1 AND state = 'answered' THEN 'open' ELSE state END,"
            " due_at = CASE WHEN ? = 1 AND state = 'answered' THEN ? ELSE due_at END"
            " WHERE id = ?",
            (
                text, to_db(at), first_unhandled,
                1 if reopen_due else 0, 1 if reopen_due else 0,
                None if reopen_due is None else to_db(reopen_due), thread_id,
            ),
        )

    async def acknowledge(self, thread_id: int, at: datetime) -> None:
        await self.db.execute(
            "UPDATE inbox_threads SET acknowledged_at = ? WHERE id = ?", (to_db(at), thread_id)
        )

    async def link_appeal(self, thread_id: int, appeal_id: int, due_at: datetime) -> None:
        """Link an appeal; its due time wins when sooner (or none was set)."""
        due = to_db(due_at)
        await self.db.execute(
            "UPDATE inbox_threads SET appeal_id = COALESCE(appeal_id, ?),"
            " due_at = CASE WHEN due_at IS NULL OR due_at > ? THEN ? ELSE due_at END"
            " WHERE id = ?",
            (appeal_id, due, due, thread_id),
        )

    async def mark_answered(self, thread_id: int, by: str, at: datetime) -> None:
        await self.db.execute(
            "UPDATE inbox_threads SET state = CASE WHEN state = 'open' THEN 'answered'"
            " ELSE state END, answered_at = ?, answered_by = ? WHERE id = ?",
            (to_db(at), by, thread_id),
        )

    async def close(
        self, thread_id: int, by: str, at: datetime, label: dict[str, Any] | None
    ) -> bool:
        """Close a live thread (with the label, when given); False if already closed."""
        changed = await self.db.execute(
            "UPDATE inbox_threads SET state = 'closed', live = NULL, closed_at = ?,"
            " closed_by = ?, label = COALESCE(?, label),"
            " labelled_by = CASE WHEN CAST(? AS TEXT) IS NULL THEN labelled_by ELSE ? END"
            " WHERE id = ? AND live = 1",
            (
                to_db(at), by, None if label is None else json.dumps(label, ensure_ascii=False),
                None if label is None else by, by, thread_id,
            ),
        )
        return changed > 0

    async def answers_after(self, thread_id: int, after: int) -> list[InboxMessage]:
        """Messages people sent in the thread after message `after` (the race check)."""
        rows = await self.db.fetchall(
            "SELECT * FROM inbox_messages WHERE thread_id = ? AND id > ? AND direction = 'out'"
            " AND author <> 'bot' ORDER BY id",
            (thread_id, after),
        )
        return [_message(r) for r in rows]

    async def messages(self, thread_id: int) -> list[InboxMessage]:
        rows = await self.db.fetchall(
            "SELECT id, thread_id, direction, author, text, at, handled, inbound_id, outbox_id,"
            " attachment FROM inbox_messages WHERE thread_id = ? ORDER BY id",
            (thread_id,),
        )
        return [_message(r) for r in rows]

    async def attachment(self, message_id: int) -> tuple[dict[str, Any], bytes | None] | None:
        """An attachment's description and its bytes (None when it was too large)."""
        row = await self.db.fetchone(
            "SELECT attachment, attachment_data FROM inbox_messages WHERE id = ?",
            (message_id,),
        )
        if row is None or not row["attachment"]:
            return None
        data = row["attachment_data"]
        return json.loads(row["attachment"]), None if data is None else bytes(data)

    async def keep_attachment(self, message_id: int, data: bytes) -> None:
        """Keep the bytes of a message's attachment (fetched from its channel)."""
        await self.db.execute(
            "UPDATE inbox_messages SET attachment_data = ? WHERE id = ?", (data, message_id)
        )

    async def items(
        self,
        now: datetime,
        *,
        state: str | None = None,
        channel: str | None = None,
        kind: str | None = None,
        category: str | None = None,
        limit: int = 200,
    ) -> list[InboxThread]:
        """Threads, most urgent first: overdue (open past its due time), then by due
        time, then by arrival."""
        where, params = [], []
        for column, value in (
            ("t.state", state), ("t.channel", channel), ("t.kind", kind), ("a.category", category)
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = await self.db.fetchall(
            f"{_SELECT}{clause} ORDER BY"
            " CASE WHEN t.state = 'open' AND t.due_at < ? THEN 0 ELSE 1 END,"
            " CASE WHEN t.due_at IS NULL THEN 1 ELSE 0 END, t.due_at, t.received_at, t.id"
            " LIMIT ?",
            (*params, to_db(now), limit),
        )
        return [_thread(r) for r in rows]

    async def count_open(self) -> int:
        return int(await self.db.fetchval(
            "SELECT COUNT(*) FROM inbox_threads WHERE state = 'open'"
        ) or 0)

    async def labelled(self) -> list[LabelledMessage]:
        """Every labelled thread's first unhandled message, by thread id."""
        rows = await self.db.fetchall(
            "SELECT t.id, t.label, t.channel, m.text, m.at FROM inbox_threads t"
            " JOIN inbox_messages m ON m.id = t.first_message_id"
            " WHERE t.label IS NOT NULL ORDER BY t.id"
        )
        return [
            LabelledMessage(
                thread_id=r["id"], text=r["text"], label=json.loads(r["label"]),
                channel=r["channel"], at=from_db(r["at"]),
            )
            for r in rows
        ]


class AuditRepo:
    """The audit log: append-only."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def append(
        self, actor: str, action: str, subject: str, details: dict[str, Any], at: datetime
    ) -> int:
        return await insert_id(self.db, 
            "INSERT INTO audit_log (actor, action, subject, details, at) VALUES (?, ?, ?, ?, ?)",
            (actor, action, subject, json.dumps(details, ensure_ascii=False), to_db(at)),
        )

    async def recent(self, subject: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest entries first, optionally of one subject (`inbox:12`)."""
        if subject is None:
            rows = await self.db.fetchall(
                "SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)
            )
        else:
            rows = await self.db.fetchall(
                "SELECT * FROM audit_log WHERE subject = ? ORDER BY id DESC LIMIT ?",
                (subject, limit),
            )
        return [
            AuditEntry(
                id=r["id"], actor=r["actor"], action=r["action"], subject=r["subject"],
                details=json.loads(r["details"]), at=from_db(r["at"]),
            )
            for r in rows
        ]
