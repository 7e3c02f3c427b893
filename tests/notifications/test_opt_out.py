"""«СТОП» per notice kind (design: Notifications): opt-out stops invoices, reminders,
surveys and planned-outage notices; debt and restriction notices, unplanned-outage and
power-restored notices still go. Checked when the audience is built and again when the
sender is about to send (a person may say «СТОП» after the campaign was queued)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest

from notifications.campaigns import Notifications
from storage.notices import NOTICE_KINDS, notice_kind, respects_opt_out
from storage.store import Store
from tests.notifications.conftest import MSK, FakeChannel, add_account, sms_contact
from tests.notifications.test_campaigns import outage, sender, service

DAY = datetime(2030, 11, 26, 12, 0, tzinfo=MSK)
REMINDER_DAY = datetime(2030, 12, 18, 10, 5, tzinfo=MSK)
PHONE = "+79120000007"

Queue = Callable[[Notifications], Awaitable[object]]


async def _unplanned(notes: Notifications) -> object:
    return await notes.outage(
        outage(start=DAY - timedelta(hours=1), until=DAY + timedelta(hours=6))
    )


async def _planned(notes: Notifications) -> object:
    return await notes.outage(
        outage(planned=True, start=DAY + timedelta(days=1), until=DAY + timedelta(days=1, hours=6))
    )


async def _restored(notes: Notifications) -> object:
    report = await _unplanned(notes)
    outage_id = getattr(report, "outage", None)
    assert outage_id is not None
    return await notes.restored(outage_id)


async def _invoice(notes: Notifications) -> object:
    return await notes.import_invoices(
        b"account,period,amount,due_date\n1000000007,2030-11,1520.40,2030-12-10\n"
    )


async def _debt(notes: Notifications) -> object:
    return await notes.import_debts(
        b"account,amount,restriction_date\n1000000007,3200.00,2030-12-20\n"
    )


async def _reminder(notes: Notifications) -> object:
    return await notes.reminders_due(REMINDER_DAY)


Case = tuple[str, Queue, datetime, bool]
KINDS: list[Case] = [
    # name, how it is queued, when it is sent, does it reach a person who said «СТОП»
    ("unplanned outage", _unplanned, DAY, True),
    ("power restored", _restored, DAY, True),
    ("debt", _debt, DAY, True),
    ("planned outage", _planned, DAY, False),
    ("invoice", _invoice, DAY, False),  # was delivered after «СТОП»
    ("reminder", _reminder, REMINDER_DAY, False),
]


async def _seed(store: Store) -> int:
    await add_account(store, "1000000007", [PHONE], house="7")
    return await sms_contact(store, PHONE)


def _got(sms: FakeChannel) -> list[str]:
    return [t for a, t in zip(sms.addresses, sms.texts, strict=True) if a == PHONE]


@pytest.mark.parametrize("after", [False, True], ids=["before queueing", "after queueing"])
@pytest.mark.parametrize("case", KINDS, ids=[k[0] for k in KINDS])
async def test_opted_out_person_per_kind(
    store: Store, sms: FakeChannel, telegram: FakeChannel, case: Case, after: bool
) -> None:
    """«СТОП» said before the campaign is built (the audience leaves the person out) or
    after it was queued (the sender cancels the row): the same rule either way."""
    name, queue, when, goes = case
    contact = await _seed(store)
    if not after:
        await store.contacts.set_opted_out(contact, True)
    await queue(service(store, now=when))
    if after:
        queued = await store.db.fetchval(
            "SELECT count(*) FROM outbox WHERE phone = ?", (PHONE,)
        )
        assert queued >= 1  # the person was in the audience when it was built
        await store.contacts.set_opted_out(contact, True)
    await sender(store, sms, telegram).drain(when)
    assert bool(_got(sms)) is goes, name
    if after and not goes:
        rows = await store.db.fetchall(
            "SELECT status, error FROM outbox WHERE phone = ?", (PHONE,)
        )
        assert {(r["status"], r["error"]) for r in rows} == {
            ("cancelled", "opted out («СТОП») after it was queued")
        }


@pytest.mark.parametrize(
    ("campaign_kind", "params", "kind", "respects"),
    [
        ("invoice", {}, "invoice", True),
        ("reminder", {}, "reminder", True),
        ("survey", {"survey_id": 1}, "survey", True),
        ("outage", {"planned": True}, "planned_outage", True),
        ("outage", {"planned": False}, "unplanned_outage", False),
        ("outage", {}, "unplanned_outage", False),
        ("restored", {"outage": 1}, "restored", False),
        ("debt", {}, "debt", False),
        ("restriction", {}, "restriction", False),
        # A kind nobody listed yet is treated as optional: «СТОП» is a promise.
        ("newsletter", {}, "newsletter", True),
    ],
)
def test_the_one_table(
    campaign_kind: str, params: dict[str, object], kind: str, respects: bool
) -> None:
    assert notice_kind(campaign_kind, params) == kind
    assert respects_opt_out(campaign_kind, params) is respects
    if kind in NOTICE_KINDS:
        assert NOTICE_KINDS[kind] is respects
