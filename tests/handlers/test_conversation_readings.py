"""Readings through the real engine, parser and store, as tables of conversations.

Each step is (sender, text, time, fragments the reply must contain, fragments it must
not); after the conversation, the readings billing would get (`export readings`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core import SharedContact
from handlers.common import pick_option
from handlers.texts import SMS_MAX
from tests.handlers.conftest import IN_WINDOW, P1, P2, P3, P4, P5, STRANGER, Conversation

Step = tuple[str, str, datetime, list[str], list[str]]
NOV = "2026-11"
OUT_EARLY = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)  # before the window: November
OUT_LATE = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # after it: December
LATER = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def step(
    sender: str,
    text: str,
    want: list[str],
    avoid: list[str] | None = None,
    at: datetime = IN_WINDOW,
) -> Step:
    return (sender, text, at, want, avoid or [])


CASES: list[tuple[str, list[Step], set[tuple[str, str, str, str, str]]]] = [
    (
        "own phone, one meter: accepted with consumption",
        [step(P1, "4521", ["Приняты показания ЛС 1234567890: 4521", "Расход 21 кВт·ч"])],
        {("1234567890", "011234567", "T1", "4521", NOV)},
    ),
    (
        # a number not on the account: taken as unlinked, checked by staff, nothing quoted
        "account named, from a stranger: received, no consumption",
        [step(STRANGER, "1234567890 4521", ["ЛС 1234567890 получены", "проверит сотрудник"],
              ["Расход", "Приняты"])],
        {("1234567890", "011234567", "T1", "4521", NOV)},
    ),
    (
        # the same answer as for an existing account (no probing), held for staff
        "unknown account: the stranger's answer, nothing stored",
        [step(P1, "ЛС 9999999999 4521", ["ЛС 9999999999 получены", "проверит сотрудник"],
              ["не найден"])],
        set(),
    ),
    (
        "two-zone meter with labels",
        [
            step(
                P2,
                "день 4600 ночь 1850",
                ["день 4600, ночь 1850", "Расход день 100, ночь 50 кВт·ч"],
            )
        ],
        {("0012345678", "M2", "T1", "4600", NOV), ("0012345678", "M2", "T2", "1850", NOV)},
    ),
    (
        "two-zone meter, unlabelled values fill the zones in order",
        [step(P2, "4600 1850", ["день 4600, ночь 1850"])],
        {("0012345678", "M2", "T1", "4600", NOV), ("0012345678", "M2", "T2", "1850", NOV)},
    ),
    (
        "single value for a two-zone meter: refused with the full format",
        [step(P2, "4600", ["2-тарифный", "день 4521 ночь 1876"])],
        set(),
    ),
    (
        "lower value to the owner quotes the last one",
        [step(P1, "4400", ["меньше предыдущего (4500)"])],
        set(),
    ),
    (
        "lower value from a stranger: no comparison aloud, held for staff",
        [step(STRANGER, "1234567890 4400", ["получены"], ["4500", "меньше"])],
        set(),
    ),
    (
        "zero refused",
        [step(P1, "показания 0", ["не может быть нулевым"])],
        set(),
    ),
    (
        "rollover within the cap accepted",
        [step(P5, "показания 0030", ["Приняты показания ЛС 4000000001: 30", "Расход 80"])],
        {("4000000001", "R1", "T1", "30", NOV)},
    ),
    (
        "too large consumption held, ДА accepts",
        [
            step(P1, "9600", ["Расход 5100 кВт·ч намного больше", "ДА или НЕТ"]),
            step(P1, "да", ["Приняты показания ЛС 1234567890: 9600"]),
        ],
        {("1234567890", "011234567", "T1", "9600", NOV)},
    ),
    (
        # «баланс» in between cleared the question: the «ДА» after it found nothing to
        # confirm and the held value never reached billing (billing e2e finding)
        "held readings survive a balance question, ДА still accepts",
        [
            step(P1, "9600", ["ДА или НЕТ"]),
            step(P1, "баланс", ["ЛС 1234567890"]),
            step(P1, "да", ["Приняты показания ЛС 1234567890: 9600"]),
        ],
        {("1234567890", "011234567", "T1", "9600", NOV)},
    ),
    (
        "too large consumption held, НЕТ drops and asks to resend",
        [
            step(P1, "9600", ["ДА или НЕТ"]),
            step(P1, "нет", ["не приняты", "Пришлите верные"]),
        ],
        set(),
    ),
    (
        "an unusual value from a stranger: no question, held for staff",
        [step(STRANGER, "1234567890 9600", ["получены"], ["5100", "больше", "ДА"])],
        set(),
    ),
    (
        "new readings replace ones waiting for ДА",
        [
            step(P1, "9600", ["ДА или НЕТ"]),
            step(P1, "4600", ["Приняты показания ЛС 1234567890: 4600"]),
            step(P1, "да", ["Нечего подтверждать"]),
        ],
        {("1234567890", "011234567", "T1", "4600", NOV)},
    ),
    (
        "correction within the period replaces and says so",
        [
            step(P1, "4521", ["4521"]),
            step(P1, "4530", ["4530", "Прежние показания за ноябрь заменены"], at=LATER),
        ],
        {("1234567890", "011234567", "T1", "4530", NOV)},
    ),
    (
        "before the window: stored for the month and said so",
        [step(P1, "4521", ["Будут учтены в расчёте за ноябрь"], at=OUT_EARLY)],
        {("1234567890", "011234567", "T1", "4521", NOV)},
    ),
    (
        "after the window: the next month",
        [step(P1, "4521", ["Будут учтены в расчёте за декабрь"], at=OUT_LATE)],
        {("1234567890", "011234567", "T1", "4521", "2026-12")},
    ),
    (
        "validation base is the gateway's newer reading",
        [
            step(P1, "4600", ["4600"], at=OUT_LATE),  # December
            # January's reading is checked against December's 4600, not billing's 4500
            step(P1, "4550", ["меньше предыдущего (4600)"], at=datetime(2026, 12, 27, tzinfo=UTC)),
        ],
        {("1234567890", "011234567", "T1", "4600", "2026-12")},
    ),
    (
        "phone with two accounts is asked, then the answer completes the message",
        [
            step(P3, "1100", ["несколько счетов", "1 — 2000000001", "2 — 2000000002"]),
            step(P3, "1", ["Приняты показания ЛС 2000000001: 1100", "Расход 100"]),
        ],
        {("2000000001", "S1", "T1", "1100", NOV)},
    ),
    (
        "answering with the account number works too",
        [
            step(P3, "пик 1250 ночь 950 полупик 2350", ["несколько счетов"]),
            step(P3, "2000000002", ["пик 1250, ночь 950, полупик 2350"]),
        ],
        {
            ("2000000002", "S3", "T1", "1250", NOV),
            ("2000000002", "S3", "T2", "950", NOV),
            ("2000000002", "S3", "T3", "2350", NOV),
        },
    ),
    (
        "an unclear answer to the question is asked again",
        [
            step(P3, "1100", ["несколько счетов"]),
            step(P3, "7", ["Не понял выбор"]),
            step(P3, "2", ["3-тарифный"]),
        ],
        set(),
    ),
    (
        "account named by a phone with two accounts: no question",
        [step(P3, "ЛС 2000000001 1100", ["Приняты показания ЛС 2000000001"])],
        {("2000000001", "S1", "T1", "1100", NOV)},
    ),
    (
        "meters by ordinal in registry order",
        [step(P4, "сч1 5100 сч2 150 60", ["сч №7723001 5100", "сч №7723002 день 150, ночь 60"])],
        {
            ("3000000001", "7723001", "T1", "5100", NOV),
            ("3000000001", "7723002", "T1", "150", NOV),
            ("3000000001", "7723002", "T2", "60", NOV),
        },
    ),
    (
        "meter by serial",
        [step(P4, "счетчик 7723001 5120", ["5120"])],
        {("3000000001", "7723001", "T1", "5120", NOV)},
    ),
    (
        "unlabelled single value fits only the one-zone meter",
        [step(P4, "5120", ["5120"])],
        {("3000000001", "7723001", "T1", "5120", NOV)},
    ),
    (
        "one unlabelled value per zone of every meter fills them in order",
        [step(P4, "5100 1500 600", ["сч №7723001 5100", "сч №7723002 день 1500, ночь 600"])],
        {
            ("3000000001", "7723001", "T1", "5100", NOV),
            ("3000000001", "7723002", "T1", "1500", NOV),
            ("3000000001", "7723002", "T2", "600", NOV),
        },
    ),
    (
        "two values for an account with a one- and a two-zone meter: the two-zone one",
        [step(P4, "день 150 ночь 60", ["Приняты показания ЛС 3000000001: день 150, ночь 60"])],
        {("3000000001", "7723002", "T1", "150", NOV), ("3000000001", "7723002", "T2", "60", NOV)},
    ),
    (
        "unknown meter label",
        [step(P4, "сч5 5120", ["не найден", "сч1 4521 сч2 1234"])],
        set(),
    ),
    (
        "an account alone: asked for its readings, which then need no account",
        [
            step(STRANGER, "ЛС 1234567890", ["Пришлите показания по ЛС 1234567890"]),
            step(STRANGER, "4521", ["Показания по ЛС 1234567890 получены"]),
        ],
        {("1234567890", "011234567", "T1", "4521", NOV)},
    ),
    (
        "a stranger without an account is asked for one",
        [step(STRANGER, "4521", ["Укажите лицевой счёт"])],
        set(),
    ),
    (
        "«показания те же» after ДА repeats the last value",
        [
            step(P1, "показания те же", ["те же показания ЛС 1234567890: 4500", "ДА или НЕТ"]),
            step(P1, "да", ["Приняты показания ЛС 1234567890: 4500"]),
        ],
        {("1234567890", "011234567", "T1", "4500", NOV)},
    ),
    (
        "«показания те же» from a stranger: only from the number on the account",
        [
            step(STRANGER, "ЛС 1234567890", ["Пришлите показания"]),
            step(STRANGER, "показания те же", ["только с номера из договора"], ["4500"]),
        ],
        set(),
    ),
    (
        "«да» with nothing to confirm",
        [step(P1, "да", ["Нечего подтверждать"])],
        set(),
    ),
    (
        # the answered question stayed: the resend was asked «which account?» again
        "refused after «which account?»: the resend goes to the chosen account",
        [
            step(P3, "900", ["несколько счетов"]),
            step(P3, "1", ["меньше предыдущего (1000)"]),
            step(P3, "1100", ["Приняты показания ЛС 2000000001: 1100"]),
        ],
        {("2000000001", "S1", "T1", "1100", NOV)},
    ),
    (
        # the waiting question took the account of the new message and resubmitted the
        # old values (900: refused again), dropping the new ones
        "a new message naming an account while «which account?» waits is itself",
        [
            step(P3, "900", ["несколько счетов"]),
            step(P3, "ЛС 2000000001 1100", ["Приняты показания ЛС 2000000001: 1100"]),
        ],
        {("2000000001", "S1", "T1", "1100", NOV)},
    ),
    (
        # the consumption said was 0 (the repeated value is this period's 4521)
        "«показания те же» after a reading this period: the period's consumption",
        [
            step(P1, "4521", ["Расход 21 кВт·ч"]),
            step(P1, "показания те же", ["те же показания ЛС 1234567890: 4521"]),
            step(P1, "да", ["Приняты показания ЛС 1234567890: 4521", "заменены",
                            "Расход 21 кВт·ч"]),
        ],
        {("1234567890", "011234567", "T1", "4521", NOV)},
    ),
]


@pytest.mark.parametrize(("name", "steps", "exported"), CASES, ids=[c[0] for c in CASES])
async def test_readings_conversation(
    talk: Conversation,
    name: str,
    steps: list[Step],
    exported: set[tuple[str, str, str, str, str]],
) -> None:
    for sender, text, at, want, avoid in steps:
        said = await talk.send(sender, text, at)
        assert said.texts, f"no reply to {text!r}"
        for fragment in want:
            assert fragment in said.text, f"{text!r} → {said.text!r}"
        for fragment in avoid:
            assert fragment not in said.text, f"{text!r} → {said.text!r}"
        for reply in said.texts:
            assert len(reply) <= SMS_MAX, f"SMS reply too long: {reply!r}"
    assert await talk.exported() == exported


async def test_export_names_channel_and_sender(talk: Conversation) -> None:
    await talk.send(P1, "4521")
    await talk.send("tg:555", "ЛС 0012345678 день 4600 ночь 1850")
    rows = await talk.store.readings.export_rows(None, include_console=False)
    senders = {(r.account, r.channel, r.sender) for r in rows}
    assert senders == {
        ("1234567890", "sms", P1),
        ("0012345678", "telegram", "telegram:555"),
    }


async def test_telegram_confirmation_has_buttons(talk: Conversation) -> None:
    await talk.send("tg:555", "", contact=SharedContact(phone=P1, user_id=555))
    await talk.send("tg:555", "ЛС 1234567890 9600")
    items = await talk.store.db.fetchall("SELECT payload FROM outbox WHERE address = '555'")
    assert '"data":"да"' in items[-1]["payload"].replace(" ", "")
    said = await talk.send("tg:555", "да")
    assert "Приняты показания ЛС 1234567890: 9600" in said.text


async def test_confirmation_expires(talk: Conversation) -> None:
    await talk.send(P1, "9600")
    said = await talk.send(P1, "да", datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    assert "Нечего подтверждать" in said.text
    assert await talk.exported() == set()


@pytest.mark.parametrize(
    ("answer", "picked"),
    [
        ("2", "M-302"),
        ("M-302", "M-302"),  # the serial as the question wrote it was no match
        ("№M-302", "M-302"),
        ("m302", "M-302"),
        ("сч 0915432", "0915432"),
        ("915432", "0915432"),
        ("4", None),
        ("M-303", None),
    ],
)
def test_pick_option(answer: str, picked: str | None) -> None:
    assert pick_option(answer, ["M-301", "M-302", "0915432"]) == picked


async def test_a_long_correction_still_says_so(talk: Conversation) -> None:
    # Three meters fill the SMS; the correction sentence did not fit and was dropped, so
    # the customer was not told the earlier values were replaced.
    await talk.store.db.execute(
        "INSERT INTO meters (account, serial, zones, digits, last_t1, last_t2, last_t3,"
        " last_date) VALUES ('3000000001', '7723003', 3, 6, '1200', '900', '2300',"
        " '2026-10-20')"
    )
    text = "сч1 5100 сч2 150 60 сч3 1300 950 2400"
    first = await talk.send(P4, text)
    assert "сч №7723003 пик 1300, ночь 950, полупик 2400" in first.text
    again = await talk.send(P4, text)
    # said briefly; with values of three meters (127 characters) even that takes a third
    # SMS part, which is cheaper than a customer who thinks both readings count
    assert again.text == f"{first.text.split(' Расход')[0]} Прежние заменены."
