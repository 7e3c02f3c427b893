"""Appeals through the real engine: tickets, due times, repeats, known outages, status,
and the staff side (`list_appeals`, `show_appeal`, `answer_appeal`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core import SharedContact
from handlers.appeals import answer_appeal, list_appeals, show_appeal
from handlers.base import Recipient
from handlers.texts import SMS_MAX
from storage.store import Store
from tests.handlers.conftest import IN_WINDOW, P1, P2, STRANGER, Conversation

# IN_WINDOW is Friday 20 Nov 2026, 10:00 in Moscow: 3 working days → Wednesday 25th


async def make_outage(store: Store, street: str = "ул. Ленина", houses: str = "1-40") -> int:
    outage = await store.outages.create(
        settlement="Сыктывкар",
        street=street,
        houses=houses,
        reason="авария на подстанции",
        start_at=datetime(2026, 11, 20, 5, 0, tzinfo=UTC),
        until_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
        planned=False,
    )
    return outage.id


async def test_appeal_gets_ticket_and_due_time(talk: Conversation) -> None:
    said = await talk.send(P1, "прошу провести перерасчет")
    assert said.text == "Обращение №1 принято. Ответим до 25.11 10:00."
    appeal = await talk.store.appeals.get(1)
    assert appeal is not None
    assert (appeal.category, appeal.account, appeal.reply_source) == (
        "billing",
        "1234567890",
        "7555",
    )


async def test_urgent_appeal_is_due_in_a_day(talk: Conversation) -> None:
    said = await talk.send(P1, "скачет напряжение, моргает свет")
    assert "Ответим до 21.11 10:00" in said.text


async def test_second_appeal_of_same_category_joins_the_open_one(talk: Conversation) -> None:
    await talk.send(P1, "прошу провести перерасчет")
    said = await talk.send(P1, "почему такой большой счет за октябрь? я столько не мог нажечь")
    assert "Обращение №1 уже в работе" in said.text
    appeal = await talk.store.appeals.get(1)
    assert appeal is not None
    assert appeal.repeats == 1
    shown = await show_appeal(talk.store, 1)
    assert shown is not None
    assert len(shown[1]) == 2
    # another category is a new appeal
    said = await talk.send(P1, "сломался счетчик, экран не горит")
    assert "Обращение №2 принято" in said.text


async def test_outage_at_a_known_address_is_answered_and_linked(talk: Conversation) -> None:
    outage_id = await make_outage(talk.store)
    said = await talk.send(P1, "нет света")
    assert "отключение: авария на подстанции" in said.text
    assert "Свет дадут до 20.11 18:00" in said.text
    appeal = await talk.store.appeals.get(1)
    assert appeal is not None
    assert (appeal.outage_id, appeal.status) == (outage_id, "closed")
    said = await talk.send(P1, "когда дадут свет? третий час сидим без электричества")
    assert "авария на подстанции" in said.text
    assert "№1" in said.text
    appeal = await talk.store.appeals.get(1)
    assert appeal is not None
    assert appeal.repeats == 1


async def test_outage_elsewhere_opens_an_urgent_case(talk: Conversation) -> None:
    await make_outage(talk.store, houses="40-50")
    said = await talk.send(P1, "нет света")
    assert "Обращение №1 принято. Ответим до 21.11 10:00" in said.text


async def test_outage_named_in_text_by_a_stranger(talk: Conversation) -> None:
    await make_outage(talk.store)
    said = await talk.send(STRANGER, "Нет света на ул. Ленина 31 с утра")
    assert "авария на подстанции" in said.text
    said = await talk.send("+79990000001", "Нет света на ул. Ленина 45 с утра")
    assert "Обращение №2 принято" in said.text


async def test_whole_settlement_outage_needs_a_known_address(talk: Conversation) -> None:
    await make_outage(talk.store, street="", houses="")
    said = await talk.send("tg:9", "Нет света на ул. Ленина 31 с утра")
    assert "Обращение №1" in said.text
    assert "авария" not in said.text
    # a Telegram user linked to an account in that settlement gets the richer answer
    await talk.send("tg:10", "", contact=SharedContact(phone=P1, user_id=10))
    said = await talk.send("tg:10", "нет света")
    assert "Восстановление ожидается до 20.11 18:00" in said.text


STATUS_CASES = [
    ("the author sees details", P1, ["(начисления): в работе, ответ до 25.11 10:00"], []),
    # «статус N» from anyone else: the answer to a ticket that does not exist (no probing)
    ("a stranger learns nothing", STRANGER, ["Обращение №1 не найдено"], ["начисл", "работе"]),
    ("another account's contact learns nothing", P2, ["Обращение №1 не найдено"], ["работе"]),
    ("a linked contact of the account sees details", "tg:1", ["начисления"], []),
]


@pytest.mark.parametrize(
    ("name", "sender", "want", "avoid"), STATUS_CASES, ids=[c[0] for c in STATUS_CASES]
)
async def test_status(
    talk: Conversation, name: str, sender: str, want: list[str], avoid: list[str]
) -> None:
    await talk.send(P1, "прошу провести перерасчет")
    if sender == "tg:1":
        await talk.store.contacts.resolve("telegram", "1")
        contact = await talk.store.contacts.get("telegram", "1")
        assert contact is not None
        await talk.store.contacts.verify_phone(contact.id, P1, "contact")
    said = await talk.send(sender, "статус 1")
    for fragment in want:
        assert fragment in said.text
    for fragment in avoid:
        assert fragment not in said.text


async def test_status_unknown_and_missing_number(talk: Conversation) -> None:
    said = await talk.send(P1, "статус 99")
    assert "Обращение №99 не найдено" in said.text


@pytest.mark.parametrize("state", ["open", "answered", "closed"])
async def test_status_of_anothers_appeal_reads_as_no_such_ticket(
    talk: Conversation, state: str
) -> None:
    """Tickets are numbered in sequence: a stranger asking «статус 1» and «статус 2»
    must not tell an existing ticket from a missing one, whatever its state."""
    await talk.send(P1, "прошу провести перерасчет")
    if state == "answered":
        await answer_appeal(talk.store, 1, "Перерасчёт выполнен.", "operator1")
    elif state == "closed":
        await talk.store.db.execute("UPDATE appeals SET status = 'closed' WHERE id = 1")
    existing = await talk.send(STRANGER, "статус 1")
    missing = await talk.send(STRANGER, "статус 2")
    assert existing.text == missing.text.replace("№2", "№1")
    assert existing.text == "Обращение №1 не найдено. Проверьте номер: СТАТУС 123"


async def test_staff_answer_reaches_the_customer_channel(talk: Conversation) -> None:
    await talk.send(P1, "прошу провести перерасчет")
    await talk.send("tg:5", "сломался счетчик, экран не горит")
    listed = await list_appeals(talk.store, "open")
    assert [a.id for a in listed] == [1, 2]
    appeal, reply = await answer_appeal(talk.store, 1, "Перерасчёт выполнен.", "operator1")
    assert appeal.status == "answered"
    assert appeal.answer == "Перерасчёт выполнен."
    assert reply.to == Recipient("sms", P1)
    assert reply.text == "Ответ на обращение №1: Перерасчёт выполнен."
    assert appeal.reply_source == "7555"
    _, reply = await answer_appeal(talk.store, 2, "Мастер придёт завтра.", "operator1")
    assert reply.to == Recipient("telegram", "5")
    said = await talk.send(P1, "статус 1")
    assert "ответ от" in said.text
    assert "Перерасчёт выполнен." in said.text
    said = await talk.send(STRANGER, "статус 1")
    assert said.text == "Обращение №1 не найдено. Проверьте номер: СТАТУС 123"
    # answered: a new appeal of the same category is a new case
    said = await talk.send(P1, "прошу провести перерасчет")
    assert "Обращение №3 принято" in said.text
    with pytest.raises(LookupError):
        await answer_appeal(talk.store, 99, "x", "operator1")


async def test_telegram_topic_buttons(talk: Conversation) -> None:
    said = await talk.send("tg:5", "appeal:pick", callback=True)
    assert "Выберите тему" in said.text
    said = await talk.send("tg:5", "appeal:meter", callback=True)
    assert "Тема: счётчик" in said.text
    said = await talk.send("tg:5", "экран погас")
    assert "Обращение №1 (счётчик) принято" in said.text
    appeal = await talk.store.appeals.get(1)
    assert appeal is not None
    assert appeal.category == "meter"


async def test_long_appeal_is_accepted_and_cut(talk: Conversation) -> None:
    text = "прошу провести перерасчет " + "очень " * 1000
    said = await talk.send(P2, text)
    assert "Обращение №1 принято" in said.text
    appeal = await talk.store.appeals.get(1)
    assert appeal is not None
    assert len(appeal.text) <= 4000
    assert all(len(t) <= SMS_MAX for t in said.texts)


async def test_appeal_time_is_the_message_time(talk: Conversation) -> None:
    # Thursday 31 Dec 2026 is a day off; January holidays follow
    said = await talk.send(P1, "прошу провести перерасчет", datetime(2026, 12, 31, 9, tzinfo=UTC))
    assert "Ответим до 13.01 12:00" in said.text
    assert IN_WINDOW.tzinfo is UTC
