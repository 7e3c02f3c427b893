"""Identification, balance, Telegram linking and subscriptions through the real engine."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.core import SharedContact
from handlers.texts import SMS_MAX
from tests.handlers.conftest import IN_WINDOW, P1, P2, P3, P5, STRANGER, Conversation

NBSP = "\u00a0"
TG = "tg:777"
TG_ID = 777

Step = tuple[str, str, list[str], list[str]]

CASES: list[tuple[str, list[Step]]] = [
    (
        "SMS owner gets the balance",
        [(P1, "баланс", [f"ЛС 1234567890: задолженность 1{NBSP}234,50 руб."], [])],
    ),
    ("credit", [(P2, "баланс", ["ЛС 0012345678: переплата 100,00 руб."], [])]),
    ("owner names own account", [(P1, "Баланс 1234567890", ["задолженность"], [])]),
    (
        "someone else's account reveals nothing",
        [(STRANGER, "Баланс 1234567890", ["только на номер, указанный в договоре"], ["234"])],
    ),
    (
        "a phone on no account",
        [(STRANGER, "баланс", ["не указан в договорах"], [])],
    ),
    (
        "several accounts: asked, then answered",
        [
            (P3, "баланс", ["несколько счетов", "1 — 2000000001"], ["задолженность"]),
            (P3, "2", ["ЛС 2000000002: задолженность 50,00 руб."], []),
        ],
    ),
    (
        "an account not among the choices reveals nothing",
        [
            (P3, "баланс", ["несколько счетов"], []),
            # another account is not a choice: taken as an account alone, nothing revealed
            (P3, "1234567890", ["Пришлите показания по ЛС 1234567890"], ["234,50"]),
        ],
    ),
    (
        "СТОП and подписаться",
        [
            (
                P1,
                "СТОП",
                ["отписаны", "счета, напоминания, опросы и плановые отключения не придут",
                 "О долге и авариях сообщаем по закону", "Вернуть: СТАРТ"],
                [],
            ),
            (P1, "СТАРТ", ["снова подписаны"], []),
            (P1, "СТОП", ["отписаны"], []),
            (P1, "подписаться", ["снова подписаны"], []),
        ],
    ),
    ("SMS cannot unlink its own number", [(P1, "отвязать", ["в офисе"], [])]),
    ("Telegram /start offers to share the phone", [(TG, "/start", ["поделитесь"], [])]),
    (
        "СТОП in Telegram says it in full",
        [(TG, "стоп", ["больше не придут", "о долге и аварийных отключениях приходят по закону"],
          [])],
    ),
    (
        "Telegram balance before linking",
        [(TG, "баланс", ["после привязки номера"], ["1 234"])],
    ),
]


@pytest.mark.parametrize(("name", "steps"), CASES, ids=[c[0] for c in CASES])
async def test_identity_conversation(talk: Conversation, name: str, steps: list[Step]) -> None:
    for sender, text, want, avoid in steps:
        said = await talk.send(sender, text)
        assert said.texts, f"no reply to {text!r}"
        for fragment in want:
            assert fragment in said.text, f"{text!r} → {said.text!r}"
        for fragment in avoid:
            assert fragment not in said.text, f"{text!r} → {said.text!r}"
        if not sender.startswith("tg:"):
            assert all(len(t) <= SMS_MAX for t in said.texts), said.texts


async def test_opt_out_is_stored(talk: Conversation) -> None:
    await talk.send(P1, "СТОП")
    contact = await talk.store.contacts.get("sms", P1)
    assert contact is not None
    assert contact.opted_out
    await talk.send(P1, "подписаться")
    contact = await talk.store.contacts.get("sms", P1)
    assert contact is not None
    assert not contact.opted_out


async def test_failed_attempts_are_limited(talk: Conversation) -> None:
    for number in ("2000000001", "2000000002", "3000000001", "4000000001", "5000000001"):
        said = await talk.send(P1, f"Баланс {number}")
        assert "только на номер" in said.text
    # even the sender's own account is refused for an hour: no enumeration by timing
    said = await talk.send(P1, "Баланс 1234567890")
    assert "Слишком много" in said.text
    later = IN_WINDOW + timedelta(hours=1, minutes=1)
    said = await talk.send(P1, "Баланс 1234567890", later)
    assert "задолженность" in said.text


async def test_start_requests_contact(talk: Conversation) -> None:
    await talk.send(TG, "/start")
    row = await talk.store.db.fetchone("SELECT payload FROM outbox WHERE address = '777'")
    assert row is not None
    assert json.loads(row["payload"])["request_contact"] is True


async def test_own_contact_links(talk: Conversation) -> None:
    said = await talk.send(TG, "", contact=SharedContact(phone="89121234567", user_id=TG_ID))
    assert "привязан" in said.text
    assert "1234567890" in said.text
    said = await talk.send(TG, "баланс")
    assert f"задолженность 1{NBSP}234,50" in said.text
    # a linked Telegram user sees consumption for readings without naming the account
    said = await talk.send(TG, "4521")
    assert "Приняты показания ЛС 1234567890: 4521" in said.text
    assert "Расход 21" in said.text
    # and may unlink
    said = await talk.send(TG, "отвязать")
    assert "отвязан" in said.text
    said = await talk.send(TG, "баланс")
    assert "после привязки" in said.text


async def test_someone_elses_contact_reveals_nothing_and_offers_code(talk: Conversation) -> None:
    said = await talk.send(TG, "", contact=SharedContact(phone="+79121234567", user_id=42))
    assert "только своим номером" in said.text
    assert "1234567890" not in said.text
    assert "1234567" not in said.text.replace("***", "")
    contact = await talk.store.contacts.get("telegram", "777")
    assert contact is not None
    assert contact.phone is None
    said = await talk.send(TG, "да")
    assert "придёт SMS с кодом" in said.text
    sms = await talk.new_for("sms", P1)
    assert len(sms) == 1
    code = re.search(r"\b(\d{6})\b", sms[0])
    assert code is not None
    said = await talk.send(TG, code[1])
    assert "привязан" in said.text
    said = await talk.send(TG, "баланс")
    assert "задолженность" in said.text


async def test_code_by_typed_phone_wrong_tries_and_limits(talk: Conversation) -> None:
    said = await talk.send(TG, "+7 912 000-00-02")
    assert "придёт SMS" in said.text
    assert len(await talk.new_for("sms", P2)) == 1
    for left in ("2", "1"):
        said = await talk.send(TG, "000000")
        assert f"Осталось попыток: {left}" in said.text
    said = await talk.send(TG, "000000")
    assert "больше не действует" in said.text
    # two more codes today are allowed, the fourth is not
    await talk.send(TG, "+79120000002")
    await talk.send(TG, "+79120000002")
    said = await talk.send(TG, "+79120000002")
    assert "Попробуйте завтра" in said.text
    assert len(await talk.new_for("sms", P2)) == 2


async def test_code_expires(talk: Conversation) -> None:
    await talk.send(TG, "+79120000005")
    sms = await talk.new_for("sms", P5)
    code = re.search(r"\b(\d{6})\b", sms[0])
    assert code is not None
    said = await talk.send(TG, code[1], IN_WINDOW + timedelta(minutes=11))
    assert "привязан" not in said.text


async def test_phone_not_in_registry_gets_same_answer_and_no_sms(talk: Conversation) -> None:
    said = await talk.send(TG, "+79990000000")
    assert "Если номер +7999***0000 указан в договоре" in said.text
    assert await talk.new_for("sms", STRANGER) == []


async def test_linked_telegram_user_named_foreign_account_is_refused(talk: Conversation) -> None:
    await talk.send(TG, "", contact=SharedContact(phone="+79121234567", user_id=TG_ID))
    said = await talk.send(TG, "Баланс 0012345678")
    assert "после привязки" in said.text
    assert "100" not in said.text


async def test_code_limit_per_phone_across_users(talk: Conversation) -> None:
    for user in ("tg:1", "tg:2", "tg:3"):
        said = await talk.send(user, "+79120000002")
        assert "придёт SMS" in said.text
    said = await talk.send("tg:4", "+79120000002")
    assert "Попробуйте завтра" in said.text
    tomorrow = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    said = await talk.send("tg:4", "+79120000002", tomorrow)
    assert "придёт SMS" in said.text
