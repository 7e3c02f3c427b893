"""Inbound mail → what the customer wrote, as tables of cases (pure functions)."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mail_gateway.mime import (
    Mail,
    Unreadable,
    auto_reason,
    body_text,
    dmarc_pass,
    html_to_text,
    read_mail,
    strip_quoted,
)

OURS = "info@retailer.example"
AUTHSERV = "mx.retailer.example"


def _raw(headers: dict[str, str], body: bytes, ctype: str = "text/plain; charset=utf-8",
         cte: str = "8bit") -> bytes:
    lines = [f"{k}: {v}" for k, v in {"From": "Иван <Ivan@Mail.ru>", "To": OURS,
                                        "Message-ID": "<m1@mail.ru>", **headers}.items()]
    lines += [f"Content-Type: {ctype}", f"Content-Transfer-Encoding: {cte}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _read(raw: bytes, mail_from: str = "ivan@mail.ru") -> Mail | Unreadable:
    return read_mail(raw, mail_from=mail_from, our_address=OURS, authserv_id=AUTHSERV)


@pytest.mark.parametrize(
    ("ctype", "cte", "body", "expected"),
    [
        # koi8-r, quoted-printable (an old Outlook Express)
        ("text/plain; charset=koi8-r", "quoted-printable",
         b"=EC=F3 1234567890 =C4=C5=CE=D8 4521", "ЛС 1234567890 день 4521"),
        # windows-1251, base64
        ("text/plain; charset=windows-1251", "base64",
         base64.b64encode("ЛС 1234567890 ночь 1876".encode("cp1251")),
         "ЛС 1234567890 ночь 1876"),
        # utf-8, base64
        ("text/plain; charset=utf-8", "base64",
         base64.b64encode("день 4521 ночь 1876".encode()), "день 4521 ночь 1876"),
        # no charset named, bytes in cp1251: read as cp1251, not as mojibake
        ("text/plain", "8bit", "показания 4521".encode("cp1251"), "показания 4521"),
        # an unknown charset name: utf-8 first
        ("text/plain; charset=x-unknown", "8bit", "показания 4521".encode(),
         "показания 4521"),
        # HTML only: text without tags, scripts and styles
        ("text/html; charset=utf-8", "8bit",
         b"<html><head><style>p{color:red}</style><script>alert('x')</script></head>"
         b"<body><p>\xd0\x9b\xd0\xa1 1234567890</p><div>4521&nbsp;</div></body></html>",
         "ЛС 1234567890\n4521"),
    ],
)
def test_body_charsets_and_encodings(ctype: str, cte: str, body: bytes, expected: str) -> None:
    mail = _read(_raw({}, body, ctype, cte))
    assert isinstance(mail, Mail)
    assert mail.text == expected


def test_plain_preferred_over_html_and_attachments_listed() -> None:
    msg = MIMEMultipart("mixed")
    alt = MIMEMultipart("alternative")
    alt.attach(MIMEText("день 4521", "plain", "utf-8"))
    alt.attach(MIMEText("<p>HTML version</p>", "html", "utf-8"))
    msg.attach(alt)
    photo = MIMEText("binary", "plain", "utf-8")
    photo.add_header("Content-Disposition", "attachment", filename="счётчик.jpg")
    msg.attach(photo)
    text, attachments = body_text(msg)
    assert text == "день 4521"
    assert attachments == ("счётчик.jpg",)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>a</p><script>document.cookie</script><p>b</p>", "a\nb"),
        ("<SCRIPT type='text/javascript'>evil()</SCRIPT>день 4521", "день 4521"),
        ("<p>ответ</p><blockquote>старое письмо</blockquote>", "ответ"),
        ('<div>новое</div><div class="gmail_quote">было <b>раньше</b></div>', "новое"),
        ("<p>&lt;script&gt; is text &amp; stays</p>", "<script> is text & stays"),
        ("<img src='http://tracker/x.gif'>4521<br>1876", "4521\n1876"),
        ("<p>unclosed <b>bold", "unclosed bold"),
        ("<style>@import url(http://x)</style>", ""),
    ],
)
def test_html_to_text_is_safe(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("день 4521\n\n> Ваши показания приняты\n> ЭнергоСбыт", "день 4521"),
        ("4521\n-----Original Message-----\nFrom: info@r.ru\nпоказания", "4521"),
        ("4521\n-------- Исходное сообщение --------\nот: x", "4521"),
        ("4521\n\nОтправлено с iPhone", "4521"),
        ("4521\n\nОтправлено из мобильной Почты Mail.ru", "4521"),
        ("4521\n-- \nИван Иванов\n+7 912 123-45-67", "4521"),
        ("4521\n\nС уважением, Иван Петрович\nтел. 89121234567", "4521"),
        ("4521\n\nС уважением,\nИван", "4521"),
        # Gmail, Russian, with the verb
        ("день 4521\n\nпн, 1 дек. 2026 г. в 10:00, ЭнергоСбыт <info@r.ru> пишет:\n> x",
         "день 4521"),
        # Gmail, Russian, wrapped onto two lines
        ("день 4521\nпн, 1 дек. 2026 г. в 10:00, ЭнергоСбыт <\ninfo@r.ru>:\n> x",
         "день 4521"),
        # Yandex
        ("4521\n\n03.12.2026, 10:00, \"ЭнергоСбыт\" <info@r.ru>:\n> x", "4521"),
        # Mail.ru
        ("4521\n\nЧетверг, 3 декабря 2026, 10:00 +03:00 от ЭнергоСбыт <info@r.ru>:\n> x",
         "4521"),
        # Outlook, Russian header block under a rule
        ("4521\n\n________________________________\nОт: ЭнергоСбыт\nОтправлено: 1 декабря",
         "4521"),
        ("4521\nFrom: ЭнергоСбыт <info@r.ru>\nSent: Monday", "4521"),
        # English Gmail
        ("4521\n\nOn Mon, Dec 1, 2026 at 10:00 AM Energo <info@r.ru> wrote:\n> x", "4521"),
        # nothing to strip: a time and a colon alone are not a reply header
        ("свет отключили в 10:00, когда дадут:", "свет отключили в 10:00, когда дадут:"),
        ("ЛС 1234567890\nдень 4521\nночь 1876", "ЛС 1234567890\nдень 4521\nночь 1876"),
    ],
)
def test_quoted_replies_and_signatures_are_stripped(text: str, expected: str) -> None:
    assert strip_quoted(text) == expected


def _msg(headers: dict[str, str], ctype: str = "text/plain") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "ivan@mail.ru")
    for key, value in headers.items():
        msg[key] = value
    if ctype == "multipart/report":
        msg.set_content("report")
        msg.replace_header("Content-Type", "multipart/report; report-type=delivery-status")
    else:
        msg.set_content("text")
    return msg


@pytest.mark.parametrize(
    ("headers", "mail_from", "automatic"),
    [
        ({}, "ivan@mail.ru", False),
        ({"Auto-Submitted": "no"}, "ivan@mail.ru", False),
        ({"Auto-Submitted": "auto-replied"}, "ivan@mail.ru", True),
        ({"Auto-Submitted": "auto-generated"}, "ivan@mail.ru", True),
        ({"X-Autoreply": "yes"}, "ivan@mail.ru", True),
        ({"Precedence": "bulk"}, "ivan@mail.ru", True),
        ({"Precedence": "junk"}, "ivan@mail.ru", True),
        ({"Precedence": "list"}, "ivan@mail.ru", True),
        ({"List-Id": "<news.example.com>"}, "ivan@mail.ru", True),
        ({}, "", True),  # a bounce: empty return path
        ({}, "<>", True),
        ({"From": "MAILER-DAEMON@mx.mail.ru"}, "mailer-daemon@mx.mail.ru", True),
        ({"From": OURS}, OURS, True),  # our own mail came back
    ],
)
def test_automatic_mail_is_recognised(
    headers: dict[str, str], mail_from: str, automatic: bool
) -> None:
    assert (auto_reason(_msg(dict(headers)), mail_from, OURS) is not None) is automatic


def test_delivery_report_is_automatic() -> None:
    assert auto_reason(_msg({}, "multipart/report"), "x@y.ru", OURS) == "delivery or read report"


@pytest.mark.parametrize(
    ("results", "passed"),
    [
        ([f"{AUTHSERV}; spf=pass; dkim=pass; dmarc=pass header.from=mail.ru"], True),
        ([f"{AUTHSERV}; dmarc=pass (p=reject dis=none) header.from=mail.ru"], True),
        ([f"{AUTHSERV.upper()}; DMARC=pass"], True),
        ([f"{AUTHSERV} 1; dmarc=pass"], True),  # with a version
        ([f"{AUTHSERV}; dmarc=fail header.from=mail.ru"], False),
        ([f"{AUTHSERV}; dmarc=none"], False),
        ([f"{AUTHSERV}; spf=pass"], False),
        # the domain the relay checked is not the From domain
        ([f"{AUTHSERV}; dmarc=pass header.from=evil.example"], False),
        # forged by the sender: another authserv-id counts for nothing
        (["mx.evil.example; dmarc=pass header.from=mail.ru"], False),
        # a forged header below ours does not override ours
        ([f"{AUTHSERV}; dmarc=fail", f"{AUTHSERV}; dmarc=pass"], False),
        # a comment that says pass is no result
        ([f"{AUTHSERV}; dmarc=fail (dmarc=pass would be nice)"], False),
        ([], False),
    ],
)
def test_dmarc_counts_only_from_our_relay(results: list[str], passed: bool) -> None:
    msg = _msg({})
    for value in results:
        msg["Authentication-Results"] = value
    assert dmarc_pass(msg, AUTHSERV, "ivan@mail.ru") is passed


def test_dmarc_needs_a_configured_authserv_id() -> None:
    msg = _msg({"Authentication-Results": "; dmarc=pass"})
    assert dmarc_pass(msg, "", "ivan@mail.ru") is False


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "no readable From address"),
        (b"\x00\xff\xfe garbage \x00", "no readable From address"),
        (b"From: nobody\r\n\r\ntext", "no readable From address"),
        (b"From: a@b.ru, c@d.ru\r\n\r\ntext", "no readable From address"),
    ],
)
def test_malformed_mail_is_a_value(raw: bytes, reason: str) -> None:
    read = _read(raw)
    assert isinstance(read, Unreadable)
    assert read.reason == reason
    assert read.message_id.startswith("<")


def test_broken_multipart_still_reads_or_says_why() -> None:
    raw = (b"From: ivan@mail.ru\r\nMessage-ID: <b@x>\r\n"
           b"Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n"
           b"--zz\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n")  # no closing
    read = _read(raw)
    assert isinstance(read, Mail | Unreadable)
    assert read.message_id == "<b@x>"


def test_readings_in_the_subject_of_an_empty_mail() -> None:
    mail = _read(_raw({"Subject": "ЛС 1234567890 4521"}, b""))
    assert isinstance(mail, Mail)
    assert mail.text == "ЛС 1234567890 4521"


def test_reply_subject_alone_is_not_the_text() -> None:
    mail = _read(_raw({"Subject": "Re: Показания"}, b"> quoted only"))
    assert isinstance(mail, Mail)
    assert mail.text == ""


def test_thread_and_identity_fields() -> None:
    mail = _read(_raw({
        "Subject": "=?utf-8?B?" + base64.b64encode("Показания".encode()).decode() + "?=",
        "In-Reply-To": "<ours-1@retailer.example>",
        "References": "<a@x> <ours-1@retailer.example>",
        "Authentication-Results": f"{AUTHSERV}; dmarc=pass header.from=mail.ru",
    }, "день 4521".encode()))
    assert isinstance(mail, Mail)
    assert (mail.sender, mail.message_id, mail.subject) == (
        "ivan@mail.ru", "<m1@mail.ru>", "Показания")
    assert mail.references == ("<a@x>", "<ours-1@retailer.example>")
    assert mail.authenticated is True
    assert mail.auto is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_value_never_an_exception(raw: bytes) -> None:
    assert isinstance(_read(raw), Mail | Unreadable)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=500))
def test_any_header_text_gives_a_value(text: str) -> None:
    raw = ("From: ivan@mail.ru\r\nSubject: " + text.replace("\r", " ").replace("\n", " ")
           + "\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + text).encode(
        "utf-8", "surrogatepass")
    assert isinstance(_read(raw), Mail | Unreadable)


@pytest.mark.parametrize(
    ("raw", "mail_from", "auto"),
    [
        (b"Subject: x\r\n\r\nno From", "", "bounce (empty return path)"),
        (b"Subject: x\r\n\r\nno From", "ivan@mail.ru", None),
        (b"From: a@b.ru\r\nAuto-Submitted: auto-replied\r\n\r\n", "a@b.ru",
         "Auto-Submitted: auto-replied"),
    ],
)
def test_unreadable_mail_still_says_whether_it_is_automatic(
    raw: bytes, mail_from: str, auto: str | None
) -> None:
    read = _read(raw, mail_from)
    assert read.auto == auto
