"""Staff commands in Telegram: parsing (a table) and actions over a real store."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from notifications import templates
from notifications.campaigns import NoticeConfig, Notifications
from notifications.quiet import QuietHours
from notifications.scheduler import ReminderScheduler
from notifications.staff import parse_staff_command, staff_reply
from storage.store import Store
from tests.notifications.conftest import MSK, T0, add_account, sms_contact

OUTAGE = "/outage Сыктывкар; Комарова; 1-3; ремонт ЛЭП; 2030-11-26 10:00; 2030-11-26 18:00"


@pytest.mark.parametrize(
    ("text", "name", "error"),
    [
        (OUTAGE, "outage", False),
        (OUTAGE + "; плановое", "outage", False),
        (OUTAGE.replace("/outage", "/outage@sbyt_bot"), "outage", False),
        ("/outage", "outage", True),
        ("/outage Сыктывкар; ; ; авария; завтра; 2030-11-26 18:00", "outage", True),
        (OUTAGE + "; когда-нибудь", "outage", True),
        ("/restored 7", "restored", False),
        ("/restored семь", "restored", True),
        ("/cancel 3", "cancel", False),
        ("/campaign 3", "campaign", False),
        ("/staff", "staff", False),
    ],
)
def test_parse(text: str, name: str, error: bool) -> None:
    command = parse_staff_command(text, MSK)
    assert command is not None
    assert command.name == name
    assert (command.error is not None) == error


@pytest.mark.parametrize("text", ["нет света", "/start", "/outagesx", "ЛС 123 день 5"])
def test_not_staff_commands(text: str) -> None:
    assert parse_staff_command(text, MSK) is None


def service(store: Store, now: datetime = T0) -> Notifications:
    config = NoticeConfig(
        tz=MSK, company="ЭнергоСбыт", quiet=QuietHours(time(21), time(9), MSK),
        confirm_above=2, telegram=True,
    )
    return Notifications(store, config, clock=lambda: now)


async def test_staff_outage_confirm_restore_cancel_progress(store: Store) -> None:
    for house in range(1, 4):
        await add_account(store, f"100000000{house}", [f"+7912000000{house}"], house=str(house))
    notes = service(store)
    assert await staff_reply(notes, OUTAGE, 42, [7]) is None  # not staff
    reply = await staff_reply(notes, OUTAGE, 7, [7])
    assert reply is not None
    assert "/outage! Сыктывкар" in reply  # 3 recipients > 2: asks to confirm
    reply = await staff_reply(notes, OUTAGE.replace("/outage", "/outage!"), 7, [7])
    assert reply is not None
    assert reply.startswith("Отключение №1 записано, рассылка №1")
    assert "получателей: 3" in reply
    reply = await staff_reply(notes, "/campaign 1", 7, [7])
    assert reply is not None
    assert "в очереди 3" in reply
    reply = await staff_reply(notes, "/restored 1", 7, [7])
    assert reply is not None
    assert reply.startswith(
        "Отключение №1 закрыто, рассылка «свет дали» №2 запущена, получателей: 3.\n"
        "Текст: Электроснабжение восстановлено: Сыктывкар, Комарова"
    )
    reply = await staff_reply(notes, "/cancel 2", 7, [7])
    assert reply == "Рассылка №2 остановлена, не отправлено сообщений: 3."
    assert await staff_reply(notes, "/restored 99", 7, [7]) == "Не найдено: отключение №99."
    bad = OUTAGE.replace("2030-11-26 18:00", "2030-11-26 09:00")
    assert await staff_reply(notes, bad, 7, [7]) == "Конец отключения должен быть позже начала."


async def test_staff_restored_on_a_planned_outage_not_begun_says_called_off(
    store: Store,
) -> None:
    # «/restored N» on a planned outage that had not begun answered staff «рассылка «свет
    # дали» запущена» while customers were told it was called off (QA pass 2).
    for house in range(1, 3):
        await add_account(store, f"100000000{house}", [f"+7912000000{house}"], house=str(house))
    notes = service(store)
    planned = OUTAGE.replace("/outage", "/outage!").replace("2030-11-26", "2030-11-27")
    reply = await staff_reply(notes, f"{planned}; плановое", 7, [7])
    assert reply is not None
    assert reply.startswith("Отключение №1 записано"), reply
    reply = await staff_reply(notes, "/restored 1", 7, [7])
    assert reply is not None
    assert reply.startswith("Плановое отключение №1 отменено, рассылка «отмена» №2"), reply
    assert "свет дали" not in reply
    assert "отменено, свет отключать не будут" in reply


async def test_scheduler_tick_queues_the_reminder_once(store: Store) -> None:
    await add_account(store, "1000000001", ["+79120000001"])
    await sms_contact(store, "+79120000001")
    first_day = datetime(2030, 12, 18, 10, 0, tzinfo=MSK)
    scheduler = ReminderScheduler(service(store, first_day))
    assert await scheduler.tick() is not None
    assert await ReminderScheduler(service(store, first_day + timedelta(hours=3))).tick() is None
    assert await store.db.fetchval("SELECT count(*) FROM outbox") == 1


async def test_staff_outages_extend_and_call_off(store: Store) -> None:
    for house in range(1, 3):
        await add_account(store, f"100000000{house}", [f"+7912000000{house}"], house=str(house))
    notes = service(store)
    assert await staff_reply(notes, "/outages", 7, [7]) == "Идущих и плановых отключений нет."
    await staff_reply(notes, OUTAGE, 7, [7])
    listed = await staff_reply(notes, "/outages", 7, [7])
    assert listed is not None
    assert listed.startswith("1 отключение:\n№1 Сыктывкар, Комарова 1-3: 2030-11-26 10:00"), listed
    reply = await staff_reply(notes, "/extend 1 27.11.2030 02:00", 7, [7])
    assert reply is not None
    assert reply.startswith("Отключение №1 продлено, рассылка №2: 0 получателей."), reply
    assert "27.11 02:00" in reply
    assert await staff_reply(notes, "/extend 1 когда-нибудь", 7, [7]) == (
        "Не понял время «когда-нибудь»: нужно ДД.ММ.ГГГГ ЧЧ:ММ или ГГГГ-ММ-ДД ЧЧ:ММ."
    )
    assert await staff_reply(notes, "/extend 1", 7, [7]) == templates.STAFF_EXTEND_USAGE
    reply = await staff_reply(notes, "/calloff 1", 7, [7])
    assert reply is not None
    assert reply.startswith("Отключение №1 отменено, рассылка №3: 0 получателей."), reply
    reply = await staff_reply(notes, "/calloff 1", 7, [7])
    assert reply == "Отключение №1: не сделано (отключение №1 уже отменено)."
    assert await staff_reply(notes, "/calloff 9", 7, [7]) == "Не найдено: отключение №9."
    progress = await staff_reply(notes, "/campaign 1", 7, [7])
    assert progress is not None
    assert progress.startswith("Рассылка №1 (2 получателя):"), progress  # was «2 получателей»


async def test_staff_outage_to_nobody_records_nothing(store: Store) -> None:
    await add_account(store, "1000000001", ["+79120000001"], house="1")
    reply = await staff_reply(service(store), OUTAGE.replace("Комарова", "Комарва"), 7, [7])
    assert reply is not None
    assert reply.endswith(templates.STAFF_EMPTY_AUDIENCE)
    assert await store.db.fetchval("SELECT count(*) FROM outages") == 0
