"""The outbox's submit journal, early receipts and stuck rows, over every `Store`
implementation (the `store` fixture in tests/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.campaigns import CampaignRepo
from storage.outbox import MAX_MESSAGE_ID, NewMessage, SubmitAnswer, SubmitMark
from storage.store import Store

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


async def claimed(store: Store, count: int = 1, campaign: int | None = None) -> list[int]:
    ids = [
        await store.outbox.enqueue(
            NewMessage("sms", f"+7912000000{i}", '{"text": "x"}', campaign_id=campaign,
                       not_before=T0)
        )
        for i in range(count)
    ]
    assert [item.id for item in await store.outbox.claim(T0, count, LEASE)] == ids
    return ids


async def submit(store: Store, outbox_id: int, part: int, message_id: str | None,
                 *, parts: int = 2, at: datetime = T0, unanswered: int = 0) -> None:
    await store.outbox.journal([], [SubmitMark(outbox_id, part, parts, 42, at)])
    if message_id != "":  # "": left unanswered (the sender died)
        await store.outbox.journal(
            [SubmitAnswer(outbox_id, part, "sms", message_id, unanswered)], []
        )


async def possible_duplicate(store: Store, outbox_id: int) -> int:
    return int(await store.db.fetchval(
        "SELECT possible_duplicate FROM outbox WHERE id = ?", (outbox_id,)
    ))


@pytest.mark.parametrize(
    ("answers", "doubtful", "accepted"),
    [
        ([], 0, {}),  # claimed, never submitted: goes once more, no duplicate
        (["M1"], 0, {1: "M1"}),  # part 1 answered: only part 2 goes
        (["M1", ""], 1, {1: "M1"}),  # part 2 on the wire unanswered: maybe twice
        ([""], 1, {}),
        ([None], 0, {}),  # part 1 refused by the SMSC: not taken, no duplicate
    ],
)
async def test_a_reclaimed_row_knows_its_parts_and_flags_possible_duplicates(
    store: Store, answers: list[str | None], doubtful: int, accepted: dict[int, str]
) -> None:
    (row,) = await claimed(store)
    for part, message_id in enumerate(answers, 1):
        await submit(store, row, part, message_id)
    again = await store.outbox.claim(T0 + LEASE, 1, LEASE)  # the sender died
    assert [item.id for item in again] == [row]
    assert await possible_duplicate(store, row) == doubtful
    records = (await store.outbox.parts([row])).get(row, [])
    assert {r.part: r.message_id for r in records if r.state == "submitted"} == accepted
    assert all(r.reference == 42 for r in records)


async def test_an_answer_after_an_unanswered_try_is_a_possible_duplicate(
    store: Store,
) -> None:
    row, other = await claimed(store, 2)
    await submit(store, row, 1, "M1", unanswered=1)  # the link dropped, then resent
    await submit(store, other, 1, "M2")
    assert [await possible_duplicate(store, i) for i in (row, other)] == [1, 0]


async def test_a_receipt_during_sending_waits_for_mark_sent(store: Store) -> None:
    (row,) = await claimed(store)
    await submit(store, row, 1, "M1")
    await store.outbox.report("sms", "M1", "delivered", T0 + timedelta(seconds=1))
    item = await store.outbox.get(row)
    assert item is not None
    assert item.status == "sending"  # part 2 has no id yet: part 1 cannot decide
    await submit(store, row, 2, "M2")
    await store.outbox.report("sms", "M2", "delivered", T0 + timedelta(seconds=1))
    await store.outbox.mark_sent_many([(row, "sms", ["M1", "M2"], 2)], T0)
    item = await store.outbox.get(row)
    assert item is not None
    assert item.status == "delivered"
    assert await store.outbox.forget_submits() == 2  # the journal is done with it
    assert await store.outbox.parts([row]) == {}


@pytest.mark.parametrize(
    ("receipt_at", "applied"),
    [
        (T0 - timedelta(minutes=5), False),  # an older message had the id (SMSC reuse)
        (T0 + timedelta(seconds=1), True),  # overtook our bookkeeping of this submit
    ],
)
async def test_an_early_receipt_older_than_the_submit_is_never_applied(
    store: Store, receipt_at: datetime, applied: bool
) -> None:
    assert await store.outbox.report("sms", "REUSED", "failed", receipt_at) is None
    (row,) = await claimed(store)
    await submit(store, row, 1, "REUSED", parts=1)
    await store.outbox.mark_sent_many([(row, "sms", ["REUSED"], 1)], T0)
    item = await store.outbox.get(row)
    assert item is not None
    assert item.status == ("failed" if applied else "sent")
    assert await store.db.fetchval("SELECT count(*) FROM early_receipts") == 0


async def test_early_receipts_expire_and_long_ids_are_not_kept(store: Store) -> None:
    await store.outbox.report("sms", "OLD", "delivered", T0 - timedelta(minutes=11))
    await store.outbox.report("sms", "NEW", "delivered", T0)
    await store.outbox.report("sms", "9" * 60_000, "delivered", T0)
    await store.outbox.report("sms", "9" * MAX_MESSAGE_ID, "delivered", T0)
    assert await store.outbox.forget_early_receipts(T0 - timedelta(minutes=10)) == 1
    kept = await store.db.fetchall("SELECT message_id FROM early_receipts ORDER BY 1")
    assert [r["message_id"] for r in kept] == ["9" * MAX_MESSAGE_ID, "NEW"]


async def test_stuck_rows_are_those_past_their_lease(store: Store) -> None:
    await claimed(store, 2)
    assert await store.outbox.stuck(T0 + LEASE - timedelta(seconds=1)) == 0
    assert await store.outbox.stuck(T0 + LEASE + timedelta(seconds=1)) == 2
    await store.outbox.claim(T0 + LEASE + timedelta(seconds=1), 2, LEASE)  # recovered
    assert await store.outbox.stuck(T0 + LEASE + timedelta(seconds=2)) == 0


async def test_campaign_progress_counts_possible_duplicates_outside_the_states(
    store: Store,
) -> None:
    campaigns = CampaignRepo(store.db)
    campaign = await store.db.fetchval(
        "INSERT INTO campaigns (kind, status, created_at) VALUES ('invoice', 'active', ?)"
        " RETURNING id",
        (T0.isoformat(),),
    )
    first, second, _ = await claimed(store, 3, campaign)
    await submit(store, first, 1, "")
    await submit(store, second, 1, "")
    await store.outbox.claim(T0 + LEASE, 3, LEASE)
    report = await campaigns.progress(campaign)
    assert report is not None
    body = report.as_json()
    assert body["possible_duplicates"] == 2
    states = ("queued", "sent", "delivered", "failed", "deferred", "cancelled")
    assert sum(body[s] for s in states) == body["recipients"] == 3
    assert await campaigns.unfinished() == [campaign]
