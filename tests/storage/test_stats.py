"""`storage.ports.OpsStats` over a real store: the figures `/metrics` reads at scrape time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.outbox import PRIORITY_BULK, PRIORITY_REPLY, PRIORITY_URGENT, NewMessage
from storage.store import Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], {}),
        # queued, deferred (quiet hours) and claimed rows are all still to be sent
        (
            [(PRIORITY_REPLY, "queued"), (PRIORITY_BULK, "deferred"),
             (PRIORITY_BULK, "sending"), (PRIORITY_URGENT, "queued")],
            {PRIORITY_REPLY: 1, PRIORITY_URGENT: 1, PRIORITY_BULK: 2},
        ),
        # finished rows are not depth
        (
            [(PRIORITY_BULK, "sent"), (PRIORITY_BULK, "delivered"), (PRIORITY_BULK, "failed"),
             (PRIORITY_REPLY, "expired"), (PRIORITY_REPLY, "queued")],
            {PRIORITY_REPLY: 1},
        ),
    ],
)
async def test_outbox_depth_by_priority(
    store: Store, rows: list[tuple[int, str]], expected: dict[int, int]
) -> None:
    for n, (priority, status) in enumerate(rows):
        await store.outbox.enqueue(
            NewMessage(channel="sms", address=f"+7912000000{n}", payload="{}",
                       priority=priority, status=status)
        )
    assert await store.stats.outbox_depth() == expected


@pytest.mark.parametrize(
    ("appeals", "expected"),
    [
        ([], 0),
        # (hours until due, answered?): only open appeals already past due count
        ([(-1, False), (-48, False), (1, False), (-5, True)], 2),
        ([(0.5, False)], 0),
    ],
)
async def test_appeals_overdue(
    store: Store, appeals: list[tuple[float, bool]], expected: int
) -> None:
    contact = await store.contacts.resolve("sms", "+79121234567", phone="+79121234567")
    for hours, answered in appeals:
        appeal = await store.appeals.create(
            contact_id=contact.id, channel="sms", address="+79121234567", reply_source=None,
            account=None, category="billing", text="счёт неверный",
            created_at=NOW - timedelta(days=4), due_at=NOW + timedelta(hours=hours),
        )
        if answered:
            await store.appeals.answer(appeal.id, "пересчитали", "staff", NOW)
    assert await store.stats.appeals_overdue(NOW) == expected
