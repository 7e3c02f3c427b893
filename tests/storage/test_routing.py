"""Where a notice goes (storage/routing.py): the rule as a table, and the SQL of
audience campaigns and the rows of billing notices checked against it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.campaigns import AreaAudience, BillingMessage, CampaignRepo, Routing
from storage.db import Database, to_db
from storage.notice_channels import NoticeChannelRepo
from storage.routing import Person, Target, route
from tests.stores import DbMaker

P = "+79120000001"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TG = ("telegram", "501")
MAIL = ("email", "ivan@mail.ru")
ALL = frozenset({"telegram", "email"})


@pytest.mark.parametrize(
    ("person", "running", "required", "targets"),
    [
        (Person(P), ALL, False, [("sms", P)]),
        (Person(P, messenger=TG), ALL, False, [TG]),
        (Person(P, chosen=MAIL, messenger=TG), ALL, False, [MAIL]),
        (Person(P, chosen=("sms", P), messenger=TG), ALL, False, [("sms", P)]),
        # the chosen channel is off: as if no choice
        (Person(P, chosen=MAIL, messenger=TG), frozenset({"telegram"}), False, [TG]),
        (Person(P, chosen=MAIL), frozenset(), False, [("sms", P)]),
        # required by law: SMS always, and also the chosen channel
        (Person(P, chosen=MAIL), ALL, True, [("sms", P), MAIL]),
        (Person(P, chosen=("sms", P)), ALL, True, [("sms", P)]),
        (Person(P), ALL, True, [("sms", P)]),
        (Person(P, chosen=MAIL), frozenset(), True, [("sms", P)]),
    ],
)
def test_route(person: Person, running: frozenset[str], required: bool,
               targets: list[Target]) -> None:
    assert route(person, running, required=required) == targets


# phone → (Telegram user linked to it, chosen channel and address)
PEOPLE: dict[str, tuple[str | None, Target | None]] = {
    "+79120000001": (None, None),
    "+79120000002": ("502", None),
    "+79120000003": ("503", ("email", "three@mail.ru")),
    "+79120000004": (None, ("email", "four@mail.ru")),
    "+79120000005": ("505", ("sms", "+79120000005")),
    "+79120000006": ("506", ("telegram", "506")),
}


async def _world(db: Database) -> None:
    now = to_db(NOW)
    for i, (phone, (tg, chosen)) in enumerate(PEOPLE.items()):
        account = f"100000000{i}"
        await db.execute(
            "INSERT INTO accounts (number, settlement, settlement_key, updated_at)"
            " VALUES (?, 'Ухта', 'ухта', ?)", (account, now))
        await db.execute("INSERT INTO account_phones (account, phone) VALUES (?, ?)",
                         (account, phone))
        if tg:
            await db.execute(
                "INSERT INTO contacts (channel, address, phone, verified_by, created_at)"
                " VALUES ('telegram', ?, ?, 'contact', ?)", (tg, phone, now))
        if chosen:
            await NoticeChannelRepo(db).choose([phone], chosen[0], chosen[1], NOW)


def _expected(running: frozenset[str], *, required: bool = False) -> set[tuple[str, str, str]]:
    out = set()
    for phone, (tg, chosen) in PEOPLE.items():
        # The messenger counts while Telegram runs, and never for a required notice.
        linked = tg and not required and "telegram" in running
        messenger = ("telegram", tg) if linked else None
        for channel, address in route(Person(phone, chosen, messenger), running,
                                      required=required):
            out.add((phone, channel, address))
    return out


@pytest.mark.parametrize(
    "running", [ALL, frozenset({"telegram"}), frozenset({"email"}), frozenset()],
    ids=["all", "telegram", "email", "sms only"],
)
async def test_audience_sql_follows_the_rule(make_db: DbMaker, running: frozenset[str]) -> None:
    async with make_db() as db:
        await _world(db)
        repo = CampaignRepo(db)
        campaign = await repo.create("outage", "t", {})
        routing = Routing(telegram="telegram" in running, running=running)
        counts = await repo.count(AreaAudience("Ухта"), routing)
        added = await repo.enqueue_audience(campaign, AreaAudience("Ухта"), routing,
                                            priority=10)
        rows = await db.fetchall("SELECT phone, channel, address FROM outbox")
        got = {(r["phone"], r["channel"], r["address"]) for r in rows}
        assert got == _expected(running)
        assert added == counts.recipients == len(PEOPLE)
        by = [c for _, c, _ in got]
        assert (counts.sms, counts.telegram, counts.email) == (
            by.count("sms"), by.count("telegram"), by.count("email"))


async def test_debt_notice_by_sms_and_a_copy_to_the_chosen_channel(make_db: DbMaker) -> None:
    async with make_db() as db:
        await _world(db)
        repo = CampaignRepo(db)
        campaign = await repo.create("debt", "d", {})
        messages = [BillingMessage(f"100000000{i}", f"sms {i}", f"full {i}")
                    for i in range(len(PEOPLE))]
        routing = Routing(telegram=False, running=ALL, required=True)
        recipients = await repo.enqueue_billing(
            campaign, messages, routing, priority=20, status="queued", not_before=NOW)
        rows = await db.fetchall(
            "SELECT phone, channel, address, copy, payload, account FROM outbox")
        sms = {(r["phone"], r["channel"], r["address"]) for r in rows if not r["copy"]}
        copies = {(r["account"], r["channel"], r["address"]) for r in rows if r["copy"]}
        assert sms == {(p, "sms", p) for p in PEOPLE}
        assert copies == {("1000000002", "email", "three@mail.ru"),
                          ("1000000003", "email", "four@mail.ru"),
                          ("1000000005", "telegram", "506")}
        assert all('"full' in r["payload"] for r in rows if r["copy"])
        # Copies are no recipients: counts, progress and the paper-notice list skip them.
        assert recipients == len(PEOPLE)
        assert await repo.finish_building(campaign) == len(PEOPLE)
        progress = await repo.progress(campaign)
        assert progress is not None
        assert progress.recipients == len(PEOPLE)
        assert len([u async for u in repo.undelivered(campaign)]) == len(PEOPLE)
        assert await repo.by_channel(campaign) == {"sms": len(PEOPLE)}
        # Building again adds nothing (the copies have their own keys).
        assert await repo.enqueue_billing(
            campaign, messages, routing, priority=20, status="queued", not_before=NOW
        ) == len(PEOPLE)
        assert await db.fetchval("SELECT count(*) FROM outbox") == len(rows)


async def test_invoice_goes_to_the_chosen_channel_only(make_db: DbMaker) -> None:
    async with make_db() as db:
        await _world(db)
        repo = CampaignRepo(db)
        campaign = await repo.create("invoice", "i", {})
        messages = [BillingMessage(f"100000000{i}", "sms", "full") for i in range(len(PEOPLE))]
        await repo.enqueue_billing(campaign, messages, Routing(telegram=True, running=ALL),
                                   priority=20, status="queued", not_before=NOW)
        rows = await db.fetchall("SELECT phone, channel, address, copy FROM outbox")
        assert {(r["phone"], r["channel"], r["address"]) for r in rows} == _expected(ALL)
        assert not any(r["copy"] for r in rows)


@pytest.mark.parametrize(
    ("running", "written_last", "target"),
    [
        (frozenset({"telegram", "max"}), None, ("max", "702")),
        (frozenset({"telegram"}), None, ("telegram", "701")),
        # the first Telegram user writes again: now it is the last
        (frozenset({"telegram", "max"}), "701", ("telegram", "701")),
        (frozenset({"telegram", "max"}), "703", ("telegram", "703")),
    ],
)
async def test_the_messenger_written_from_last(
    make_db: DbMaker, running: frozenset[str], written_last: str | None, target: Target
) -> None:
    from storage.repos import ContactRepo

    async with make_db() as db:
        now = to_db(NOW)
        await db.execute("INSERT INTO accounts (number, settlement, settlement_key, updated_at)"
                         " VALUES ('1', 'Ухта', 'ухта', ?)", (now,))
        await db.execute("INSERT INTO account_phones (account, phone) VALUES ('1', ?)", (P,))
        contacts = ContactRepo(db)
        for channel, address, hour in (("telegram", "701", 8), ("max", "702", 9),
                                       ("telegram", "703", None)):
            contact = await contacts.resolve(channel, address, phone=P, verified_by="code")
            if hour is not None:
                await contacts.seen(contact.id, NOW.replace(hour=hour))
        if written_last is not None:
            again = await contacts.get("telegram", written_last)
            assert again is not None
            await contacts.seen(again.id, NOW.replace(hour=11))
        repo = CampaignRepo(db)
        routing = Routing(telegram=True, running=running)
        outage = await repo.create("outage", "o", {})
        await repo.enqueue_audience(outage, AreaAudience("Ухта"), routing, priority=10)
        invoice = await repo.create("invoice", "i", {})
        await repo.enqueue_billing(invoice, [BillingMessage("1", "s", "f")], routing,
                                   priority=20, status="queued", not_before=NOW)
        rows = await db.fetchall("SELECT campaign_id, channel, address FROM outbox")
        assert {(r["campaign_id"], r["channel"], r["address"]) for r in rows} == {
            (outage, *target), (invoice, *target)}
        assert await NoticeChannelRepo(db).messenger_address(target[0], [P]) == target[1]
