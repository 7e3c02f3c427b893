"""Help, unknown text, media, emoji, long text, offices: every message gets a reply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handlers import texts
from handlers.base import HandlerConfig
from handlers.offices import load_offices, order_offices
from tests.handlers.conftest import P1, P2, P3, STRANGER, Conversation

CASES = [
    ("help in SMS", P1, "помощь", ["ЛС 1234567890 4521", "день 4521 ночь 1876"]),
    ("help in Telegram", "tg:3", "помощь", ["пик 1200 ночь 900 полупик 2300", "с 18 по 25"]),
    # The help said «с 18 по 25» as if other days were refused; a reading is taken any
    # day, and one sent after the window counts in the next month's bill.
    ("help in SMS tells the window", P1, "помощь", ["18–25", "После 25-го — в счёт след. месяца"]),
    (
        "help in Telegram tells what happens outside the window",
        "tg:3",
        "помощь",
        ["Присланные в другие дни тоже принимаем", "после 25 — следующего"],
    ),
    # what the bot cannot act on goes to a person, and the customer hears by when
    ("unknown text", P1, "ывапролд", ["передано специалисту, ответ — до", "ЛС 1234567890 4521"]),
    ("emoji only", P1, "😡", ["передано специалисту"]),
    # a thumbs-up is thanks: no work for a person
    ("thumbs up", P1, "👍", ["Пожалуйста"]),
    ("thanks emoji with a skin tone", P1, "🙏🏻 ❤️", ["Пожалуйста"]),
    # a bare greeting or thanks is no appeal, and answering «Не понял» was rude
    ("greeting", STRANGER, "привет", ["Здравствуйте", "ЛС 1234567890 4521"]),
    ("thanks", P1, "Спасибо!", ["Пожалуйста"]),
    ("news that the power is back", P1, "Свет дали, спасибо", ["Пожалуйста"]),
    ("telegram menu /readings", "tg:3", "/readings", ["лицевой счёт"]),
    ("a long unreadable text", P1, "ывапролд " * 600, ["передано специалисту"]),
    ("offices: own settlement first (SMS)", P3, "офисы", ["Ухта, ул. Ленина, 44"]),
    ("offices in Telegram: all", "tg:3", "офисы", ["Офисы:", "Сыктывкар", "Усинск"]),
    ("«привязать» in Telegram", "tg:3", "привязать", ["Пришлите номер телефона"]),
    ("a phone number in SMS is not a linking request", P1, "+79120000002",
     ["передано специалисту"]),
    ("status without a number", P1, "статус", ["СТАТУС 123"]),
]


@pytest.mark.parametrize(("name", "sender", "text", "want"), CASES, ids=[c[0] for c in CASES])
async def test_replies(
    talk: Conversation, name: str, sender: str, text: str, want: list[str]
) -> None:
    said = await talk.send(sender, text)
    assert len(said.texts) == 1
    for fragment in want:
        assert fragment in said.text, said.text
    if not sender.startswith("tg:"):
        assert len(said.text) <= texts.SMS_MAX, said.text


async def test_media_without_text(talk: Conversation) -> None:
    said = await talk.send("tg:3", "", media="sticker")
    assert "передано специалисту" in said.text


async def test_sms_offices_start_with_customer_settlement(talk: Conversation) -> None:
    said = await talk.send(P2, "офисы")
    assert said.text.startswith("Сыктывкар")


def test_offices_file_override(tmp_path: Path) -> None:
    path = tmp_path / "offices.json"
    path.write_text(
        json.dumps({"offices": [{"settlement": "Инта", "address": "ул. Мира, 1", "hours": "пн"}]}),
        encoding="utf-8",
    )
    offices = load_offices(str(path))
    assert [o.address for o in offices] == ["ул. Мира, 1"]
    # a broken staff file falls back to the shipped list
    path.write_text("{", encoding="utf-8")
    assert len(load_offices(str(path))) > 1
    shipped = load_offices()
    assert order_offices(shipped, ["г. Печора"])[0].settlement == "Печора"
    assert HandlerConfig().offices_file is None


async def test_start_when_linked_greets_with_help(talk: Conversation) -> None:
    from bot.core import SharedContact

    await talk.send("tg:3", "", contact=SharedContact(phone=P1, user_id=3))
    said = await talk.send("tg:3", "/start")
    assert "привязан" in said.text
    assert "Что я умею" in said.text


@pytest.mark.parametrize(
    ("config", "sender", "want"),
    [
        (
            HandlerConfig(window_first_day=20, window_last_day=26),
            P1,
            ["20–26", "После 26-го — в счёт след. месяца"],
        ),
        (
            HandlerConfig(window_first_day=20, window_last_day=26),
            "tg:3",
            ["с 20 по 26", "до 20 числа — в расчёт этого месяца, после 26 — следующего"],
        ),
    ],
)
async def test_help_takes_the_window_from_settings(
    talk: Conversation, config: HandlerConfig, sender: str, want: list[str]
) -> None:
    said = await talk.send(sender, "помощь")
    for fragment in want:
        assert fragment in said.text
    assert "18–" not in said.text
    assert "с 18" not in said.text


@pytest.mark.parametrize(
    ("template", "values"),
    [
        (
            texts.ACCEPTED,
            {"account": "123456789012", "values": "пик 123456, ночь 123456, полупик 123456"},
        ),
        (texts.HIGH_LINKED, {"consumption": "123456"}),
        (texts.LOWER_LINKED, {"value": "123456", "zone": " (полупик)", "last": "123457"}),
        (texts.CODE_SMS, {"company": "ЭнергоСбыт", "code": "123456"}),
        (texts.CODE_SENT, {"phone": "+7912***4567", "minutes": 10}),
        (texts.APPEAL_REPEAT, {"id": 123456, "due": "25.11 10:00"}),
        (
            texts.SINGLE_FOR_MULTI,
            {"zones": 3, "example": "ЛС 123456789012 пик 1200 ночь 900 полупик 2300"},
        ),
        (texts.HELP, {"first": 18, "last": 25}),
        (texts.STOPPED, {}),
        (texts.SHARED_FOREIGN, {"phone": "+7912***4567"}),
    ],
)
def test_sms_templates_fit_two_parts(template: str, values: dict[str, object]) -> None:
    assert len(template.format(**values)) <= texts.SMS_MAX
