"""Contract tests of the storage ports (`storage.ports`), run over every storage
implementation through the `store` fixture in tests/conftest.py.

Every port has tests here. A PostgreSQL (asyncpg) implementation is added by extending
the fixture's `params` and building its `Store` there; these tests then run over it
unchanged. Besides the ports they use a few helpers every implementation keeps for
tests (`Outbox.get/report/mark_sent`, `Readings.export_rows`, `Contacts.by_phone`),
`store.db` for the transaction test, and `_seed_registry` (the registry import).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

from storage.db import SqliteDatabase, migrations
from storage.models import (
    Appeal,
    ConversationKey,
    ConversationState,
    NewReading,
    ReadingRecord,
    ZoneName,
)
from storage.outbox import PRIORITY_BULK, PRIORITY_REPLY, PRIORITY_URGENT, NewMessage, Receipt
from storage.registry import import_customers
from storage.store import Store

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


async def test_migrations_set_user_version_and_reopen_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    async with SqliteDatabase(path) as db:
        assert await db.fetchval("PRAGMA user_version") == len(migrations())
        assert await db.fetchval("PRAGMA journal_mode") == "wal"
    async with SqliteDatabase(path) as db:
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


# -- one or more contract tests per port not covered above ---------------------------------

REGISTRY_CSV = "\n".join([
    "account;phones;name;settlement;street;house;apartment;meter_serial;zones;digits;"
    "last_t1;last_t2;last_t3;last_date;balance",
    "2222222222;+79121234567|+79041112233;Петров П. П.;г. Ухта;ул. Мира;1;;900002;1;5;"
    "100;;;;-5.5",
    "1111111111;+79121234567;Иванов И. И.;г. Сыктывкар;ул. Комарова;3;7;900001;2;5;"
    "4390;1815;;2026-10-24;1234,56",
    "1111111111;+79121234567;Иванов И. И.;г. Сыктывкар;ул. Комарова;3;7;800001;1;6;"
    "10;;;;1234,56",
    "",
])


async def _seed_registry(store: Store) -> None:
    """The registry is filled by the billing import, not through a port: each storage
    implementation seeds it its own way here."""
    report = await import_customers(store.db, REGISTRY_CSV.encode("utf-8"))
    assert report.rejected == []


async def test_registry_accounts_phones_and_meters(store: Store) -> None:
    await _seed_registry(store)
    account = await store.registry.get_account("1111111111")
    assert account is not None
    assert (account.holder, account.settlement, account.balance) == (
        "Иванов И. И.", "г. Сыктывкар", Decimal("1234.56"))
    assert account.phones == ("+79121234567",)
    assert [m.serial for m in account.meters] == ["800001", "900001"]  # sorted
    assert account.meters[1].last == {"T1": Decimal("4390"), "T2": Decimal("1815")}
    assert await store.registry.get_account("3333333333") is None
    assert await store.registry.accounts_for_phone("+79121234567") == [
        "1111111111", "2222222222"]
    assert await store.registry.accounts_for_phone("+79990000000") == []
    assert await store.registry.phone_on_account("+79041112233", "2222222222")
    assert not await store.registry.phone_on_account("+79041112233", "1111111111")


async def test_contacts_opt_out_block_and_lookup_by_id(store: Store) -> None:
    contact = await store.contacts.resolve("sms", "+79121234567", phone="+79121234567",
                                           verified_by="sms")
    assert not contact.opted_out
    assert not contact.blocked
    await store.contacts.set_opted_out(contact.id, True)
    again = await store.contacts.by_id(contact.id)
    assert again is not None
    assert again.opted_out
    await store.contacts.set_opted_out(contact.id, False)
    again = await store.contacts.get("sms", "+79121234567")
    assert again is not None
    assert not again.opted_out
    tg = await store.contacts.resolve("telegram", "111")
    await store.contacts.set_blocked("telegram", "111", True)
    blocked = await store.contacts.get("telegram", "111")
    assert blocked is not None
    assert blocked.id == tg.id
    assert blocked.blocked
    await store.contacts.set_blocked("telegram", "unknown", True)  # no contact: nothing
    assert await store.contacts.get("telegram", "unknown") is None
    assert await store.contacts.by_id(10_000) is None


async def test_contacts_link_codes_and_auth_failures(store: Store) -> None:
    tg = await store.contacts.resolve("telegram", "111")
    first = await store.contacts.add_link_code(tg.id, "+79121234567", "h1", T0,
                                               T0 + timedelta(minutes=10))
    newest = await store.contacts.add_link_code(tg.id, "+79121234567", "h2",
                                                T0 + timedelta(minutes=1),
                                                T0 + timedelta(minutes=11))
    assert first != newest
    assert await store.contacts.link_codes_since(T0, phone="+79121234567") == 2
    assert await store.contacts.link_codes_since(T0 + timedelta(seconds=1),
                                                 contact_id=tg.id) == 1
    assert await store.contacts.live_link_code(tg.id, T0 + timedelta(minutes=2)) == (
        newest, "+79121234567", "h2", 0)
    await store.contacts.link_code_tried(newest, used=False)
    live = await store.contacts.live_link_code(tg.id, T0 + timedelta(minutes=2))
    assert live is not None
    assert live[3] == 1
    await store.contacts.link_code_tried(newest, used=True)
    # the used code is gone; the older one is still live until it expires
    live = await store.contacts.live_link_code(tg.id, T0 + timedelta(minutes=2))
    assert live is not None
    assert live[0] == first
    assert await store.contacts.live_link_code(tg.id, T0 + timedelta(minutes=10)) is None

    await store.contacts.add_auth_failure("telegram", "111", T0)
    await store.contacts.add_auth_failure("telegram", "111", T0 + timedelta(minutes=5))
    await store.contacts.add_auth_failure("telegram", "222", T0 + timedelta(minutes=5))
    assert await store.contacts.auth_failures_since("telegram", "111", T0) == 2
    assert await store.contacts.auth_failures_since(
        "telegram", "111", T0 + timedelta(minutes=1)) == 1
    assert await store.contacts.auth_failures_since("sms", "111", T0) == 0


def _new(account: str, serial: str, zone: ZoneName, period: str, value: str, *,
         status: Literal["accepted", "pending"] = "accepted") -> NewReading:
    return NewReading(
        account=account, meter_serial=serial, zone=zone, value=Decimal(value),
        period=period, channel="sms", sender="+79121234567", received_at=T0, status=status,
    )


async def test_readings_export_order_and_period(store: Store) -> None:
    await store.readings.save([
        _new("2222222222", "900002", "T1", "2026-11", "7"),
        _new("1111111111", "900001", "T2", "2026-11", "6"),
        _new("1111111111", "900001", "T1", "2026-11", "5"),
        _new("1111111111", "800001", "T1", "2026-11", "4"),
        _new("1111111111", "900001", "T1", "2026-10", "3"),
        _new("1111111111", "900001", "T1", "2026-11", "9", status="pending"),
    ])
    await store.readings.save([_new("1111111111", "900001", "T1", "2026-11", "8")])

    def keys(rows: list[ReadingRecord]) -> list[tuple[str, str, str, str, Decimal]]:
        return [(r.period, r.account, r.meter_serial, r.zone, r.value) for r in rows]

    every = [r async for r in store.readings.iter_export_rows(None, False)]
    assert keys(every) == [
        ("2026-10", "1111111111", "900001", "T1", Decimal("3")),
        ("2026-11", "1111111111", "800001", "T1", Decimal("4")),
        ("2026-11", "1111111111", "900001", "T1", Decimal("8")),  # the correction
        ("2026-11", "1111111111", "900001", "T2", Decimal("6")),
        ("2026-11", "2222222222", "900002", "T1", Decimal("7")),
    ]
    october = [r async for r in store.readings.iter_export_rows("2026-10", False)]
    assert keys(october) == keys(every)[:1]
    assert [r async for r in store.readings.iter_export_rows("2026-12", True)] == []


async def test_readings_pending_reject_and_history(store: Store) -> None:
    await store.readings.save([_new("1111111111", "900001", "T1", "2026-09", "100")])
    await store.readings.save([_new("1111111111", "900001", "T1", "2026-10", "200")])
    await store.readings.save([_new("1111111111", "900001", "T1", "2026-10", "210")])
    ids, replaced = await store.readings.save(
        [_new("1111111111", "900001", "T1", "2026-11", "300", status="pending")])
    assert replaced is False
    assert [r.id for r in await store.readings.pending(ids)] == ids
    await store.readings.reject(ids)
    assert await store.readings.pending(ids) == []
    assert await store.readings.confirm(ids) is False  # no longer pending: ignored
    assert await store.readings.current("1111111111", "900001", "T1", "2026-11") is None
    history = await store.readings.history("1111111111", "900001", "T1")
    assert [(r.period, r.value) for r in history] == [
        ("2026-09", Decimal("100")), ("2026-10", Decimal("210"))]


async def test_outages_cancel_restore_and_the_active_window(store: Store) -> None:
    planned = await store.outages.create(
        settlement="г. Ухта", street="ул. Мира", houses="", reason="плановые работы",
        start_at=T0 + timedelta(days=1), until_at=T0 + timedelta(days=1, hours=6),
        planned=True,
    )
    assert planned.status == "active"
    assert planned.planned
    assert await store.outages.active(T0) == []  # not begun yet
    cancelled = await store.outages.cancel(planned.id, T0)
    assert cancelled is not None
    assert (cancelled.status, cancelled.restored_at) == ("cancelled", T0)
    assert await store.outages.active(T0 + timedelta(days=1, hours=1)) == []
    # only an active outage is called off or restored
    after = await store.outages.restore(planned.id, T0 + timedelta(hours=1))
    assert after is not None
    assert after.status == "cancelled"

    forgotten = await store.outages.create(
        settlement="г. Ухта", street="", houses="", reason="авария",
        start_at=T0, until_at=T0 + timedelta(hours=2), planned=False,
    )
    await store.outages.set_campaign(forgotten.id, 7, restored=False)
    await store.outages.set_campaign(forgotten.id, 8, restored=True)
    got = await store.outages.get(forgotten.id)
    assert got is not None
    assert (got.campaign_id, got.restored_campaign_id) == (7, 8)
    # past its expected end it still counts for a day, then no more
    assert [o.id for o in await store.outages.active(T0 + timedelta(hours=20))] == [
        forgotten.id]
    assert await store.outages.active(T0 + timedelta(hours=27)) == []
    assert await store.outages.get(10_000) is None


async def test_appeals_lists_messages_and_outage_link(store: Store) -> None:
    contact = await store.contacts.resolve("sms", "+79121234567", phone="+79121234567",
                                           verified_by="sms")
    outage = await store.outages.create(
        settlement="г. Ухта", street="", houses="", reason="авария", start_at=T0,
        until_at=T0 + timedelta(hours=2), planned=False,
    )

    async def appeal(category: str, at: datetime, due: timedelta,
                     outage_id: int | None = None) -> Appeal:
        return await store.appeals.create(
            contact_id=contact.id, channel="sms", address="+79121234567",
            reply_source=None, account="1111111111", category=category, text=category,
            created_at=at, due_at=at + due, outage_id=outage_id,
        )

    slow = await appeal("bill", T0, timedelta(days=10))
    fast = await appeal("quality", T0 + timedelta(hours=1), timedelta(hours=2))
    linked = await appeal("outage", T0 + timedelta(hours=2), timedelta(hours=24), outage.id)
    assert await store.appeals.get(slow.id) == slow
    assert [a.id for a in await store.appeals.recent("open")] == [fast.id, linked.id, slow.id]
    assert [a.id for a in await store.appeals.recent()] == [linked.id, fast.id, slow.id]
    assert [a.id for a in await store.appeals.between(T0, T0 + timedelta(hours=2))] == [
        slow.id, fast.id]
    assert await store.appeals.for_outage(contact.id, outage.id) == linked
    assert await store.appeals.for_outage(contact.id, outage.id + 1) is None
    await store.appeals.add_repeat(slow.id, "ещё раз", T0 + timedelta(hours=3))
    assert await store.appeals.messages(slow.id) == [
        ("bill", T0), ("ещё раз", T0 + timedelta(hours=3))]
    assert await store.appeals.answer(10_000, "x", "staff", T0) is None


async def test_outbox_release_retry_reroute_and_final(store: Store) -> None:
    outbox = store.outbox
    lease = timedelta(seconds=30)
    first = await outbox.enqueue(NewMessage("telegram", "42", '{"text": "a"}'))
    second = await outbox.enqueue(NewMessage("sms", "+7912", '{"text": "b"}'))
    now = datetime.now(UTC)
    claimed = await outbox.claim(now, 10, lease, channels=["telegram"])
    assert [i.id for i in claimed] == [first]
    # released: due again at the given time, the claim not counted
    await outbox.release([(first, now + timedelta(seconds=5))])
    assert await outbox.claim(now, 10, lease, channels=["telegram"]) == []
    again = await outbox.claim(now + timedelta(seconds=5), 10, lease, channels=["telegram"])
    assert [(i.id, i.attempts) for i in again] == [(first, 1)]
    # the bot is blocked: the same message goes by SMS, its attempts reset
    await outbox.reroute(first, "sms", "+7912", '{"text": "a"}')
    # a retryable error: due again later, the attempt counted
    soon = now + timedelta(seconds=5)
    [taken] = await outbox.claim(soon, 1, lease, channels=["sms"], max_priority=0)
    assert (taken.id, taken.channel, taken.address, taken.attempts) == (first, "sms", "+7912", 1)
    await outbox.retry_at(first, now + timedelta(minutes=1), "throttled")
    rest = await outbox.claim(soon, 10, lease)
    assert [(i.id, i.attempts) for i in rest] == [(second, 1)]
    for item in rest:
        await outbox.mark_final(item.id, "failed", "no route")
    later = await outbox.claim(now + timedelta(minutes=2), 10, lease)
    assert [(i.id, i.attempts) for i in later] == [(first, 2)]
    await outbox.mark_final(first, "delivered")
    assert await outbox.claim(now + timedelta(hours=1), 10, lease) == []


async def test_outbox_quiet_hours_and_batched_receipts(store: Store) -> None:
    outbox = store.outbox
    lease = timedelta(days=1)
    bulk = await outbox.enqueue(NewMessage("sms", "+7912", "{}", priority=PRIORITY_BULK))
    urgent = await outbox.enqueue(NewMessage("sms", "+7913", "{}", priority=PRIORITY_URGENT))
    now = datetime.now(UTC)
    until = now + timedelta(hours=8)
    assert await outbox.defer_priority(PRIORITY_BULK, until) == 1
    assert [i.id for i in await outbox.claim(now, 10, lease)] == [urgent]
    [deferred] = await outbox.claim(until, 10, lease)
    assert (deferred.id, deferred.attempts) == (bulk, 1)

    await outbox.mark_sent_many(
        [(urgent, "sms", ["u1"], 1), (bulk, "sms", ["b1", "b2"], 2)], now)
    found = await outbox.report_many([
        Receipt("sms", "u1", "delivered", now),
        Receipt("sms", "b1", "delivered", now),
        Receipt("sms", "nobody", "delivered", now),
    ])
    assert found == [urgent, bulk, None]
    assert await outbox.report_many([]) == []
