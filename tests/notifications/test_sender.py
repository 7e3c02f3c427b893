"""The outbox sender in drain mode: no sleeps, the clock passed in, fake channels."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from bot.core import ChannelName, Outbound, SendErrorKind, SendResult
from notifications.limits import ChannelLimit, ChannelLimits
from notifications.quiet import QuietHours
from notifications.sender import OutboxSender
from storage.campaigns import CampaignRepo
from storage.outbox import PRIORITY_BULK, PRIORITY_REPLY, PRIORITY_URGENT, NewMessage
from storage.store import Store
from tests.notifications.conftest import MSK, T0, FakeChannel, link_telegram, statuses

SHORT = "Счёт готов"  # one UCS2 part
LONG = "Ж" * 100  # two UCS2 parts


def message(
    channel: str,
    address: str,
    text: str,
    *,
    priority: int = PRIORITY_BULK,
    key: str | None = None,
    valid_until: datetime | None = None,
    phone: str | None = None,
) -> NewMessage:
    outbound = Outbound(
        channel=ChannelName(channel), address=address, text=text, valid_until=valid_until
    )
    return NewMessage(
        channel=channel,
        address=address,
        payload=outbound.model_dump_json(),
        priority=priority,
        idempotency_key=key,
        valid_until=valid_until,
        phone=phone,
    )


def sender(store: Store, *channels: FakeChannel, **kwargs: object) -> OutboxSender:
    return OutboxSender(
        store.outbox,
        store.contacts,
        {c.name.value: c for c in channels},
        templates=CampaignRepo(store.db),
        **kwargs,  # type: ignore[arg-type]
    )


async def test_replies_go_before_bulk_and_one_address_keeps_its_order(
    store: Store, sms: FakeChannel
) -> None:
    for i in range(5):
        await store.outbox.enqueue(message("sms", f"+7912000000{i}", f"bulk {i}"))
    await store.outbox.enqueue(
        message("sms", "+79120000009", "urgent", priority=PRIORITY_URGENT)
    )
    await store.outbox.enqueue(message("sms", "+79120000009", "reply 1", priority=0))
    await store.outbox.enqueue(message("sms", "+79120000009", "reply 2", priority=0))
    assert await sender(store, sms, batch_size=3).drain(T0) == 8
    assert sms.texts[:3] == ["reply 1", "reply 2", "urgent"]
    assert sorted(sms.texts[3:]) == [f"bulk {i}" for i in range(5)]
    assert set((await statuses(store)).values()) == {"sent"}


async def test_sms_tokens_are_counted_per_part_and_replies_keep_a_reserve(
    store: Store, sms: FakeChannel
) -> None:
    limiter = ChannelLimits({"sms": ChannelLimit(10)})  # 10 parts a second, 2 for replies
    s = sender(store, sms, limiter=limiter)
    for i in range(30):
        await store.outbox.enqueue(message("sms", f"+791200001{i:02d}", SHORT))
    assert await s.drain(T0) == 8  # bulk may not spend the replies' reserve
    await store.outbox.enqueue(message("sms", "+79129999999", "ответ", priority=PRIORITY_REPLY))
    assert await s.drain(T0) == 1  # a reply gets through at once, from the reserve
    assert sms.texts[-1] == "ответ"
    assert await s.drain(T0 + timedelta(seconds=1)) == 8  # refilled: 1 + 10 → 10, minus 2
    # A two-part SMS costs two tokens.
    await store.outbox.db.execute("DELETE FROM outbox WHERE status != 'sent'")
    for i in range(10):
        await store.outbox.enqueue(message("sms", f"+791200002{i:02d}", LONG))
    assert await s.drain(T0 + timedelta(seconds=3)) == 4  # 10 tokens − reserve 2 = 8 parts
    pending = [v for v in (await statuses(store)).values() if v == "queued"]
    assert len(pending) == 6  # the refused ones went back unsent


async def test_telegram_overall_and_per_chat_limits(
    store: Store, telegram: FakeChannel
) -> None:
    limiter = ChannelLimits({"telegram": ChannelLimit(30, per_chat=1)})
    s = sender(store, telegram, limiter=limiter)
    for i in range(50):
        await store.outbox.enqueue(message("telegram", str(1000 + i), "новость"))
    await store.outbox.enqueue(message("telegram", "777", "ответ 1", priority=0))
    await store.outbox.enqueue(message("telegram", "777", "ответ 2", priority=0))
    assert await s.drain(T0) == 24  # reply 1 + 23 bulk (30 − reserve 6 − 1)
    assert telegram.texts[0] == "ответ 1"
    assert "ответ 2" not in telegram.texts  # one a second per chat
    assert await s.drain(T0 + timedelta(seconds=1)) == 24  # 6 + 30 → 30: reply 2 + 23 bulk
    assert "ответ 2" in telegram.texts
    assert await s.drain(T0 + timedelta(seconds=2)) == 4
    assert len(telegram.sent) == 52


async def test_retryable_errors_back_off_and_fail_after_max_attempts(
    store: Store, sms: FakeChannel
) -> None:
    s = sender(store, sms, max_attempts=3)
    throttled = await store.outbox.enqueue(message("sms", "+79120000001", "a"))
    sms.by_address["+79120000001"] = SendResult.failed(SendErrorKind.THROTTLED, retry_after=5)
    await s.drain(T0)
    row = await store.db.fetchone("SELECT * FROM outbox WHERE id = ?", (throttled,))
    assert row is not None
    assert row["status"] == "queued"
    assert await s.drain(T0 + timedelta(seconds=4)) == 0  # retry_after is honoured
    del sms.by_address["+79120000001"]
    assert await s.drain(T0 + timedelta(seconds=5)) == 1
    assert (await statuses(store))[throttled] == "sent"

    flaky = await store.outbox.enqueue(message("sms", "+79120000002", "b"))
    sms.by_address["+79120000002"] = SendResult.failed(SendErrorKind.CONNECTION, "down")
    for minutes in range(1, 20):  # backoff is at most minutes here
        await s.drain(T0 + timedelta(minutes=minutes * 10))
    assert (await statuses(store))[flaky] == "failed"
    assert sms.addresses.count("+79120000002") == 3

    rejected = await store.outbox.enqueue(message("sms", "+79120000003", "c"))
    sms.by_address["+79120000003"] = SendResult.failed(SendErrorKind.INVALID_ADDRESS)
    await s.drain(T0 + timedelta(days=1))
    assert (await statuses(store))[rejected] == "failed"
    assert sms.addresses.count("+79120000003") == 1  # not retryable: one try


async def test_blocked_telegram_falls_back_to_sms(
    store: Store, sms: FakeChannel, telegram: FakeChannel
) -> None:
    await link_telegram(store, 555, "+79120000555")
    telegram.by_address["555"] = SendResult.failed(SendErrorKind.BLOCKED, "bot was blocked")
    row = await store.outbox.enqueue(
        message("telegram", "555", "Нет света", priority=PRIORITY_URGENT, phone="+79120000555")
    )
    await sender(store, sms, telegram).drain(T0)
    assert telegram.addresses == ["555"]
    assert sms.addresses == ["+79120000555"]
    assert sms.texts == ["Нет света"]
    assert (await statuses(store))[row] == "sent"
    contact = await store.contacts.get("telegram", "555")
    assert contact is not None
    assert contact.blocked


async def test_quiet_hours_defer_bulk_but_not_urgent(store: Store, sms: FakeChannel) -> None:
    quiet = QuietHours(time(21), time(9), MSK)
    s = sender(store, sms, quiet=quiet)
    night = datetime(2030, 11, 26, 22, 30, tzinfo=MSK)
    bulk = await store.outbox.enqueue(message("sms", "+79120000001", "счёт"))
    urgent = await store.outbox.enqueue(
        message("sms", "+79120000002", "авария", priority=PRIORITY_URGENT)
    )
    reply = await store.outbox.enqueue(message("sms", "+79120000003", "ответ", priority=0))
    assert await s.drain(night) == 2
    states = await statuses(store)
    assert states[urgent] == states[reply] == "sent"
    assert states[bulk] == "deferred"
    assert await s.drain(datetime(2030, 11, 27, 8, 59, tzinfo=MSK)) == 0
    assert await s.drain(datetime(2030, 11, 27, 9, 0, tzinfo=MSK)) == 1
    assert (await statuses(store))[bulk] == "sent"


async def test_idempotency_key_makes_one_row(store: Store, sms: FakeChannel) -> None:
    first = await store.outbox.enqueue(message("sms", "+79120000001", "x", key="c1:+79120000001"))
    again = await store.outbox.enqueue(message("sms", "+79120000001", "x", key="c1:+79120000001"))
    assert first > 0
    assert again == 0
    await sender(store, sms).drain(T0)
    assert len(sms.sent) == 1


async def test_a_lease_that_runs_out_is_claimed_again(store: Store, sms: FakeChannel) -> None:
    row = await store.outbox.enqueue(message("sms", "+79120000001", "x"))
    # A sender claimed the row and died before sending it.
    lease = timedelta(seconds=60)
    claimed = await store.outbox.claim(T0, 10, lease)
    assert [c.id for c in claimed] == [row]
    s = sender(store, sms, lease=lease)
    assert await s.drain(T0 + timedelta(seconds=59)) == 0  # still leased
    assert await s.drain(T0 + timedelta(seconds=60)) == 1
    assert sms.addresses == ["+79120000001"]
    assert (await statuses(store))[row] == "sent"


async def test_a_notice_past_its_validity_is_dropped(store: Store, sms: FakeChannel) -> None:
    row = await store.outbox.enqueue(
        message("sms", "+79120000001", "нет света до 18:00", valid_until=T0)
    )
    await sender(store, sms).drain(T0 + timedelta(seconds=1))
    assert sms.sent == []
    assert (await statuses(store))[row] == "expired"


async def test_valid_until_reaches_the_channel(store: Store, sms: FakeChannel) -> None:
    until = T0 + timedelta(hours=6)
    await store.outbox.enqueue(message("sms", "+79120000001", "x", valid_until=until))
    await sender(store, sms).drain(T0)
    assert sms.sent[0].valid_until == until
    assert sms.sent[0].ref is not None


@pytest.mark.parametrize(
    ("state", "expected"), [("delivered", "delivered"), ("failed", "failed")]
)
async def test_delivery_receipts_update_the_row(
    store: Store, sms: FakeChannel, state: str, expected: str
) -> None:
    from bot.core import DeliveryReport, DeliveryState

    row = await store.outbox.enqueue(message("sms", "+79120000001", "x"))
    s = sender(store, sms)
    await s.drain(T0)
    await s.on_report(DeliveryReport(ChannelName.SMS, "sms-1", DeliveryState(state), T0))
    assert (await statuses(store))[row] == expected
