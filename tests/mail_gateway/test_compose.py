"""Outgoing mail: thread references and reply headers (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mail_gateway.compose import (
    MAX_REFERENCES,
    Thread,
    compose,
    new_message_id,
    notice_subject,
    reply_subject,
)

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Показания", "Re: Показания"),
        ("Re: Показания", "Re: Показания"),
        ("RE: Re: Fwd: Показания", "Re: Показания"),
        ("Ответ: вопрос", "Re: вопрос"),
        ("Re[2]: вопрос", "Re: вопрос"),
        ("", "Ответ на ваше письмо"),
        ("Re: ", "Ответ на ваше письмо"),
        ("  много   пробелов ", "Re: много пробелов"),
    ],
)
def test_reply_subject(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        (Thread("<a@b>", "Тема", ("<x@y>",)).encode(), Thread("<a@b>", "Тема", ("<x@y>",))),
        ("<a@b>", Thread("<a@b>")),  # a bare Message-ID
        ("", None),
        (None, None),
        ("7555", None),  # an SMS reply source is no thread
        ('{"s": "no id"}', None),
        ("[1, 2]", None),
    ],
)
def test_thread_reference_round_trip(encoded: str | None, expected: Thread | None) -> None:
    assert Thread.decode(encoded) == expected


def test_reply_threads_under_the_customers_mail() -> None:
    refs = tuple(f"<r{i}@x>" for i in range(30))
    thread = Thread("<cust@mail.ru>", "Показания", refs)
    back = Thread.decode(thread.encode())
    assert back is not None
    msg = compose(sender="info@retailer.example", to="ivan@mail.ru", text="Принято: 4521",
                  thread=back, message_id="<m@retailer.example>", now=NOW, company="ЭнергоСбыт")
    assert msg["In-Reply-To"] == "<cust@mail.ru>"
    references = str(msg["References"]).split()
    assert references[-1] == "<cust@mail.ru>"
    assert len(references) <= MAX_REFERENCES
    assert references[-2] == "<r29@x>"  # the newest ones are kept
    assert msg["Subject"] == "Re: Показания"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg.get_content().strip() == "Принято: 4521"


def test_notice_without_thread_is_auto_generated() -> None:
    msg = compose(sender="info@retailer.example", to="ivan@mail.ru", text="Отключение",
                  thread=None, message_id="<m@retailer.example>", now=NOW,
                  company="ЭнергоСбыт")
    assert msg["In-Reply-To"] is None
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Subject"] == "Отключение"


def test_message_ids_are_on_our_domain_and_unique() -> None:
    ids = {new_message_id("info@retailer.example") for _ in range(50)}
    assert len(ids) == 50
    assert all(i.startswith("<") and i.endswith("@retailer.example>") for i in ids)


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ("Плановое отключение 5 декабря с 10:00 до 14:00. Ремонт линии.",
         "Плановое отключение 5 декабря с 10:00 до 14:00"),
        ("Задолженность по ЛС 1234567890: 1 234,56 руб. Если не оплатить в течение 20 дней"
         " со дня доставки этого уведомления, подача электроэнергии может быть ограничена",
         "Задолженность по ЛС 1234567890: 1 234,56 руб"),
        ("Свет дали!\nСпасибо за терпение.", "Свет дали!"),
        ("Очень " * 30, "Очень " * 11 + "Очень…"),
        ("", ""),
    ],
)
def test_notice_subject(text: str, subject: str) -> None:
    assert notice_subject(text) == subject
    assert len(notice_subject(text)) <= 78
