"""Contract tests of the repositories, run over every storage implementation (the
`store` fixture in tests/conftest.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from storage.db import Database, migrations
from storage.models import ConversationKey, ConversationState, NewReading
from storage.outbox import PRIORITY_BULK, PRIORITY_REPLY, NewMessage
from storage.store import Store

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


async def test_migrations_set_user_version_and_reopen_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    async with Database(path) as db:
        assert await db.fetchval("PRAGMA user_version") == len(migrations())
        assert await db.fetchval("PRAGMA journal_mode") == "wal"
    async with Database(path) as db:
        assert await db.migrate() == len(migrations())


async def test_transaction_rolls_back_on_error(store: Store) -> None:
    db = store.db
    try:
        async with db.transaction():
            await db.execute(
                "INSERT INTO campaigns (kind, created_at) VALUES ('outage', '2026-01-01')"
            )
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert await db.fetchval("SELECT count(*) FROM campaigns") == 0


async def test_journal_deduplicates_by_channel_and_external_id(store: Store) -> None:
    first = await store.journal.append("sms", "m1", "+79121234567", "{}", T0)
    again = await store.journal.append("sms", "m1", "+79121234567", "{}", T0)
    other = await store.journal.append("telegram", "m1", "42", "{}", T0)
    assert first[1] is True
    assert again == (first[0], False)
    assert other[1] is True
    assert [e.id for e in await store.journal.unprocessed()] == [first[0], other[0]]
    await store.journal.mark_processed(first[0])
    assert [e.id for e in await store.journal.unprocessed()] == [other[0]]


async def test_state_roundtrip_and_expiry(store: Store) -> None:
    key = ConversationKey("sms", "+79121234567")
    assert await store.state.get(key) is None
    state = ConversationState("confirm_readings", {"ids": [1, 2]}, T0 + timedelta(minutes=30))
    await store.state.set(key, state)
    assert await store.state.get(key, T0) == state
    assert await store.state.get(key, T0 + timedelta(hours=1)) is None
    await store.state.set(key, None)
    assert await store.state.get(key, T0) is None


async def test_contacts_resolve_once_and_verify(store: Store) -> None:
    sms = await store.contacts.resolve("sms", "+79121234567", phone="+79121234567",
                                       verified_by="sms")
    again = await store.contacts.resolve("sms", "+79121234567")
    assert sms.id == again.id
    assert sms.is_verified
    tg = await store.contacts.resolve("telegram", "111")
    assert not tg.is_verified
    await store.contacts.verify_phone(tg.id, "+79121234567", "contact")
    assert [c.channel for c in await store.contacts.by_phone("+79121234567")] == [
        "sms", "telegram"
    ]
    await store.contacts.unlink(tg.id)
    assert [c.channel for c in await store.contacts.by_phone("+79121234567")] == ["sms"]


def _reading(value: str, period: str = "2026-11", status: str = "accepted") -> NewReading:
    return NewReading(
        account="1234567890", meter_serial="011234567", zone="T1", value=Decimal(value),
        period=period, channel="sms", sender="+79121234567", received_at=T0,
        status=status,  # type: ignore[arg-type]
    )


async def test_readings_correction_replaces_and_pending_confirms(store: Store) -> None:
    _, replaced = await store.readings.save([_reading("4521")])
    assert replaced is False
    _, replaced = await store.readings.save([_reading("4530")])
    assert replaced is True
    current = await store.readings.current("1234567890", "011234567", "T1", "2026-11")
    assert current is not None
    assert current.value == Decimal("4530")
    ids, _ = await store.readings.save([_reading("9999", status="pending")])
    # a pending value is not current and not exported
    current = await store.readings.current("1234567890", "011234567", "T1", "2026-11")
    assert current is not None
    assert current.value == Decimal("4530")
    assert [r.value for r in await store.readings.export_rows(None, False)] == [Decimal("4530")]
    assert await store.readings.confirm(ids) is True
    exported = await store.readings.export_rows("2026-11", False)
    assert [r.value for r in exported] == [Decimal("9999")]
    # an earlier period is the base for validation of the next one
    base = await store.readings.last_before("1234567890", "011234567", "T1", "2026-12")
    assert base is not None
    assert base.value == Decimal("9999")


async def test_outbox_priority_lease_idempotency(store: Store) -> None:
    outbox = store.outbox

    def msg(text: str, priority: int, key: str | None = None) -> NewMessage:
        payload = json.dumps({"channel": "sms", "address": "+7912", "text": text})
        return NewMessage("sms", "+7912", payload, priority=priority, idempotency_key=key)

    await outbox.enqueue(msg("bulk", PRIORITY_BULK, "c1:+7912"))
    assert await outbox.enqueue(msg("bulk again", PRIORITY_BULK, "c1:+7912")) == 0
    await outbox.enqueue(msg("reply", PRIORITY_REPLY))
    now = datetime.now(UTC)
    claimed = await outbox.claim(now, 10, timedelta(seconds=30))
    assert [json.loads(i.payload)["text"] for i in claimed] == ["reply", "bulk"]
    # leased rows are not claimed again until the lease runs out (a crashed sender)
    assert await outbox.claim(now, 10, timedelta(seconds=30)) == []
    again = await outbox.claim(now + timedelta(seconds=31), 10, timedelta(seconds=30))
    assert len(again) == 2
    assert all(i.attempts == 2 for i in again)


async def test_outbox_receipts_take_the_worst_part(store: Store) -> None:
    outbox = store.outbox
    item_id = await outbox.enqueue(NewMessage("sms", "+7912", '{"text": "x"}'))
    await outbox.mark_sent(item_id, "sms", ["a", "b"], 2, T0)
    await outbox.report("sms", "a", "delivered", T0)
    item = await outbox.get(item_id)
    assert item is not None
    assert item.status == "sent"
    await outbox.report("sms", "b", "failed", T0)
    item = await outbox.get(item_id)
    assert item is not None
    assert item.status == "failed"
    assert await outbox.report("sms", "unknown-id", "delivered", T0) is None


async def test_appeals_and_outages(store: Store) -> None:
    contact = await store.contacts.resolve("sms", "+79121234567", phone="+79121234567",
                                           verified_by="sms")
    appeal = await store.appeals.create(
        contact_id=contact.id, channel="sms", address="+79121234567", reply_source="7555",
        account=None, category="outage", text="нет света", created_at=T0,
        due_at=T0 + timedelta(hours=24),
    )
    assert (await store.appeals.open_for(contact.id, "outage")) == appeal
    await store.appeals.add_repeat(appeal.id, "всё ещё нет света", T0)
    answered = await store.appeals.answer(appeal.id, "Восстановлено", "staff", T0)
    assert answered is not None
    assert answered.status == "answered"
    assert answered.repeats == 1
    outage = await store.outages.create(
        settlement="г. Сыктывкар", street="ул. Комарова", houses="1-15", reason="ремонт",
        start_at=T0, until_at=T0 + timedelta(hours=8), planned=False,
    )
    assert [o.id for o in await store.outages.active(T0 + timedelta(hours=1))] == [outage.id]
    await store.outages.restore(outage.id, T0 + timedelta(hours=2))
    assert await store.outages.active(T0 + timedelta(hours=3)) == []


async def test_outbox_combined_receipt_settles_every_part(store: Store) -> None:
    # The SMS channel reports a multipart message once, under its first part's id, with
    # the worst state of its parts: that must settle the message (it stayed "sent").
    outbox = store.outbox
    item_id = await outbox.enqueue(NewMessage("sms", "+7912", '{"text": "x"}'))
    await outbox.mark_sent(item_id, "sms", ["a", "b"], 2, T0)
    await outbox.report("sms", "a", "delivered", T0, whole=True)
    item = await outbox.get(item_id)
    assert item is not None
    assert item.status == "delivered"


async def test_outbox_receipt_before_the_ids_are_recorded_is_kept(store: Store) -> None:
    # The simulator answers submit_sm and sends the receipt at once: the receipt reached
    # the outbox before the sender's batch recorded the message ids, and was lost.
    outbox = store.outbox
    item_id = await outbox.enqueue(NewMessage("sms", "+7912", '{"text": "x"}'))
    assert await outbox.report("sms", "early-1", "delivered", T0) is None
    await outbox.mark_sent_many([(item_id, "sms", ["early-1"], 1)], T0)
    item = await outbox.get(item_id)
    assert item is not None
    assert item.status == "delivered"
    assert await store.db.fetchval("SELECT count(*) FROM early_receipts") == 0


async def test_console_readings_do_not_replace_what_the_customer_sent(store: Store) -> None:
    # `gateway chat` used to replace the customer's SMS reading; the default export then
    # had neither, and billing got nothing for the account (QA finding).
    await store.readings.save([_reading("4521")])
    console = NewReading(
        account="1234567890", meter_serial="011234567", zone="T1", value=Decimal("4600"),
        period="2026-11", channel="console", sender="+79121234567", received_at=T0,
    )
    _, replaced = await store.readings.save([console])
    assert replaced is False
    exported = [r.value async for r in store.readings.iter_export_rows(None, False)]
    assert exported == [Decimal("4521")]
    # with --include-console: one value per key, the newest
    exported = [r.value async for r in store.readings.iter_export_rows(None, True)]
    assert exported == [Decimal("4600")]
