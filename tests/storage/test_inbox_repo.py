"""Contract tests of the `Inbox` and `Audit` ports (`storage.ports`), over every store
implementation through the `store` fixture (tests/conftest.py)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.db import IntegrityError, migrations, to_db
from storage.inbox import NewInboxMessage
from storage.store import Store

T0 = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


async def _thread(store: Store, address: str, *, due: datetime | None, at: datetime = T0,
                  kind: str = "unrecognised", channel: str = "sms") -> int:
    contact = await store.contacts.resolve(channel, address, phone=address, verified_by="sms")
    thread = await store.inbox.create(
        contact_id=contact.id, channel=channel, address=address, reply_source="7555",
        kind=kind, due_at=due, appeal_id=None, text="ывапролд", received_at=at,
    )
    return thread.id


async def test_one_live_thread_per_contact_and_a_new_one_after_closing(store: Store) -> None:
    first = await _thread(store, "+79120000001", due=T0 + timedelta(hours=4))
    contact = await store.contacts.get("sms", "+79120000001")
    assert contact is not None
    live = await store.inbox.live_for(contact.id)
    assert live is not None
    assert live.id == first
    assert live.state == "open"
    assert live.reply_source == "7555"
    with pytest.raises(IntegrityError):
        await _thread(store, "+79120000001", due=T0)
    assert await store.inbox.close(first, "anna", T0, None)
    assert not await store.inbox.close(first, "boris", T0, None)  # closed once
    assert await store.inbox.live_for(contact.id) is None
    second = await _thread(store, "+79120000001", due=T0)
    assert second != first
    closed = await store.inbox.get(first)
    assert closed is not None
    assert (closed.state, closed.closed_by) == ("closed", "anna")


async def test_messages_both_directions_and_an_inbound_message_only_once(store: Store) -> None:
    thread = await _thread(store, "+79120000001", due=T0)
    entry, _ = await store.journal.append("sms", "x1", "+79120000001", "{}", T0)
    first = await store.inbox.add_message(
        thread, NewInboxMessage("in", "customer", "<script>alert(1)</script>", T0,
                                handled=False, inbound_id=entry,
                                attachment={"kind": "photo", "size": 10},
                                attachment_data=b"\x89PNG"),
    )
    again = await store.inbox.add_message(
        thread, NewInboxMessage("in", "customer", "again", T0, inbound_id=entry)
    )
    assert first > 0
    assert again == 0  # processing the same inbound message again adds nothing
    reply = await store.inbox.add_message(
        thread, NewInboxMessage("out", "anna", "Ответ", T0 + timedelta(minutes=5))
    )
    messages = await store.inbox.messages(thread)
    assert [(m.direction, m.author, m.text) for m in messages] == [
        ("in", "customer", "<script>alert(1)</script>"),  # stored as is
        ("out", "anna", "Ответ"),
    ]
    assert messages[0].handled is False
    assert messages[0].attachment == {"kind": "photo", "size": 10}
    assert await store.inbox.attachment(first) == ({"kind": "photo", "size": 10}, b"\x89PNG")
    assert await store.inbox.attachment(reply) is None
    assert [m.id for m in await store.inbox.answers_after(thread, first)] == [reply]
    assert await store.inbox.answers_after(thread, reply) == []


async def test_customer_message_reopens_an_answered_thread(store: Store) -> None:
    thread = await _thread(store, "+79120000001", due=T0)
    await store.inbox.mark_answered(thread, "anna", T0 + timedelta(hours=1))
    got = await store.inbox.get(thread)
    assert got is not None
    assert (got.state, got.answered_by) == ("answered", "anna")
    later = T0 + timedelta(days=1)
    # a message the bot handled does not reopen it
    await store.inbox.customer_wrote(thread, "ЛС 1 4521", later)
    got = await store.inbox.get(thread)
    assert got is not None
    assert (got.state, got.text, got.received_at) == ("answered", "ЛС 1 4521", later)
    await store.inbox.customer_wrote(
        thread, "а когда?", later, reopen_due=later + timedelta(hours=4), first_unhandled=7
    )
    got = await store.inbox.get(thread)
    assert got is not None
    assert (got.state, got.due_at, got.first_message_id) == (
        "open", later + timedelta(hours=4), 7
    )
    await store.inbox.customer_wrote(thread, "ещё", later, first_unhandled=9)
    got = await store.inbox.get(thread)
    assert got is not None
    assert got.first_message_id == 7  # the first one stays


async def test_items_most_urgent_first_and_filters(store: Store) -> None:
    now = T0 + timedelta(hours=10)
    late = await _thread(store, "+79120000001", due=T0 + timedelta(hours=2))  # overdue
    soon = await _thread(store, "+79120000002", due=now + timedelta(hours=1))
    later = await _thread(store, "+79120000003", due=now + timedelta(hours=5),
                          channel="telegram")
    no_due = await _thread(store, "+79120000004", due=None, kind="appeal")
    also_late = await _thread(store, "+79120000005", due=T0 + timedelta(hours=3),
                              at=T0 - timedelta(days=1))
    order = [t.id for t in await store.inbox.items(now)]
    assert order == [late, also_late, soon, later, no_due]
    assert [t.id for t in await store.inbox.items(now, channel="telegram")] == [later]
    assert [t.id for t in await store.inbox.items(now, kind="appeal")] == [no_due]
    # an answered item past its due time is no longer overdue: it sorts by due time
    await store.inbox.mark_answered(late, "anna", now)
    assert [t.id for t in await store.inbox.items(now)] == [
        also_late, late, soon, later, no_due
    ]
    await store.inbox.close(soon, "anna", now, {"intent": "unknown"})
    assert soon not in [t.id for t in await store.inbox.items(now, state="open")]
    assert [t.id for t in await store.inbox.items(now, state="closed")] == [soon]
    assert await store.inbox.count_open() == 3


async def test_link_appeal_keeps_the_sooner_due_time(store: Store) -> None:
    thread = await _thread(store, "+79120000001", due=T0 + timedelta(hours=4))
    contact = await store.contacts.get("sms", "+79120000001")
    assert contact is not None
    appeal = await store.appeals.create(
        contact_id=contact.id, channel="sms", address="+79120000001", reply_source="7555",
        account=None, category="billing", text="счёт", created_at=T0,
        due_at=T0 + timedelta(days=3),
    )
    await store.inbox.link_appeal(thread, appeal.id, appeal.due_at)
    got = await store.inbox.get(thread)
    assert got is not None
    assert (got.appeal_id, got.due_at, got.category) == (
        appeal.id, T0 + timedelta(hours=4), "billing"
    )
    assert [t.id for t in await store.inbox.items(T0, category="billing")] == [thread]
    assert await store.inbox.items(T0, category="meter") == []
    found = await store.inbox.for_appeal(appeal.id)
    assert found is not None
    assert found.id == thread


async def test_labelled_lists_the_first_unhandled_message(store: Store) -> None:
    thread = await _thread(store, "+79120000001", due=T0)
    first = await store.inbox.add_message(
        thread, NewInboxMessage("in", "customer", "счетчик сгорел", T0, handled=False)
    )
    await store.inbox.customer_wrote(thread, "счетчик сгорел", T0, first_unhandled=first)
    await store.inbox.add_message(thread, NewInboxMessage("in", "customer", "ещё", T0))
    assert await store.inbox.labelled() == []
    label = {"intent": "appeal", "appeal_category": "meter"}
    await store.inbox.close(thread, "anna", T0, label)
    [row] = await store.inbox.labelled()
    assert (row.thread_id, row.text, row.label, row.channel) == (
        thread, "счетчик сгорел", label, "sms"
    )
    got = await store.inbox.get(thread)
    assert got is not None
    assert got.labelled_by == "anna"


async def test_audit_is_append_only_newest_first(store: Store) -> None:
    one = await store.audit.append("anna", "inbox.reply", "inbox:1", {"outbox": 3}, T0)
    two = await store.audit.append("api", "inbox.close", "inbox:2", {}, T0)
    assert two > one
    entries = await store.audit.recent()
    assert [(e.actor, e.action, e.subject) for e in entries] == [
        ("api", "inbox.close", "inbox:2"),
        ("anna", "inbox.reply", "inbox:1"),
    ]
    [only] = await store.audit.recent("inbox:1")
    assert (only.details, only.at) == ({"outbox": 3}, T0)


async def test_appeal_answers_are_kept_as_a_history(store: Store) -> None:
    contact = await store.contacts.resolve("sms", "+79120000001", phone="+79120000001",
                                           verified_by="sms")
    appeal = await store.appeals.create(
        contact_id=contact.id, channel="sms", address="+79120000001", reply_source=None,
        account=None, category="billing", text="счёт", created_at=T0, due_at=T0,
    )
    await store.appeals.answer(appeal.id, "Первый ответ", "anna", T0 + timedelta(hours=1))
    latest = await store.appeals.answer(appeal.id, "Уточнение", "boris", T0 + timedelta(hours=2))
    assert latest is not None
    assert latest.answer == "Уточнение"
    assert await store.appeals.answers(appeal.id) == [
        ("Первый ответ", "anna", T0 + timedelta(hours=1)),
        ("Уточнение", "boris", T0 + timedelta(hours=2)),
    ]
    assert await store.appeals.answer(999, "x", "anna", T0) is None
    assert await store.appeals.answers(999) == []


async def test_open_appeals_become_inbox_items_on_upgrade(tmp_path: Path) -> None:
    """A database made before the inbox (the schema before the *_inbox migration) with open
    appeals: after the upgrade each contact's newest open appeal is an item, with its
    message."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        before = [m for m in migrations() if not m[1].endswith("_inbox.sql")]
        inbox_version = next(v for v, name, _ in migrations() if name.endswith("_inbox.sql"))
        for version, _, sql in before[: inbox_version - 1]:
            conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
        at = to_db(T0)
        conn.executescript(
            "INSERT INTO contacts (id, channel, address, phone, created_at) VALUES"
            f" (1, 'sms', '+79120000001', '+79120000001', '{at}'),"
            f" (2, 'telegram', '42', NULL, '{at}');"
            "INSERT INTO appeals (id, contact_id, channel, address, category, text, status,"
            " created_at, due_at) VALUES"
            f" (1, 1, 'sms', '+79120000001', 'billing', 'старое', 'open', '{at}', '{at}'),"
            f" (2, 1, 'sms', '+79120000001', 'meter', 'новое', 'open', '{at}', '{at}'),"
            f" (3, 2, 'telegram', '42', 'other', 'отвечено', 'answered', '{at}', '{at}');"
        )
    async with await Store.open(path) as store:
        items = await store.inbox.items(T0)
        assert [(t.contact_id, t.appeal_id, t.kind, t.state, t.text) for t in items] == [
            (1, 2, "appeal", "open", "новое")
        ]
        [message] = await store.inbox.messages(items[0].id)
        assert (message.text, message.handled, items[0].first_message_id) == (
            "новое", False, message.id
        )
