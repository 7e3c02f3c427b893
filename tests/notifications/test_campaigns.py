"""Campaign use cases against a real SQLite store: audiences, routing, opt-out, quiet
hours, confirmation, restore/expiry, billing files, reminders, progress."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from notifications.campaigns import NoticeConfig, Notifications, OutageError, OutageRequest
from notifications.quiet import QuietHours
from notifications.sender import OutboxSender
from notifications.smsparts import sms_parts
from storage.campaigns import CampaignRepo
from storage.store import Store
from tests.notifications.conftest import (
    MSK,
    T0,
    FakeChannel,
    add_account,
    link_telegram,
    sms_contact,
)
from tests.stores import db, make_db, store, store_kind

NIGHT = datetime(2030, 11, 26, 22, 0, tzinfo=MSK)

# The campaign/survey repositories are store contract tests too: both stores.
__all__ = ["db", "make_db", "store", "store_kind"]


def service(store: Store, *, now: datetime = T0, confirm_above: int = 1000) -> Notifications:
    config = NoticeConfig(
        tz=MSK,
        company="ЭнергоСбыт",
        quiet=QuietHours(time(21), time(9), MSK),
        confirm_above=confirm_above,
        telegram=True,
    )
    return Notifications(store, config, clock=lambda: now)


def sender(store: Store, *channels: FakeChannel) -> OutboxSender:
    return OutboxSender(
        store.outbox, store.contacts, {c.name.value: c for c in channels},
        templates=CampaignRepo(store.db), opt_outs=CampaignRepo(store.db),
    )


def outage(**kwargs: object) -> OutageRequest:
    fields: dict[str, object] = {
        "settlement": "г. Сыктывкар",
        "street": "ул. Комарова",
        "houses": "1-15,17,21А",
        "reason": "ремонт ЛЭП",
        "start": datetime(2030, 11, 26, 10, 0, tzinfo=MSK),
        "until": datetime(2030, 11, 26, 18, 0, tzinfo=MSK),
    }
    fields.update(kwargs)
    return OutageRequest(**fields)  # type: ignore[arg-type]


async def seed_street(store: Store) -> None:
    # Houses 1..20 of Комарова, each with its own phone; 21А and 21Б; another street.
    for house in range(1, 21):
        await add_account(store, f"10000000{house:02d}", [f"+791200000{house:02d}"],
                          house=str(house))
    await add_account(store, "1000000021", ["+79120000021"], house="21А")
    await add_account(store, "1000000022", ["+79120000022"], house="21 Б")
    await add_account(store, "2000000001", ["+79129999999"], street="Ленина", house="3")
    # One person with a second account in the area: one recipient.
    await add_account(store, "1000000099", ["+79120000001"], house="2")
    # A second phone on one account: another person.
    await store.db.execute(
        "INSERT INTO account_phones (account, phone) VALUES ('1000000003', '+79120000333')"
    )
    await link_telegram(store, 501, "+79120000005")
    blocked = await link_telegram(store, 502, "+79120000006")
    await store.db.execute("UPDATE contacts SET blocked = 1 WHERE id = ?", (blocked,))
    # «СТОП» does not stop an unplanned outage notice (it stops a planned one).
    await sms_contact(store, "+79120000007", opted_out=True)


async def test_outage_broadcast_audience_routing_and_sending(
    store: Store, sms: FakeChannel, telegram: FakeChannel
) -> None:
    await seed_street(store)
    notes = service(store)
    dry = await notes.outage(outage(), dry_run=True)
    # houses 1-15 (15 + the second account at 2), 17, 21А → 17 accounts;
    # phones: 15 + 17 + 21А + the second phone of 3 = 18 people.
    assert dry.as_json() == {
        "campaign": None, "outage": None, "accounts": 18, "recipients": 18,
        "by_channel": {"sms": 17, "telegram": 1}, "sms_parts": 2, "sample": dry.sample,
    }
    assert "Комарова 1-15,17,21А" in dry.sample
    assert await store.db.fetchval("SELECT count(*) FROM outages") == 0

    report = await notes.outage(outage())
    assert report.campaign is not None
    assert report.outage is not None
    assert (report.recipients, report.sms, report.telegram) == (18, 17, 1)
    assert await store.outages.get(report.outage) is not None
    # Built twice (a retry of the same campaign): the idempotency key adds nothing.
    repo = CampaignRepo(store.db)
    from storage.campaigns import AreaAudience, Routing
    again = await repo.enqueue_audience(
        report.campaign, AreaAudience("Сыктывкар", "Комарова", "1-15,17,21А"), Routing(),
        priority=10,
    )
    assert again == 0

    await sender(store, sms, telegram).drain(T0)
    assert telegram.addresses == ["501"]
    assert sorted(sms.addresses) == sorted(
        [f"+791200000{h:02d}" for h in (*range(1, 16), 17, 21) if h != 5] + ["+79120000333"]
    )
    assert all(o.valid_until == outage().until for o in sms.sent)
    assert sms.sent[0].text == report.sample
    progress = await notes.progress(report.campaign)
    assert progress is not None
    assert progress.as_json()["sent"] == 18


async def test_outage_validation(store: Store) -> None:
    notes = service(store)
    with pytest.raises(OutageError):
        await notes.outage(outage(until=outage().start))
    with pytest.raises(OutageError):
        await notes.outage(outage(reason=" "))


async def test_many_recipients_need_confirmation(store: Store) -> None:
    await seed_street(store)
    notes = service(store, confirm_above=5)
    report = await notes.outage(outage())
    assert report.needs_confirmation
    assert report.campaign is None
    assert await store.db.fetchval("SELECT count(*) FROM outages") == 0
    confirmed = await notes.outage(outage(), yes=True)
    assert confirmed.campaign is not None


async def test_whole_settlement_and_quiet_hours(store: Store, sms: FakeChannel) -> None:
    await seed_street(store)
    planned = await service(store, now=NIGHT).outage(
        outage(street="", houses="", planned=True,
               start=NIGHT + timedelta(days=2), until=NIGHT + timedelta(days=2, hours=4))
    )
    # every account of the settlement, by phone, but +…07 who said «СТОП» (planned)
    assert planned.recipients == 23
    assert planned.campaign is not None
    progress = await service(store).progress(planned.campaign)
    assert progress is not None
    assert progress.counts["deferred"] == 23  # planned notices wait for the morning
    urgent = await service(store, now=NIGHT).outage(
        outage(street="Ленина", houses="", start=NIGHT, until=NIGHT + timedelta(hours=3))
    )
    await sender(store, sms).drain(NIGHT)
    assert sms.addresses == ["+79129999999"]  # the unplanned one went at once
    assert urgent.campaign is not None


async def test_restored_drops_unsent_notices_and_tells_the_same_people(
    store: Store, sms: FakeChannel, telegram: FakeChannel
) -> None:
    await seed_street(store)
    notes = service(store)
    report = await notes.outage(outage(houses="1-3"))
    assert report.campaign is not None
    assert report.outage is not None
    restored = await notes.restored(report.outage)
    assert restored is not None
    assert restored.campaign is not None
    assert restored.recipients == report.recipients == 4  # 1, 2 (+2nd account), 3 (+2nd phone)
    await sender(store, sms, telegram).drain(T0)
    # Nothing of the outage notice went out late; only «restored» was sent.
    assert all(t.startswith("Электроснабжение восстановлено") for t in sms.texts)
    assert len(sms.sent) == 4
    old = await notes.progress(report.campaign)
    assert old is not None
    assert old.counts["cancelled"] == 4  # expired unsent: counted as cancelled
    assert old.recipients == sum(old.counts.values())
    outage_row = await store.outages.get(report.outage)
    assert outage_row is not None
    assert outage_row.status == "restored"
    # Asked again: the same campaign, nothing new.
    again = await notes.restored(report.outage)
    assert again is not None
    assert again.campaign == restored.campaign
    assert await notes.restored(999) is None


async def test_planned_outage_called_off_before_it_starts(
    store: Store, sms: FakeChannel, telegram: FakeChannel
) -> None:
    # «outage restored» on a planned outage that had not begun told people who never lost
    # power that it was «восстановлено» (QA finding): now it is called off, and only
    # those who were told of it hear so.
    await seed_street(store)
    start = T0 + timedelta(days=1)
    notes = service(store)
    told = await notes.outage(
        outage(houses="1-3", planned=True, start=start, until=start + timedelta(hours=4))
    )
    assert told.outage is not None
    await sender(store, sms, telegram).drain(T0)
    assert len(sms.sent) == 4
    called_off = await notes.restored(told.outage)
    assert called_off is not None
    assert called_off.recipients == 4
    await sender(store, sms, telegram).drain(T0)
    assert all("отменено" in t for t in sms.texts[4:])
    assert len(sms.sent) == 8
    row = await store.outages.get(told.outage)
    assert row is not None
    assert row.status == "cancelled"

    # Called off before any notice went out: nobody is bothered at all.
    untold = await notes.outage(
        outage(street="Ленина", houses="", planned=True, start=start,
               until=start + timedelta(hours=1))
    )
    assert untold.outage is not None
    quiet = await notes.restored(untold.outage)
    assert quiet is not None
    assert quiet.recipients == 0
    await sender(store, sms, telegram).drain(T0)
    assert len(sms.sent) == 8


@pytest.mark.parametrize(
    ("reason", "houses"),
    [
        ("ремонт ЛЭП", "1-15,17,21А"),
        # a storm-night reason, written in full, made a 4-part SMS (QA finding)
        ("повреждение опоры ЛЭП 10 кВ упавшим деревом после сильного ветра, аварийная "
         "бригада выехала, работы ведутся, просим соблюдать осторожность у провода", "1-15"),
        ("ремонт", ",".join(str(n) for n in range(1, 80, 2))),  # a very long house list
    ],
)
async def test_outage_sms_fits_two_parts_and_telegram_gets_it_all(
    store: Store, sms: FakeChannel, telegram: FakeChannel, reason: str, houses: str
) -> None:
    await seed_street(store)
    notes = service(store)
    report = await notes.outage(outage(reason=reason, houses=houses), yes=True)
    assert report.sms_parts <= 2
    await sender(store, sms, telegram).drain(T0)
    assert sms.texts
    assert all(sms_parts(t) <= 2 for t in sms.texts)
    full = notes.outage_text(outage(reason=reason, houses=houses))
    assert telegram.texts  # house 5 is linked to Telegram
    assert all(t == full for t in telegram.texts)
    if sms_parts(full) <= 2:
        assert sms.texts[0] == full  # nothing is cut when it fits


LONG_HOUSES = ",".join(str(n) for n in range(1, 80, 2))


@pytest.mark.parametrize(
    ("planned", "houses", "reason", "cut"),
    [
        # «restored» after an outage with a long house list went out as a 3-part SMS
        # (QA pass 2: only the outage notice was cut to two)
        (False, LONG_HOUSES, "ремонт", None),
        # and so did «called off» of a planned outage that had not begun
        (True, LONG_HOUSES, "ремонт", None),
        # a long reason was cut inside a word («аварийное п…», QA pass 2)
        (False, "1-15", "аварийное повреждение кабельной линии 10 кВ после падения "
         "дерева на провода во время сильного ветра и снегопада, бригады работают, "
         "просим соблюдать осторожность и не подходить к оборванным проводам",
         "Причина: аварийное повреждение кабельной линии 10… Восстановим"),
    ],
)
async def test_restored_and_called_off_sms_fit_two_parts_telegram_gets_it_all(
    store: Store, sms: FakeChannel, telegram: FakeChannel,
    *, planned: bool, houses: str, reason: str, cut: str | None,
) -> None:
    await seed_street(store)
    notes = service(store)
    start = T0 + timedelta(days=1) if planned else T0 - timedelta(hours=1)
    req = outage(houses=houses, reason=reason, planned=planned, start=start,
                 until=start + timedelta(hours=6))
    told = await notes.outage(req, yes=True)
    assert told.outage is not None
    await sender(store, sms, telegram).drain(T0)
    notice = notes.outage_sms_text(req)
    assert sms_parts(notice) <= 2
    if cut is not None:
        assert cut in notice
        assert "…." not in notice
    back = await notes.restored(told.outage)
    assert back is not None
    assert back.sms_parts <= 2
    assert back.sample.endswith("ЭнергоСбыт")
    sent_sms, sent_tg = len(sms.texts), len(telegram.texts)
    await sender(store, sms, telegram).drain(T0)
    assert sms.texts[sent_sms:]
    assert all(sms_parts(t) <= 2 for t in sms.texts[sent_sms:])
    # Telegram (house 5) gets the whole list
    assert telegram.texts[sent_tg:]
    assert all(houses in t for t in telegram.texts[sent_tg:])
    again = await notes.restored(told.outage)
    assert again is not None
    assert again.sms_parts == back.sms_parts
    assert again.sample == back.sample


async def test_cancel_stops_unsent(store: Store, sms: FakeChannel) -> None:
    await seed_street(store)
    notes = service(store)
    report = await notes.outage(outage())
    assert report.campaign is not None
    assert await notes.cancel(report.campaign) == 18
    await sender(store, sms).drain(T0)
    assert sms.sent == []
    progress = await notes.progress(report.campaign)
    assert progress is not None
    assert progress.counts["cancelled"] == 18
    assert await notes.cancel(12345) is None


INVOICES = (
    "\ufeffaccount;period;amount;due_date\n"
    "1000000001;2030-11;2500,50;2030-12-10\n"
    "1000000005;2030-11;100;2030-12-10\n"
    "1000000001;2030-11;1;2030-12-10\n"
    "9999999999;2030-11;100;2030-12-10\n"
    "1000000002;2030-13;100;2030-12-10\n"
    "3000000000;2030-11;100;2030-12-10\n"
)


async def test_import_invoices(
    store: Store, sms: FakeChannel, telegram: FakeChannel
) -> None:
    await seed_street(store)
    await add_account(store, "3000000000", [])  # no phone: goes on the paper list
    notes = service(store)
    report = await notes.import_invoices(INVOICES.encode(), name="inv.csv")
    assert report.accepted == 3
    assert [r.line for r in report.rejected] == [4, 5, 6]
    assert "repeats line 2" in report.rejected[0].reason
    assert "unknown account" in report.rejected[1].reason
    await sender(store, sms, telegram).drain(T0)
    assert telegram.texts == ["Счёт за 11.2030 по ЛС 1000000005: 100,00 руб., оплатить до "
                              "10.12.2030. ЭнергоСбыт"]
    assert sms.addresses == ["+79120000001"]
    assert "2500,50 руб." in sms.texts[0]
    progress = await notes.progress(report.campaign)
    assert progress is not None
    assert progress.as_json() == {
        "campaign": report.campaign, "kind": "invoice", "recipients": 3, "queued": 0,
        "sent": 2, "delivered": 0, "failed": 1, "deferred": 0, "cancelled": 0,
        "possible_duplicates": 0,
    }
    rows = [r async for r in notes.undelivered(report.campaign)]
    assert sorted((r.account, r.phone) for r in rows) == [
        ("1000000001", "+79120000001"), ("1000000005", "+79120000005"), ("3000000000", ""),
    ]


async def test_the_same_billing_file_twice_notifies_once(
    store: Store, sms: FakeChannel, telegram: FakeChannel
) -> None:
    # An upload repeated (a re-run command, a retried POST) made a second campaign and
    # every customer got the invoice twice (QA finding).
    await seed_street(store)
    notes = service(store)
    first = await notes.import_invoices(INVOICES.encode(), name="inv.csv")
    again = await notes.import_invoices(INVOICES.encode(), name="inv-copy.csv")
    assert again.duplicate_of == first.campaign
    assert again.accepted == 0
    assert again.as_json()["duplicate_of"] == first.campaign
    await sender(store, sms, telegram).drain(T0)
    # as one import sends: one SMS, one Telegram (the third account has no phone)
    assert len(sms.sent) + len(telegram.sent) == 2
    # Once that campaign is cancelled, the file may be sent anew.
    await notes.cancel(first.campaign)
    anew = await notes.import_invoices(INVOICES.encode(), name="inv.csv")
    assert anew.duplicate_of is None
    assert anew.campaign != first.campaign
    # ... but those the cancelled campaign reached are not told again (QA pass 2: a
    # cancel after the send, then the same file, sent every invoice twice).
    assert anew.already_sent == 2
    assert anew.as_json()["already_sent"] == 2
    await sender(store, sms, telegram).drain(T0)
    assert len(sms.sent) + len(telegram.sent) == 2


@pytest.mark.parametrize(
    "variant",
    [
        # the same export saved with CRLF line ends was a new file: everyone got the
        # invoice twice (QA pass 2)
        INVOICES.replace("\n", "\r\n"),
        # ... and so with an extra blank line at the end,
        INVOICES + "\n\n",
        # ... or without its BOM, or with trailing spaces
        INVOICES.removeprefix("\ufeff"),
        INVOICES.replace("\n", " \n"),
    ],
)
async def test_the_same_billing_file_resaved_is_still_a_duplicate(
    store: Store, sms: FakeChannel, telegram: FakeChannel, variant: str
) -> None:
    await seed_street(store)
    notes = service(store)
    first = await notes.import_invoices(INVOICES.encode(), name="inv.csv")
    again = await notes.import_invoices(variant.encode(), name="inv-resaved.csv")
    assert again.duplicate_of == first.campaign
    # another file (one amount changed) is no duplicate
    other = await notes.import_invoices(
        INVOICES.replace("2500,50", "2500,51").encode(), name="inv2.csv"
    )
    assert other.duplicate_of is None


async def test_debts_go_by_sms_even_to_linked_and_opted_out_people_at_day(
    store: Store, sms: FakeChannel, telegram: FakeChannel
) -> None:
    await seed_street(store)
    csv = (
        "account,amount,restriction_date\n"
        "1000000005,3200.00,2030-12-20\n"
        "1000000007,10,2030-12-20\n"
        "1000000008,0,2030-12-20\n"
    )
    report = await service(store, now=NIGHT).import_debts(csv.encode())
    assert report.accepted == 2
    assert [r.line for r in report.rejected] == [4]
    await sender(store, sms, telegram).drain(NIGHT)
    assert sms.sent == []  # quiet hours: debt notices wait
    morning = datetime(2030, 11, 27, 9, 0, tzinfo=MSK)
    await sender(store, sms, telegram).drain(morning)
    assert telegram.sent == []
    assert sorted(sms.addresses) == ["+79120000005", "+79120000007"]
    # the legally required content in two SMS parts (tests/notifications/test_notice_parts)
    assert "Без оплаты за 20 дн. с доставки" in sms.texts[0]
    assert "с 20.12.2030 могут ограничить, затем приостановить" in sms.texts[0]
    assert sms_parts(sms.texts[0]) <= 2
    rows = await store.db.fetchall(
        "SELECT sent_at FROM outbox WHERE campaign_id = ?", (report.campaign,)
    )
    assert all(r["sent_at"] for r in rows)  # evidence: when each one was sent


async def test_reminder_once_per_period_respecting_opt_out(
    store: Store, sms: FakeChannel, telegram: FakeChannel
) -> None:
    await seed_street(store)
    await sms_contact(store, "+79120000001")
    first_day = datetime(2030, 12, 18, 10, 5, tzinfo=MSK)
    assert await service(store, now=first_day - timedelta(hours=1)).reminders_due() is None
    assert await service(store, now=first_day + timedelta(days=1)).reminders_due() is None
    campaign = await service(store, now=first_day).reminders_due()
    assert campaign is not None
    # A restart later that day: the campaign in the database says it was done.
    assert await service(store, now=first_day + timedelta(hours=2)).reminders_due() is None
    await sender(store, sms, telegram).drain(first_day)
    # Subscribers: people with a contact. +…07 said СТОП; +…06 blocked the bot → SMS.
    assert sms.addresses == ["+79120000001", "+79120000006"]
    assert telegram.addresses == ["501"]


