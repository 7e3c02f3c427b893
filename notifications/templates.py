"""Every customer- and staff-facing text of notifications, in Russian, in one place.

SMS texts are kept short: a Cyrillic SMS is UCS2, 70 characters single or 67 per part
(docs/architecture.md «Notifications»). The default outage notice fits in two parts
(docs/interfaces.md §8; `tests/notifications/test_templates.py` checks it for a typical area).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from notifications.smsparts import sms_parts
from parsers.counted import counted

# Every SMS notice fits this many parts (docs/architecture.md «Notifications»).
SMS_NOTICE_PARTS = 2


def money(amount: Decimal) -> str:
    """`Decimal("2500.5")` → «2500,50»: roubles as Russian bills write them."""
    return f"{amount.quantize(Decimal('0.01')):f}".replace(".", ",")


def day(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def area(settlement: str, street: str = "", houses: str = "") -> str:
    """«Сыктывкар, Комарова 1-15,17»: the area of an outage as customers read it."""
    text = settlement.strip()
    if street.strip():
        text += f", {street.strip()}"
        if houses.strip():
            text += f" {houses.strip()}"
    elif houses.strip():
        text += f", д. {houses.strip()}"
    return text


def window(start: datetime, until: datetime, tz: ZoneInfo) -> str:
    """«26.11 10:00–18:00», or «26.11 22:00–27.11 06:00» across midnight."""
    a, b = start.astimezone(tz), until.astimezone(tz)
    if a.date() == b.date():
        return f"{a:%d.%m %H:%M}–{b:%H:%M}"
    return f"{a:%d.%m %H:%M}–{b:%d.%m %H:%M}"


def outage_notice(
    *, planned: bool, where: str, reason: str, start: datetime, until: datetime,
    tz: ZoneInfo, company: str,
) -> str:
    if planned:
        return (
            f"Плановое отключение света {window(start, until, tz)}: {where}. "
            f"Причина: {reason}. {company}"
        )
    return (
        f"Нет света: {where}. Причина: {reason}. "
        f"Восстановим до {until.astimezone(tz):%d.%m %H:%M}. {company}"
    )


def restored_notice(*, where: str, company: str) -> str:
    return (
        f"Электроснабжение восстановлено: {where}. "
        f"Если света нет, ответьте «нет света». {company}"
    )


def planned_called_off_notice(*, where: str, start: str, company: str) -> str:
    return f"Плановое отключение {start}: {where} отменено, свет отключать не будут. {company}"


def outage_called_off_notice(*, where: str, company: str) -> str:
    """An unplanned outage announced by mistake or averted: called off."""
    return f"Отключение света: {where} отменено, свет не отключаем. {company}"


def outage_extended_notice(
    *, planned: bool, where: str, reason: str, until: datetime, tz: ZoneInfo, company: str
) -> str:
    """The repair runs late: those already told hear the new restoration time."""
    end = f"{until.astimezone(tz):%d.%m %H:%M}"
    if planned:
        return (
            f"Плановое отключение света продлено до {end}: {where}. "
            f"Причина: {reason}. {company}"
        )
    return f"Нет света: {where}. Восстановим позже: до {end}. Причина: {reason}. {company}"


def invoice_notice(
    *, account: str, period: str, amount: Decimal, due: date, company: str
) -> str:
    year, month = period.split("-")
    if amount <= 0:
        # A credit went out as «-5,00 руб., оплатить до …».
        credit = f" Переплата {money(-amount)} руб." if amount < 0 else ""
        return f"Счёт за {month}.{year} по ЛС {account}: к оплате 0 руб.{credit} {company}"
    return (
        f"Счёт за {month}.{year} по ЛС {account}: {money(amount)} руб., "
        f"оплатить до {day(due)}. {company}"
    )


def debt_notice(*, account: str, amount: Decimal, restriction: date, company: str) -> str:
    """The debt warning. Its content is set by law, not by taste: Постановление
    Правительства РФ № 354, п. 119 «а» (and № 442 for the supplier's side) require the
    amount owed and the warning that unless it is paid within 20 days of the notice's
    delivery the supply may first be restricted and then suspended; п. 119 allows the
    notice by SMS. The earliest restriction date comes from billing."""
    return (
        f"Задолженность по ЛС {account}: {money(amount)} руб. Если не оплатить в течение "
        f"20 дней со дня доставки этого уведомления, подача электроэнергии может быть "
        f"ограничена, а затем приостановлена (не ранее {day(restriction)}). {company}"
    )


def debt_notice_sms(
    *, account: str, amount: Decimal, restriction: date, signature: str
) -> str:
    """The debt warning in two SMS parts, with all that п. 119 «а» asks for: the amount,
    that unless paid within 20 days of delivery the supply may be restricted and then
    suspended, and the earliest restriction date. The fullest wording that fits is
    taken; the last one fits a 12-digit account, a seven-digit amount and a
    12-character signature."""
    amount_text, when = money(amount), day(restriction)
    return first_fitting([
        f"Задолженность по ЛС {account}: {amount_text} руб. Если не оплатить в течение 20 "
        f"дней со дня доставки, подача электроэнергии может быть ограничена, затем "
        f"приостановлена, не ранее {when}. {signature}",
        f"Долг по ЛС {account}: {amount_text} руб. Без оплаты за 20 дней с доставки подачу "
        f"э/э могут ограничить, затем приостановить, не ранее {when}. {signature}",
        f"Долг ЛС {account}: {amount_text} р. Без оплаты за 20 дн. с доставки э/э могут "
        f"ограничить, затем приостановить, не ранее {when} {signature}",
        f"Долг ЛС {account}: {amount_text}р. Без оплаты за 20 дн. с доставки э/э с {when} "
        f"могут ограничить, затем приостановить {signature}",
    ])


def first_fitting(wordings: Sequence[str], parts: int = SMS_NOTICE_PARTS) -> str:
    """The first (fullest) wording that fits `parts` SMS parts, else the last one."""
    for text in wordings:
        if sms_parts(text) <= parts:
            return text
    return wordings[-1]


def reminder_notice(*, first_day: int, last_day: int, company: str) -> str:
    return (
        f"Передайте показания счётчика с {first_day} по {last_day} число: "
        f"ЛС 1234567890 день 4521 ночь 1876. СТОП — отписаться. {company}"
    )


def survey_notice(*, question: str, company: str) -> str:
    return f"{question} Ответьте цифрой от 1 до 5. СТОП — отписаться. {company}"


# -- staff (Telegram commands) ----------------------------------------------------------

STAFF_OUTAGE_USAGE = (
    "Формат: /outage Населённый пункт; улица; дома; причина; "
    "ГГГГ-ММ-ДД ЧЧ:ММ; ГГГГ-ММ-ДД ЧЧ:ММ[; плановое]\n"
    "Улица и дома могут быть пустыми. Пример:\n"
    "/outage Сыктывкар; Комарова; 1-15,17; ремонт ЛЭП; 2026-11-26 10:00; 2026-11-26 18:00"
)
STAFF_HELP = (
    "Команды сотрудника:\n/outage … — оповестить об отключении (без аргументов — формат)\n"
    "/restored N — свет дали по отключению N\n"
    "/calloff N — отключение N отменено (сообщить тем, кого предупредили)\n"
    "/extend N ДД.ММ.ГГГГ ЧЧ:ММ — отключение N продлено (сообщить новое время)\n"
    "/outages — идущие и плановые отключения\n"
    "/cancel N — остановить рассылку N\n/campaign N — ход рассылки N"
)
STAFF_EXTEND_USAGE = "Формат: /extend N ДД.ММ.ГГГГ ЧЧ:ММ (новое время восстановления)"


def staff_outages(rows: list[dict[str, Any]]) -> str:
    """The active outages, one a line («№3 Сыктывкар, Комарова 1-15 до 26.11 18:00»)."""
    if not rows:
        return "Идущих и плановых отключений нет."
    lines = [f"{counted(len(rows), 'отключение')}:"]
    for row in rows:
        where = area(row["settlement"], row["street"], row["houses"])
        planned = ", плановое" if row["planned"] else ""
        lines.append(f"№{row['outage']} {where}: {row['start']} — {row['until']}{planned}")
    return "\n".join(lines)


def staff_outage_changed(
    outage: int, campaign: int, *, recipients: int, text: str, extended: bool
) -> str:
    what = "продлено" if extended else "отменено"
    told = counted(recipients, "получатель")
    return f"Отключение №{outage} {what}, рассылка №{campaign}: {told}.\nТекст: {text}"


def staff_outage_refused(outage: int, why: str) -> str:
    return f"Отключение №{outage}: не сделано ({why})."


STAFF_EMPTY_AUDIENCE = (
    "По этому адресу нет ни одного получателя: проверьте написание населённого пункта "
    "и улицы. Отключение не записано, рассылки нет."
)


def staff_preview(
    *, accounts: int, recipients: int, sms: int, telegram: int, parts: int, sample: str
) -> str:
    return (
        f"Адресов (ЛС): {accounts}, получателей: {recipients} "
        f"(SMS {sms}, Telegram {telegram}), частей SMS: {parts}.\nТекст: {sample}"
    )


def staff_confirm(command: str) -> str:
    return f"Получателей больше порога. Чтобы отправить, повторите команду с «!»: {command}"


def staff_started(campaign: int, outage: int) -> str:
    return f"Отключение №{outage} записано, рассылка №{campaign} запущена."


def staff_restored(
    campaign: int, outage: int, *, recipients: int, text: str, called_off: bool = False
) -> str:
    if called_off:
        head = (f"Плановое отключение №{outage} отменено, рассылка «отмена» №{campaign} "
                f"тем, кого предупредили, получателей: {recipients}.")
    else:
        head = (f"Отключение №{outage} закрыто, рассылка «свет дали» №{campaign} "
                f"запущена, получателей: {recipients}.")
    return f"{head}\nТекст: {text}"


def staff_cancelled(campaign: int, count: int) -> str:
    return f"Рассылка №{campaign} остановлена, не отправлено сообщений: {count}."


def staff_progress(campaign: int, counts: dict[str, int]) -> str:
    names = {
        "queued": "в очереди", "sent": "отправлено", "delivered": "доставлено",
        "failed": "не доставлено", "deferred": "отложено", "cancelled": "отменено",
    }
    body = ", ".join(f"{names[k]} {counts[k]}" for k in names)
    return f"Рассылка №{campaign} ({counted(counts['recipients'], 'получатель')}): {body}."


STAFF_NOT_FOUND = "Не найдено: {what} №{number}."
STAFF_BAD_TIME = "Не понял время «{text}»: нужно ДД.ММ.ГГГГ ЧЧ:ММ или ГГГГ-ММ-ДД ЧЧ:ММ."
STAFF_BAD_WINDOW = "Конец отключения должен быть позже начала."
