"""The whole gateway with MAX on, through the real engine: the MAX channel polls the fake
MAX Bot API (tests/bot/fake_max.py) on loopback, the development SMSC takes SMS. The
/start greeting with the contact button, identification by the user's own contact (and
by an SMS code after someone else's), readings by account number in the export as
`max:<id>`, an appeal and its staff answer, a blocked bot falling back to SMS; and an
outage broadcast to a mixed audience (SMS, Telegram, MAX, e-mail) reaching each person
once, on their channel."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.app import Gateway
from bot.cli_appeals import cmd_answer
from bot.settings import load_settings
from notifications.campaigns import OutageRequest
from storage.export import export_readings
from storage.registry import import_customers
from tests.bot import fake_telegram
from tests.bot.fake_max import (
    TOKEN,
    FakeMax,
    bot_started,
    callback_update,
    contact_update,
    text_update,
)
from tests.bot.fake_telegram import FakeTelegram
from tests.mail_gateway.relay import RelaySink, body

IVAN, OLGA, PETR, SERGEY, ANNA = (
    "+79121234567", "+79042001122", "+79085553311", "+79129876543", "+79048887766")
PETR_MAIL = "petr@mail.example"
REGISTRY = (
    "account;phones;name;settlement;street;house;apartment;meter_serial;zones;digits;"
    "last_t1;last_t2;last_t3;last_date;balance;emails\n"
    "1234567890;+7 912 123-45-67;Иванов Иван Петрович;г. Сыктывкар;ул. Коммунистическая;"
    "10;12;011234567;2;5;4390;1815;;2026-10-24;1234,56;\n"
    "0012345678;8 (904) 200-11-22;Смирнова Ольга Николаевна;г. Сыктывкар;"
    "ул. Коммунистическая;10;34;000456789;2;5;4402;1790;;2026-10-23;0;\n"
    "987654321;89085553311;Кузнецов Пётр Андреевич;г. Сыктывкар;ул. Коммунистическая;10;3;"
    f"35127712;1;5;35120;;;2026-10-22;2870,40;{PETR_MAIL}\n"
    "1100223344;+79129876543;Попов Сергей Викторович;г. Сыктывкар;ул. Коммунистическая;10;"
    "7;110022001;1;6;18250;;;2026-10-21;512.30;\n"
    "2200334455;+79048887766;Белова Анна Сергеевна;г. Сыктывкар;ул. Коммунистическая;10;"
    "9;220033001;1;6;1000;;;2026-10-21;0;\n"
)


@dataclass
class World:
    gw: Gateway
    mx: FakeMax
    tg: FakeTelegram
    relay: RelaySink


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with FakeMax() as mx, FakeTelegram() as tg, RelaySink() as relay:
        cfg = tmp_path / "s.toml"
        cfg.write_text(
            f'[storage]\npath = "{tmp_path / "g.db"}"\n'
            "[smpp]\nport = 0\n[api]\nport = 0\n[demo]\nenabled = false\n"
            f'[max]\nenabled = true\napi_base = "{mx.base_url}"\n'
            f'[telegram]\nenabled = true\napi_base = "{tg.base_url}"\n'
            '[email]\nenabled = true\naddress = "info@retailer.example"\nlisten_port = 0\n'
            f'smtp_host = "127.0.0.1"\nsmtp_port = {relay.port}\nsmtp_starttls = false\n'
            # No quiet hours: the notices below go whenever the test runs.
            '[notifications]\nquiet_hours = "00:00-00:00"\n',
            encoding="utf-8",
        )
        settings = load_settings(cfg)
        settings.max.token = SecretStr(TOKEN)
        settings.telegram.token = SecretStr(fake_telegram.TOKEN)
        async with Gateway(settings) as gw:
            assert gw.store is not None
            await import_customers(gw.store.db, REGISTRY.encode())
            yield World(gw, mx, tg, relay)


async def say(mx: FakeMax, update: dict[str, Any], user: int, replies: int = 1) -> str:
    before = len(mx.texts_to(user))
    mx.push_update(update)
    await mx.wait_until(lambda: len(mx.texts_to(user)) >= before + replies)
    return "\n".join(mx.texts_to(user)[before:])


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for a in message.get("attachments") or [] if a["type"] == "inline_keyboard"
            for row in a["payload"]["buttons"] for b in row]


async def test_start_offers_the_contact_button_and_the_own_contact_links(
    world: World,
) -> None:
    mx = world.mx
    greeting = await say(mx, bot_started(501), 501)
    assert greeting
    assert any(b["type"] == "request_contact" for b in _buttons(mx.sent[-1]))
    linked = await say(mx, contact_update(501, IVAN, owner_id=501), 501)
    assert "1234567890" in linked, linked
    balance = await say(mx, text_update(501, "баланс"), 501)
    assert "задолженность 1\u00a0234,56 руб." in balance, balance


async def test_someone_elses_contact_reveals_nothing_and_an_sms_code_links(
    world: World,
) -> None:
    gw, mx = world.gw, world.mx
    assert gw.simulator is not None
    offer = await say(mx, contact_update(502, IVAN, owner_id=777), 502)
    assert "Иванов" not in offer
    assert "1234" not in offer.replace("+7912***4567", "")
    assert {b["payload"] for b in _buttons(mx.sent[-1])} == {"да", "нет"}, mx.sent[-1]
    denied = await say(mx, text_update(502, "баланс"), 502)
    assert "1\u00a0234,56" not in denied
    # ДА to «send a code to this number?», pressed as a button
    await say(mx, callback_update(502, "да", callback_id="cb-502"), 502)
    [sms] = await gw.simulator.wait_messages(IVAN, 1, within=10)
    code = re.search(r"\b(\d{6})\b", sms)
    assert code is not None, sms
    await say(mx, text_update(502, code[1]), 502)
    balance = await say(mx, text_update(502, "баланс"), 502)
    assert "задолженность 1\u00a0234,56 руб." in balance, balance


async def test_readings_by_account_reach_the_export_as_max(world: World) -> None:
    gw, mx = world.gw, world.mx
    mx.fail_send_throttled(times=2, retry_after=1)  # survived: the sender retries
    reply = await say(mx, text_update(503, "ЛС 0012345678 день 4500 ночь 1800"), 503)
    assert "получены" in reply, reply
    assert gw.store is not None
    out = io.StringIO()
    await export_readings(gw.store.db, period=None, fmt="jsonl", include_console=False,
                          out=out, tz=gw.settings.service.tz)
    rows = {(r["account"], r["zone"], r["value"], r["channel"], r["sender"])
            for r in map(json.loads, out.getvalue().splitlines())}
    assert rows == {("0012345678", "T1", "4500", "max", "max:503"),
                    ("0012345678", "T2", "1800", "max", "max:503")}


async def test_appeal_and_the_staff_answer_come_back_in_max(world: World) -> None:
    gw, mx = world.gw, world.mx
    created = await say(mx, text_update(504, "Нет света на ул. Ленина 31 с утра"), 504)
    ticket = re.search(r"№\s?(\d+)", created)
    assert ticket is not None, created
    args = argparse.Namespace(id=int(ticket[1]), text=["Линию", "починили."], staff="op")
    assert await cmd_answer(args, gw.settings) == 0
    await mx.wait_until(lambda: any("Линию починили." in t for t in mx.texts_to(504)))


async def test_a_blocked_bot_falls_back_to_sms(world: World) -> None:
    gw, mx = world.gw, world.mx
    assert gw.notifications is not None
    assert gw.simulator is not None
    await say(mx, contact_update(505, IVAN, owner_id=505), 505)
    mx.fail_send_blocked()
    now = datetime.now(UTC)
    report = await gw.notifications.outage(
        OutageRequest("Сыктывкар", "авария на линии", now, now + timedelta(hours=6),
                      street="Коммунистическая", houses="10"), yes=True)
    assert report.as_json()["by_channel"]["max"] == 1
    texts = await gw.simulator.wait_messages(IVAN, 1, within=15)
    assert "авария на линии" in texts[-1]
    assert not any("авария на линии" in t for t in mx.texts_to(505))
    assert gw.store is not None
    blocked = await gw.store.db.fetchval(
        "SELECT blocked FROM contacts WHERE channel = 'max' AND address = '505'")
    assert blocked == 1


async def test_an_outage_reaches_a_mixed_audience_once_each_on_their_channel(
    world: World,
) -> None:
    gw, mx, tg, relay = world.gw, world.mx, world.tg, world.relay
    assert gw.notifications is not None
    assert gw.simulator is not None
    assert gw.store is not None
    await say(mx, contact_update(601, IVAN, owner_id=601), 601)  # Ivan: MAX
    tg.push_update(fake_telegram.contact_update(602, OLGA, contact_user_id=602))  # Olga: TG
    await tg.wait_until(lambda: any(str(m["chat_id"]) == "602" for m in tg.sent))
    # Petr chooses e-mail by SMS (his address is in the registry); Sergey stays on SMS.
    chose = await gw.simulator.inject_and_wait(PETR, None, "уведомления по почте", 10)
    assert any("почту" in t for t in chose), chose
    # Anna is linked on both messengers: she wrote to MAX last.
    tg.push_update(fake_telegram.contact_update(603, ANNA, contact_user_id=603))
    await tg.wait_until(lambda: any(str(m["chat_id"]) == "603" for m in tg.sent))
    await say(mx, contact_update(604, ANNA, owner_id=604), 604)
    sms_before = {p: len(gw.simulator.messages_to(p)) for p in (IVAN, OLGA, PETR, SERGEY, ANNA)}
    now = datetime.now(UTC)
    reason = "повреждение кабеля"
    report = await gw.notifications.outage(
        OutageRequest("Сыктывкар", reason, now, now + timedelta(hours=6),
                      street="Коммунистическая", houses="10"), yes=True)
    by_channel = report.as_json()["by_channel"]
    assert {k: v for k, v in by_channel.items() if v} == {
        "max": 2, "telegram": 1, "email": 1, "sms": 1}, by_channel
    await mx.wait_until(lambda: all(any(reason in t for t in mx.texts_to(u))
                                    for u in (601, 604)))
    await tg.wait_until(lambda: any(reason in str(m["text"]) for m in tg.sent))
    await relay.wait_for(lambda: any(reason in body(m) for m in relay.to(PETR_MAIL)))
    [sergey] = await gw.simulator.wait_messages(SERGEY, 1, within=15)
    assert reason in sergey
    # Once each: every outbox row of the campaign went out, one per person. (The
    # channel answered before the sender recorded it: wait for the records, bounded.)
    query = "SELECT channel, address, status FROM outbox WHERE campaign_id IS NOT NULL"
    async with asyncio.timeout(15):
        while any(r["status"] in ("queued", "sending")  # noqa: ASYNC110 - polls the DB
                  for r in await gw.store.db.fetchall(query)):
            await asyncio.sleep(0.05)
    rows = await gw.store.db.fetchall(query)
    assert sorted((r["channel"], r["address"]) for r in rows) == sorted([
        ("max", "601"), ("telegram", "602"), ("email", PETR_MAIL), ("sms", SERGEY),
        ("max", "604")])
    assert all(r["status"] in ("sent", "delivered") for r in rows), [dict(r) for r in rows]
    assert [str(m["text"]) for m in tg.sent if reason in str(m["text"])
            and str(m["chat_id"]) == "603"] == []
    for phone in (IVAN, OLGA, PETR, ANNA):
        assert len(gw.simulator.messages_to(phone)) == sms_before[phone], phone


async def test_webhook_mode_through_the_admin_api_server(tmp_path: Path) -> None:
    """Webhook mode: the route lives on the admin API's server; a wrong or missing
    secret gets 401 and nothing is recorded; a good update is answered in MAX."""
    import aiohttp

    async with FakeMax() as mx:
        cfg = tmp_path / "s.toml"
        cfg.write_text(
            f'[storage]\npath = "{tmp_path / "g.db"}"\n'
            "[smpp]\nenabled = false\n[api]\nport = 0\n"
            f'[max]\nenabled = true\napi_base = "{mx.base_url}"\nmode = "webhook"\n'
            'webhook_url = "https://bot.example.org/max/webhook"\n',
            encoding="utf-8",
        )
        settings = load_settings(cfg)
        settings.max.token = SecretStr(TOKEN)
        settings.max.webhook_secret = SecretStr("s3cret-hook")
        async with Gateway(settings) as gw:
            assert gw.api is not None
            assert gw.store is not None
            url = f"http://127.0.0.1:{gw.api.port}/max/webhook"
            update = text_update(701, "помощь")
            async with aiohttp.ClientSession() as http:
                for headers in ({}, {"X-Max-Bot-Api-Secret": "s3cret-hooK"}):
                    async with http.post(url, json=update, headers=headers) as resp:
                        assert resp.status == 401
                assert await gw.store.db.fetchval("SELECT count(*) FROM inbound") == 0
                good = {"X-Max-Bot-Api-Secret": "s3cret-hook"}
                async with http.post(url, data=b"\xff{", headers=good) as resp:
                    assert resp.status == 400
                async with http.post(url, json=update, headers=good) as resp:
                    assert resp.status == 200
            await mx.wait_until(lambda: bool(mx.texts_to(701)))
            assert mx.subscriptions[0]["url"] == "https://bot.example.org/max/webhook"
            assert mx.subscriptions[0]["secret"] == "s3cret-hook"
            assert await gw.store.db.fetchval("SELECT count(*) FROM inbound") == 1
