"""The e-mail channel over real SMTP on loopback: Python's smtplib plays the company
mail server relaying to us, an aiosmtpd server plays the company relay we send through."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from pydantic import SecretStr

from bot.core import DeliveryReport, Inbound, Outbound, SendErrorKind
from bot.settings import EmailSettings
from mail_gateway.channel import EmailChannel
from mail_gateway.compose import Thread
from tests.mail_gateway.relay import RelaySink, body, smtp_send

OURS = "info@retailer.example"
AUTHSERV = "mx.retailer.example"


class Journal:
    """The `OnInbound` port as the engine implements it: store, then acknowledge; a
    second delivery of one external id is a duplicate. `fail` makes storing fail."""

    def __init__(self) -> None:
        self.entries: list[Inbound] = []
        self.fail = False

    async def __call__(self, inbound: Inbound) -> bool:
        if self.fail:
            raise OSError("disk full")
        if any(e.external_id == inbound.external_id for e in self.entries):
            return False
        self.entries.append(inbound)
        return True


async def _no_reports(report: DeliveryReport) -> None:
    raise AssertionError("e-mail has no delivery reports")


@pytest.fixture
async def relay() -> AsyncIterator[RelaySink]:
    async with RelaySink() as sink:
        yield sink


def _settings(relay: RelaySink, **extra: object) -> EmailSettings:
    base: dict[str, object] = dict(
        enabled=True, address=OURS, listen_port=0, smtp_host="127.0.0.1",
        smtp_port=relay.port, smtp_starttls=False, authserv_id=AUTHSERV, rate=1000,
    )
    base.update(extra)
    return EmailSettings.model_validate(base)


@pytest.fixture
async def chan(relay: RelaySink) -> AsyncIterator[tuple[EmailChannel, Journal]]:
    journal = Journal()
    channel = EmailChannel(_settings(relay), company="ЭнергоСбыт")
    await channel.start(journal, _no_reports)
    yield channel, journal
    await channel.stop()


def _mail(text: str = "ЛС 1234567890 день 4521", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Иван <ivan@mail.ru>")
    msg["To"] = OURS
    msg["Subject"] = headers.pop("Subject", "Показания")
    msg["Message-ID"] = headers.pop("Message_ID", "<c1@mail.ru>")
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    msg.set_content(text)
    return msg.as_bytes()


async def test_a_mail_is_journaled_before_250(chan: tuple[EmailChannel, Journal]) -> None:
    channel, journal = chan
    refused = await smtp_send(channel.port, _mail(), mail_from="ivan@mail.ru", to=[OURS])
    assert refused == {}
    [entry] = journal.entries  # stored by the time the 250 came back
    assert (entry.channel.value, entry.address, entry.text, entry.external_id) == (
        "email", "ivan@mail.ru", "ЛС 1234567890 день 4521", "<c1@mail.ru>")
    thread = Thread.decode(entry.to)
    assert thread is not None
    assert (thread.message_id, thread.subject) == ("<c1@mail.ru>", "Показания")
    assert "authenticated" not in entry.meta


async def test_a_journal_failure_is_a_temporary_refusal(
    chan: tuple[EmailChannel, Journal],
) -> None:
    channel, journal = chan
    journal.fail = True
    with pytest.raises(smtplib.SMTPDataError) as err:
        await smtp_send(channel.port, _mail(), mail_from="ivan@mail.ru", to=[OURS])
    assert err.value.smtp_code == 451  # the relay keeps the mail and tries again
    journal.fail = False
    await smtp_send(channel.port, _mail(), mail_from="ivan@mail.ru", to=[OURS])
    assert len(journal.entries) == 1


@pytest.mark.parametrize("to", ["other@retailer.example", "info@other.example"])
async def test_only_our_address_is_accepted(
    chan: tuple[EmailChannel, Journal], to: str
) -> None:
    channel, journal = chan
    with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
        await smtp_send(channel.port, _mail(), mail_from="ivan@mail.ru", to=[to])
    assert err.value.recipients[to][0] == 550
    assert journal.entries == []


async def test_our_address_in_any_case_is_ours(chan: tuple[EmailChannel, Journal]) -> None:
    channel, journal = chan
    await smtp_send(channel.port, _mail(), mail_from="ivan@mail.ru", to=[OURS.upper()])
    assert len(journal.entries) == 1


async def test_a_10_mb_mail_gets_552_and_nothing_is_stored(
    chan: tuple[EmailChannel, Journal],
) -> None:
    channel, journal = chan
    big = _mail("начало") + (b"y" * 76 + b"\r\n") * 140_000  # 10.7 MB
    # With the SIZE extension the relay is told at MAIL FROM ...
    with pytest.raises(smtplib.SMTPSenderRefused) as err:
        await smtp_send(channel.port, big, mail_from="ivan@mail.ru", to=[OURS])
    assert err.value.smtp_code == 552
    # ... and a client that does not announce the size hears it after DATA.

    def without_size() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", channel.port, timeout=30) as client:
            client.ehlo()
            client.mail("ivan@mail.ru")
            client.rcpt(OURS)
            return client.data(big)

    code, _ = await asyncio.to_thread(without_size)
    assert code == 552
    assert journal.entries == []


@pytest.mark.parametrize(
    ("headers", "mail_from"),
    [
        ({"Auto_Submitted": "auto-replied"}, "robot@mail.ru"),
        ({"X_Autoreply": "yes"}, "robot@mail.ru"),
        ({"Precedence": "bulk"}, "news@mail.ru"),
        ({"List_Id": "<list.mail.ru>"}, "list@mail.ru"),
        ({}, ""),  # a bounce
        ({"From": OURS}, OURS),  # our own reply came back
    ],
)
async def test_automatic_mail_is_accepted_and_never_answered(
    chan: tuple[EmailChannel, Journal], headers: dict[str, str], mail_from: str
) -> None:
    channel, journal = chan
    await smtp_send(channel.port, _mail(**headers), mail_from=mail_from, to=[OURS])
    assert journal.entries == []


async def test_mail_without_a_sender_is_refused_clearly(
    chan: tuple[EmailChannel, Journal],
) -> None:
    channel, journal = chan
    raw = b"Subject: hi\r\nMessage-ID: <n@x>\r\n\r\nno From header\r\n"
    with pytest.raises(smtplib.SMTPDataError) as err:
        await smtp_send(channel.port, raw, mail_from="ivan@mail.ru", to=[OURS])
    assert err.value.smtp_code == 554
    assert b"From" in err.value.smtp_error
    assert journal.entries == []


@pytest.mark.parametrize(
    "raw",
    [
        # a bounce without a From header
        b"Subject: Undelivered\r\nMessage-ID: <b1@x>\r\n\r\nno From header\r\n",
        # a bounce whose body cannot be read
        (b"From: MAILER-DAEMON@mx.mail.ru\r\nMessage-ID: <b2@x>\r\n"
         b"Content-Type: multipart/report; boundary=zz\r\n\r\n--zz\r\n"),
    ],
)
async def test_an_unreadable_bounce_is_accepted_and_never_answered(
    chan: tuple[EmailChannel, Journal], raw: bytes
) -> None:
    channel, journal = chan
    assert await smtp_send(channel.port, raw, mail_from="", to=[OURS]) == {}
    assert journal.entries == []


async def test_unreadable_body_is_journaled_for_an_answer(
    chan: tuple[EmailChannel, Journal],
) -> None:
    channel, journal = chan
    raw = (b"From: ivan@mail.ru\r\nMessage-ID: <u@x>\r\n"
           b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
           b"Content-Type: image/jpeg\r\nContent-Disposition: attachment; filename=a.jpg\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--zz--\r\n")
    await smtp_send(channel.port, raw, mail_from="ivan@mail.ru", to=[OURS])
    [entry] = journal.entries
    assert entry.text == ""
    assert entry.meta["attachments"] == "a.jpg"
    assert entry.meta["media"] == "attachment"


async def test_dmarc_pass_of_our_relay_marks_the_sender(
    chan: tuple[EmailChannel, Journal],
) -> None:
    channel, journal = chan
    raw = _mail(Authentication_Results=f"{AUTHSERV}; dmarc=pass header.from=mail.ru")
    await smtp_send(channel.port, raw, mail_from="ivan@mail.ru", to=[OURS])
    forged = _mail(Message_ID="<c2@mail.ru>",
                   Authentication_Results="mx.evil.example; dmarc=pass header.from=mail.ru")
    await smtp_send(channel.port, forged, mail_from="ivan@mail.ru", to=[OURS])
    assert [e.meta.get("authenticated") for e in journal.entries] == ["dmarc", None]


async def test_a_reply_threads_under_the_customers_mail(
    chan: tuple[EmailChannel, Journal], relay: RelaySink
) -> None:
    channel, _ = chan
    thread = Thread("<c1@mail.ru>", "Показания", ("<c0@mail.ru>",)).encode()
    result = await channel.send(Outbound(channel="email", address="ivan@mail.ru",
                                         text="Показания приняты", thread=thread))
    assert result.ok, result.error
    [msg] = relay.received
    assert msg["In-Reply-To"] == "<c1@mail.ru>"
    assert str(msg["References"]).split() == ["<c0@mail.ru>", "<c1@mail.ru>"]
    assert msg["Subject"] == "Re: Показания"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert str(msg["Message-ID"]).endswith("@retailer.example>")
    assert result.message_ids == (str(msg["Message-ID"]),)
    assert body(msg) == "Показания приняты"
    assert relay.envelopes == [(OURS, ["ivan@mail.ru"])]


@pytest.mark.parametrize(
    ("answer", "kind", "retryable"),
    [
        ("451 4.7.1 Try again later", SendErrorKind.THROTTLED, True),
        ("452 4.3.1 Insufficient storage", SendErrorKind.THROTTLED, True),
        ("454 4.7.0 Temporary authentication failure", SendErrorKind.TEMPORARY, True),
        ("550 5.1.1 No such user", SendErrorKind.INVALID_ADDRESS, False),
        ("554 5.7.1 Message rejected as spam", SendErrorKind.REJECTED, False),
        ("552 5.3.4 Message too big", SendErrorKind.REJECTED, False),
    ],
)
async def test_relay_answers_are_declared_outcomes(
    chan: tuple[EmailChannel, Journal], relay: RelaySink, answer: str,
    kind: SendErrorKind, retryable: bool,
) -> None:
    channel, _ = chan
    relay.refuse.append(answer)
    result = await channel.send(Outbound(channel="email", address="ivan@mail.ru", text="x"))
    assert result.error is not None
    assert (result.error.kind, result.error.retryable) == (kind, retryable)
    assert channel.is_up()  # the relay answered: it is there


async def test_relay_down_is_a_connection_error(relay: RelaySink) -> None:
    settings = _settings(relay)
    channel = EmailChannel(settings.model_copy(update={"smtp_port": 1}))
    await channel.start(Journal(), _no_reports)
    try:
        result = await channel.send(Outbound(channel="email", address="a@b.ru", text="x"))
        assert result.error is not None
        assert (result.error.kind, result.error.retryable) == (SendErrorKind.CONNECTION, True)
        assert not channel.is_up()
    finally:
        await channel.stop()


@pytest.mark.parametrize(
    ("address", "valid_until", "kind"),
    [
        ("not-an-address", None, SendErrorKind.INVALID_ADDRESS),
        ("+79121234567", None, SendErrorKind.INVALID_ADDRESS),
        ("ivan@mail.ru", datetime.now(UTC) - timedelta(minutes=1), SendErrorKind.EXPIRED),
    ],
)
async def test_messages_that_cannot_go(
    chan: tuple[EmailChannel, Journal], relay: RelaySink, address: str,
    valid_until: datetime | None, kind: SendErrorKind,
) -> None:
    channel, _ = chan
    result = await channel.send(Outbound(channel="email", address=address, text="x",
                                         valid_until=valid_until))
    assert result.error is not None
    assert result.error.kind is kind
    assert relay.received == []


async def test_hourly_limit_per_address_ends_a_loop(relay: RelaySink) -> None:
    channel = EmailChannel(_settings(relay, answers_per_hour=3))
    await channel.start(Journal(), _no_reports)
    thread = Thread("<loop@robot.example>", "Auto").encode()
    try:
        results = [
            await channel.send(Outbound(channel="email", address="robot@robot.example",
                                        text="ответ", thread=thread))
            for _ in range(5)
        ]
        other = await channel.send(Outbound(channel="email", address="ivan@mail.ru",
                                            text="ответ", thread=thread))
        notice = await channel.send(Outbound(channel="email", address="robot@robot.example",
                                             text="уведомление"))
    finally:
        await channel.stop()
    assert [r.ok for r in results] == [True, True, True, False, False]
    assert results[-1].error is not None
    assert results[-1].error.kind is SendErrorKind.REJECTED  # an answer in a flood: dropped
    assert notice.error is not None
    assert notice.error.kind is SendErrorKind.THROTTLED  # a notice waits its turn
    assert other.ok
    assert len(relay.received) == 4


async def test_relay_password_is_never_logged(
    relay: RelaySink, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "relay-Pa55-never-logged"
    settings = _settings(relay, smtp_username="gateway").model_copy(
        update={"smtp_password": SecretStr(secret)})
    channel = EmailChannel(settings)
    await channel.start(Journal(), _no_reports)
    caplog.set_level(logging.DEBUG)
    try:
        # The sink offers no AUTH: the login fails, and the failure is logged.
        result = await channel.send(Outbound(channel="email", address="a@b.ru", text="x"))
    finally:
        await channel.stop()
    assert not result.ok
    assert caplog.records
    assert secret not in caplog.text
    assert secret not in repr(settings)


async def test_addresses_are_masked_in_logs(
    chan: tuple[EmailChannel, Journal], caplog: pytest.LogCaptureFixture
) -> None:
    channel, _ = chan
    caplog.set_level(logging.INFO)
    await smtp_send(channel.port, _mail(From="ivan.petrov@mail.ru"),
                    mail_from="ivan.petrov@mail.ru", to=[OURS])
    assert "i***@mail.ru" in caplog.text
    assert "ivan.petrov" not in caplog.text


@pytest.mark.parametrize(
    ("value", "masked"),
    [("ivan.petrov@mail.ru", "i***@mail.ru"), ("+79121234567", "+7912***4567"),
     ("", "-"), ("no-at-sign", "no-at***sign")],
)
def test_mask_phone_masks_addresses_too(value: str, masked: str) -> None:
    from bot.core import mask_phone

    assert mask_phone(value) == masked
