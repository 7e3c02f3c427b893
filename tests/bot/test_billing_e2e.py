"""What billing receives, end to end: the outside check, from our side.

A registry of our own (written as billing's CSV and loaded with the real import) and
the whole `Gateway` bound to an SMSC we did not write (`smpp34`, the Rust SMPP server,
on a free loopback port, `[smpp] simulator = false`). Customers write scripted SMS
conversations at fixed times (the gateway's clock hook stamps each MO); every reply is
checked as it comes back as submit_sm, and at the end the readings export must be
exactly the set derived by hand from the domain rules (docs/architecture.md «Readings»,
«Identification»; docs/interfaces.md §3–§5):

- period: the month of the local day up to the window's last day (25th), else the next;
- a lower value is refused unless the meter rolled over within the cap; zero refused;
  a single value for a multi-zone meter refused;
- consumption above the cap (5 000 kWh per zone and month since the base) or above 3×
  the average month (with ≥3 months of history) is held for ДА/НЕТ; only ДА exports it;
- a second submission in the period replaces the first (the correction is exported);
- anyone may send readings for an account named by number (sender = their phone), but
  replies to a stranger quote no earlier value or consumption;
- «сч2» is the account's second meter by serial.

Every wait is bounded (a reply within WAIT seconds); nothing sleeps.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import smpp34

from bot.app import Gateway
from bot.settings import Settings, load_settings
from storage.export import export_readings
from storage.registry import import_customers
from tests.sms_gateway.conftest import PASSWORD
from tests.sms_gateway.test_interop import RustSmsc, submitted_text

SHORT_CODE = "7555"
WAIT = 10.0
MSK = ZoneInfo("Europe/Moscow")
TLV_MESSAGE_PAYLOAD = 0x0424

# -- the registry ------------------------------------------------------------------------

P1 = "+79121110001"  # three accounts: 1000000001, 1000000002, 0012345678
P2 = "+79121110002"  # one account, two meters (1-zone and 2-zone)
P3 = "+79121110003"  # one account, three meters (1-zone, 1-zone, 3-zone)
P4 = "+79121110004"  # a 3-zone meter
P5 = "+79121110005"  # a 5-digit meter at 99 950 (rollover)
P6 = "+79121110006"  # a high reading confirmed with ДА
P7 = "+79121110007"  # a high reading declined with НЕТ
P8 = "+79121110008"  # «показания те же»
P9 = "+79121110009"  # a stranger: on no account, sends for 1100000001
P10 = "+79121110010"  # the owner of 1100000001
P11 = "+79121110011"  # a single value for a 2-zone meter
P12 = "+79121110012"  # zero, too many digits, an appeal
P13 = "+79121110013"  # 000123456789: months of history, then 3× the average
P14 = "+79121110014"  # out of the window: next month's period, the year's turn

HEADER = (
    "account;phones;name;settlement;street;house;apartment;meter_serial;zones;digits;"
    "last_t1;last_t2;last_t3;last_date;balance"
)
ROWS = [
    # phones in the notations billing really sends (contracts §3)
    "1000000001;+7 912 111-00-01;Иванов И.И.;Сыктывкар;Ленина;5;1;100001;1;6;4500;;;"
    "2026-10-22;1234,56",
    "1000000002;89121110001;Иванова А.П.;Сыктывкар;Ленина;5;2;100002;2;6;2000;850;;"
    "2026-10-23;0",
    "0012345678;8 (912) 111-00-01;Иванов П.И.;Эжва;Мира;12;;0098765;1;5;800;;;"
    "2026-10-20;-150.00",
    "2000000001;+79121110002;Петров П.П.;Сыктывкар;Коммунистическая;10;4;011111;1;6;4500;;;"
    "2026-10-21;500",
    "2000000001;+79121110002;Петров П.П.;Сыктывкар;Коммунистическая;10;4;022222;2;6;3000;"
    "1500;;2026-10-21;500",
    "3000000001;+79121110003;Сидоров С.С.;Ухта;Мира;3;;M-302;1;6;6000;;;2026-10-19;0",
    "3000000001;+79121110003;Сидоров С.С.;Ухта;Мира;3;;M-301;1;6;5000;;;2026-10-19;0",
    "3000000001;+79121110003;Сидоров С.С.;Ухта;Мира;3;;M-303;3;6;1100;850;2200;"
    "2026-10-19;0",
    "4000000001;+79121110004;Кузнецова Е.В.;Сыктывкар;Ленина;7;3;400001;3;6;1100;850;2200;"
    "2026-10-24;0",
    "5000000001;+79121110005;Попов А.А.;Воркута;Ленина;1;1;500001;1;5;99950;;;2026-10-21;0",
    "6000000001;+79121110006;Васильев В.В.;Сыктывкар;Ленина;9;;600001;1;6;1000;;;"
    "2026-10-20;0",
    "7000000001;+79121110007;Смирнов С.А.;Сыктывкар;Ленина;11;;700001;1;6;1000;;;"
    "2026-10-20;0",
    "8000000001;+79121110008;Морозов М.М.;Сыктывкар;Ленина;13;;800001;2;6;3000;1500;;"
    "2026-10-20;0",
    "1100000001;+79121110010;Волков В.В.;Сыктывкар;Ленина;15;;110001;1;6;5200;;;"
    "2026-10-20;99,90",
    "1200000001;+79121110011;Зайцев З.З.;Сыктывкар;Ленина;17;;120001;2;6;2000;1000;;"
    "2026-10-20;0",
    "1300000001;+79121110012;Лебедев Л.Л.;Сыктывкар;Ленина;19;;130001;1;4;700;;;"
    "2026-10-20;0",
    "000123456789;+79121110013;Новиков Н.Н.;Сыктывкар;Ленина;21;;00077;1;6;100;;;"
    "2026-07-20;0",
    "1500000001;+7 (912) 111-00-14;Федоров Ф.Ф.;Сыктывкар;Ленина;23;;150001;1;6;4000;;;"
    "2026-10-25;2870.40",
]


# -- the script --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    at: str  # local time, Europe/Moscow
    phone: str
    text: str
    expect: tuple[str, ...]  # fragments the reply must contain
    absent: tuple[str, ...] = ()  # fragments it must not (a stranger's view)


def step(at: str, phone: str, text: str, *expect: str, absent: tuple[str, ...] = ()) -> Step:
    return Step(at, phone, text, expect, absent)


NOV20 = "2026-11-20T10:{:02d}"  # inside the window: period 2026-11
NOV24 = "2026-11-24T12:{:02d}"  # later in the window: corrections
NOV05 = "2026-11-05T09:{:02d}"  # before the window: still 2026-11, said so
CHOSEN = "Ответьте цифрой"

SCRIPT: list[Step] = [
    # P1 holds three accounts: «which account?» answered with a digit
    step(NOV20.format(0), P1, "4400",
         "несколько счетов: 1 — 0012345678, 2 — 1000000001, 3 — 1000000002", CHOSEN),
    step(NOV20.format(1), P1, "2", "Показание 4400 меньше предыдущего (4500)"),
    step(NOV20.format(2), P1, "ЛС 1000000001 4550",
         "Приняты показания ЛС 1000000001: 4550.", "Расход 50 кВт·ч."),
    step(NOV20.format(3), P1, "баланс", "несколько счетов"),
    step(NOV20.format(4), P1, "3", "ЛС 1000000002: задолженности нет."),
    step(NOV20.format(5), P1, "1000000002", "Пришлите показания по ЛС 1000000002"),
    step(NOV20.format(6), P1, "день 2100 ночь 900",
         "Приняты показания ЛС 1000000002: день 2100, ночь 900."),
    step(NOV20.format(7), P1, "ЛС 0012345678 812,5",
         "Приняты показания ЛС 0012345678: 812,5."),
    step(NOV20.format(8), P1, "баланс", "несколько счетов"),
    step(NOV20.format(9), P1, "1", "ЛС 0012345678: переплата 150,00 руб."),
    # P2: one account, a 1-zone and a 2-zone meter; the values pick the meter
    step(NOV20.format(10), P2, "4600", "Приняты показания ЛС 2000000001: 4600."),
    step(NOV20.format(11), P2, "день 3100 ночь 1600",
         "Приняты показания ЛС 2000000001: день 3100, ночь 1600."),
    # P3: three meters; one value fits both 1-zone meters: «which meter?»
    step(NOV20.format(12), P3, "5100", "несколько счётчиков: 1 — №M-301, 2 — №M-302"),
    step(NOV20.format(13), P3, "1", "Приняты показания ЛС 3000000001: 5100."),
    step(NOV20.format(14), P3, "сч2 6100", "Приняты показания ЛС 3000000001: 6100."),
    step(NOV20.format(15), P3, "счетчик 3 пик 1200 ночь 900 полупик 2300",
         "Приняты показания ЛС 3000000001: пик 1200, ночь 900, полупик 2300."),
    step(NOV20.format(16), P3, "Почему такой большой счёт за октябрь?", "принято"),
    # P4: a 3-zone meter, unlabelled values fill T1, T2, T3
    step(NOV20.format(17), P4, "1210 905 2310",
         "Приняты показания ЛС 4000000001: пик 1210, ночь 905, полупик 2310."),
    # P5: 5 digits at 99 950: a six-digit value is refused, 00030 rolled over (+80)
    step(NOV20.format(18), P5, "123456", "5 цифр"),
    step(NOV20.format(19), P5, "00030", "Приняты показания ЛС 5000000001: 30.",
         "Расход 80 кВт·ч."),
    # P6: 7000 after 1000 is 6000 kWh, over the 5000 cap: held, then ДА
    step(NOV20.format(20), P6, "7000", "Расход 6000 кВт·ч намного больше обычного", "ДА"),
    step(NOV20.format(21), P6, "ДА", "Приняты показания ЛС 6000000001: 7000."),
    # P7: 9000 held, НЕТ drops it; the right value follows
    step(NOV20.format(22), P7, "9000", "намного больше обычного"),
    step(NOV20.format(23), P7, "НЕТ", "Показания не приняты"),
    step(NOV20.format(24), P7, "1300", "Приняты показания ЛС 7000000001: 1300."),
    # P8: the same as last time, after ДА
    step(NOV20.format(25), P8, "показания те же",
         "Передать те же показания ЛС 8000000001: день 3000, ночь 1500?"),
    step(NOV20.format(26), P8, "да", "Приняты показания ЛС 8000000001: день 3000, ночь 1500."),
    # P9, a stranger, names someone else's account: one answer whether the value is
    # lower (held for staff) or right (kept as an unlinked reading), nothing compared
    step(NOV20.format(27), P9, "ЛС 1100000001 5100", "получены", "проверит сотрудник",
         absent=("5200", "меньше")),
    step(NOV20.format(28), P9, "ЛС 1100000001 5230", "получены", "проверит сотрудник",
         absent=("Расход", "Приняты")),
    step(NOV20.format(29), P9, "ЛС 1100000001 баланс", "только на номер, указанный в договоре"),
    step(NOV20.format(30), P9, "баланс", "не указан в договорах"),
    # P11: a single value for a 2-zone meter is refused with the full format
    step(NOV20.format(31), P11, "2100", "2-тарифный", "день 4521 ночь 1876"),
    step(NOV20.format(32), P11, "день 2100 ночь 1050",
         "Приняты показания ЛС 1200000001: день 2100, ночь 1050."),
    # P12: zero and too many digits refused; an appeal and its status in between
    step(NOV20.format(33), P12, "показания 0", "не может быть нулевым"),
    step(NOV20.format(34), P12, "Нет света на улице Ленина 19 с утра", "принято"),
    # (a seven-digit value is no reading for the parser at all: «Не понял»; a 4-digit
    # meter shows the refusal with a five-digit value)
    step(NOV20.format(35), P12, "12345", "4 цифр"),
    step(NOV20.format(36), P12, "720", "Приняты показания ЛС 1300000001: 720."),
    # P13: three months of +100 (August to October), then +400 in November: over 3× the
    # average month, held; ДА accepts it
    step("2026-08-20T10:00", P13, "200", "Приняты показания ЛС 000123456789: 200."),
    step("2026-09-20T10:00", P13, "300", "Приняты показания ЛС 000123456789: 300."),
    step("2026-10-20T10:00", P13, "400", "Приняты показания ЛС 000123456789: 400."),
    step(NOV20.format(37), P13, "800", "Расход 400 кВт·ч намного больше обычного"),
    step(NOV20.format(38), P13, "да", "Приняты показания ЛС 000123456789: 800."),
    # P14: before the window (November), after its last day by local time (00:30 on the
    # 26th in Moscow is still the 25th in UTC: December), and at the year's turn
    step(NOV05.format(0), P14, "4050", "Будут учтены в расчёте за ноябрь"),
    step("2026-11-26T00:30", P14, "4100", "Будут учтены в расчёте за декабрь"),
    step("2026-12-31T23:50", P14, "4200", "Будут учтены в расчёте за январь"),
    step("2026-12-31T23:51", P14, "баланс", "ЛС 1500000001: задолженность 2\u00a0870,40 руб."),
    # Corrections later in the window (each replaces the value of the period)
    step(NOV24.format(0), P1, "ЛС 1000000001 4540",
         "Приняты показания ЛС 1000000001: 4540.", "Прежние показания за ноябрь заменены"),
    step(NOV24.format(1), P1, "ночь 950", "несколько счетов"),
    step(NOV24.format(2), P1, "3", "Приняты показания ЛС 1000000002: ночь 950.",
         "заменены"),
    step(NOV24.format(3), P2, "4650 3150 1650", "Прежние показания за ноябрь заменены"),
    step(NOV24.format(4), P4, "полупик 2320 пик 1220 ночь 910",
         "Приняты показания ЛС 4000000001: пик 1220, ночь 910, полупик 2320.", "заменены"),
    # the owner's reading: a stranger's one does not count as the owner's earlier value
    step(NOV24.format(5), P10, "5240", "Приняты показания ЛС 1100000001: 5240.",
         absent=("заменены",)),
    step(NOV24.format(6), P12, "статус 2", "Обращение №2"),
    # P3 names every meter by its ordinal; then a value for «which meter?» is answered
    # with the serial as the question wrote it («M-302» was read as a reading of 302)
    step(NOV24.format(7), P3, "сч1 5200 сч2 6200 сч3 1300 950 2400",
         "сч №M-301 5200; сч №M-302 6200; сч №M-303 пик 1300, ночь 950, полупик 2400",
         "заменены"),
    step(NOV24.format(8), P3, "6250", "несколько счётчиков: 1 — №M-301, 2 — №M-302"),
    step(NOV24.format(9), P3, "M-302", "Приняты показания ЛС 3000000001: 6250.", "заменены"),
    # a long SMS (message_payload) with greeting, account and three labelled zones
    step(NOV24.format(10), P4,
         "Добрый день! Передаю показания счётчика по лицевому счёту 4000000001: "
         "пик 1230, ночь 915, полупик 2330. Спасибо!",
         "Приняты показания ЛС 4000000001: пик 1230, ночь 915, полупик 2330.", "заменены"),
    # P7: a held value is replaced by the next message's values (never exported)
    step(NOV24.format(11), P7, "9500", "намного больше обычного"),
    step(NOV24.format(12), P7, "1350", "Приняты показания ЛС 7000000001: 1350.", "заменены"),
    step(NOV24.format(13), P7, "ДА", "Нечего подтверждать"),
    # P1: «the same» for one of three accounts: the value of this period, after ДА
    step(NOV24.format(14), P1, "показания те же", "несколько счетов"),
    step(NOV24.format(15), P1, "1", "Передать те же показания ЛС 0012345678: 812,5?"),
    step(NOV24.format(16), P1, "да", "Приняты показания ЛС 0012345678: 812,5.", "заменены",
         "Расход 12,5 кВт·ч."),  # since October's 800 (was «Расход 0»)
    # P11: held on the window's last day before midnight, confirmed after it: the period
    # is the day the reading was sent (November), and it replaces the earlier one
    step("2026-11-25T23:58", P11, "день 9000 ночь 1100", "Расход 7000 кВт·ч"),
    step("2026-11-26T00:02", P11, "да", "Приняты показания ЛС 1200000001: день 9000, ночь 1100.",
         "Прежние показания за ноябрь заменены"),
    # a phone with accounts of its own sends for an account that is not among them: a
    # stranger there, and the owner's 5240 stands
    step(NOV24.format(17), P2, "ЛС 1100000001 5250", "получены",
         absent=("Расход", "5240", "Приняты")),
]

# Billing's next registry: 1100000001 changed hands (P9 in, P10 out; the registry's
# phones replace the account's), and billing took our November readings (dated the 26th).
REIMPORT = [
    "1100000001;+79121110009;Кошкин К.К.;Сыктывкар;Ленина;15;;110001;1;6;5240;;;"
    "2026-11-26;10,00",
    "1000000001;+7 912 111-00-01;Иванов И.И.;Сыктывкар;Ленина;5;1;100001;1;6;4540;;;"
    "2026-11-26;0",
]
DEC20 = "2026-12-20T10:{:02d}"
AFTER_REIMPORT: list[Step] = [
    step(DEC20.format(0), P10, "баланс", "не указан в договорах"),
    step(DEC20.format(1), P9, "баланс", "ЛС 1100000001: задолженность 10,00 руб."),
    step(DEC20.format(2), P9, "5300", "Приняты показания ЛС 1100000001: 5300.",
         "Расход 60 кВт·ч."),
    # the former owner is a stranger now: the new owner's 5300 stands
    step(DEC20.format(3), P10, "ЛС 1100000001 5310", "получены",
         absent=("Расход", "5300", "Приняты")),
    # billing's 4540 of the 26th is newer than our 4540 of the 24th: 4530 is lower
    step(DEC20.format(4), P1, "ЛС 1000000001 4530", "меньше предыдущего (4540)"),
    step(DEC20.format(5), P1, "ЛС 1000000001 4600", "Расход 60 кВт·ч."),
]

SMS = "sms"
EXPECTED_EXPORT = {
    # (account, meter_serial, zone, value, period, channel, sender)
    ("1000000001", "100001", "T1", "4540", "2026-11", SMS, P1),
    ("1000000002", "100002", "T1", "2100", "2026-11", SMS, P1),
    ("1000000002", "100002", "T2", "950", "2026-11", SMS, P1),
    ("0012345678", "0098765", "T1", "812.5", "2026-11", SMS, P1),
    ("2000000001", "011111", "T1", "4650", "2026-11", SMS, P2),
    ("2000000001", "022222", "T1", "3150", "2026-11", SMS, P2),
    ("2000000001", "022222", "T2", "1650", "2026-11", SMS, P2),
    ("3000000001", "M-301", "T1", "5200", "2026-11", SMS, P3),
    ("3000000001", "M-302", "T1", "6250", "2026-11", SMS, P3),
    ("3000000001", "M-303", "T1", "1300", "2026-11", SMS, P3),
    ("3000000001", "M-303", "T2", "950", "2026-11", SMS, P3),
    ("3000000001", "M-303", "T3", "2400", "2026-11", SMS, P3),
    ("4000000001", "400001", "T1", "1230", "2026-11", SMS, P4),
    ("4000000001", "400001", "T2", "915", "2026-11", SMS, P4),
    ("4000000001", "400001", "T3", "2330", "2026-11", SMS, P4),
    ("5000000001", "500001", "T1", "30", "2026-11", SMS, P5),
    ("6000000001", "600001", "T1", "7000", "2026-11", SMS, P6),
    ("7000000001", "700001", "T1", "1350", "2026-11", SMS, P7),
    ("8000000001", "800001", "T1", "3000", "2026-11", SMS, P8),
    ("8000000001", "800001", "T2", "1500", "2026-11", SMS, P8),
    ("1100000001", "110001", "T1", "5240", "2026-11", SMS, P10),
    ("1100000001", "110001", "T1", "5300", "2026-12", SMS, P9),
    ("1000000001", "100001", "T1", "4600", "2026-12", SMS, P1),
    ("1200000001", "120001", "T1", "9000", "2026-11", SMS, P11),
    ("1200000001", "120001", "T2", "1100", "2026-11", SMS, P11),
    ("1300000001", "130001", "T1", "720", "2026-11", SMS, P12),
    ("000123456789", "00077", "T1", "200", "2026-08", SMS, P13),
    ("000123456789", "00077", "T1", "300", "2026-09", SMS, P13),
    ("000123456789", "00077", "T1", "400", "2026-10", SMS, P13),
    ("000123456789", "00077", "T1", "800", "2026-11", SMS, P13),
    ("1500000001", "150001", "T1", "4050", "2026-11", SMS, P14),
    ("1500000001", "150001", "T1", "4100", "2026-12", SMS, P14),
    ("1500000001", "150001", "T1", "4200", "2027-01", SMS, P14),
}


# -- the harness -------------------------------------------------------------------------


class Clock:
    """The gateway's time: set before each MO, read when the channel stamps it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def set_local(self, text: str) -> None:
        self.now = datetime.fromisoformat(text).replace(tzinfo=MSK)


def settings_for(tmp_path: Path, port: int) -> Settings:
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        f'[storage]\npath = "{tmp_path / "g.db"}"\n'
        "[demo]\nenabled = false\n"
        f'[smpp]\nsimulator = false\nhost = "127.0.0.1"\nport = {port}\n'
        f'password = "{PASSWORD}"\nsource_addr = "{SHORT_CODE}"\ntps = 1000\n'
        # the reading reminder goes out on the window's first day from this hour: at 23
        # it is always deferred (quiet hours), so no stray notice joins the replies
        "[notifications]\nreminder_hour = 23\n"
        "[api]\nenabled = false\n",
        encoding="utf-8",
    )
    return load_settings(cfg)


@dataclass
class World:
    gateway: Gateway
    smsc: RustSmsc
    esme: smpp34.Esme
    clock: Clock

    async def say(self, phone: str, text: str) -> str:
        """One MO from `phone` to the short code; the gateway's reply to it."""
        octets = text.encode("utf-16-be")
        long = len(text) > 70
        resp = await asyncio.wait_for(
            self.esme.deliver_sm(
                SHORT_CODE,
                short_message=b"" if long else octets,
                source_addr=phone.lstrip("+"),
                source_addr_ton=1,
                source_addr_npi=1,
                data_coding=8,
                tlvs=[smpp34.Tlv(TLV_MESSAGE_PAYLOAD, octets)] if long else [],
            ),
            WAIT,
        )
        assert resp.command_status == 0
        return await self.reply(phone)

    async def reply(self, phone: str) -> str:
        """The next submitted message, its parts joined (one message in flight)."""
        first = await self.smsc.submitted()
        parts = [first]
        if first.esm_class & 0x40:
            udh = first.short_message
            total = udh[4] if udh[1] == 0x00 else udh[5]  # IEI 0x00 (8-bit) or 0x08
            parts += [await self.smsc.submitted() for _ in range(total - 1)]
        for part in parts:
            assert part.destination_addr == phone.lstrip("+")
            assert part.source_addr == SHORT_CODE
        return "".join(submitted_text(p) for p in parts)

    async def exported(self) -> set[tuple[str, ...]]:
        assert self.gateway.store is not None
        out = io.StringIO()
        await export_readings(self.gateway.store.db, out=out, tz=self.gateway.settings.service.tz)
        rows = [json.loads(line) for line in out.getvalue().splitlines()]
        keys = ("account", "meter_serial", "zone", "value", "period", "channel", "sender")
        return {tuple(r[k] for k in keys) for r in rows}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    registry = tmp_path / "registry.csv"
    registry.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8-sig")
    clock = Clock()
    async with RustSmsc() as smsc:
        async with Gateway(settings_for(tmp_path, smsc.port), clock=clock) as gateway:
            esme = await smsc.bound()
            assert gateway.store is not None
            report = await import_customers(gateway.store.db, registry)
            assert (report.rows, report.accounts, report.meters, report.rejected) == (
                len(ROWS), 15, 18, []
            )
            yield World(gateway, smsc, esme, clock)
        await asyncio.wait_for(smsc.unbinds.get(), WAIT)


async def play(world: World, script: list[Step]) -> None:
    for index, item in enumerate(script):
        world.clock.set_local(item.at)
        answer = await world.say(item.phone, item.text)
        where = f"step {index}: {item.phone} {item.text!r} at {item.at} → {answer!r}"
        for fragment in item.expect:
            assert fragment in answer, where
        for fragment in item.absent:
            assert fragment not in answer, where


async def test_billing_receives_what_the_rules_say(world: World, tmp_path: Path) -> None:
    await play(world, SCRIPT)
    update = tmp_path / "registry-2.csv"
    update.write_text("\n".join([HEADER, *REIMPORT]) + "\n", encoding="utf-8")
    assert world.gateway.store is not None
    report = await import_customers(world.gateway.store.db, update)
    assert report.rejected == []
    await play(world, AFTER_REIMPORT)
    assert world.smsc.submits.empty()  # one reply per message, nothing else sent
    assert await world.exported() == EXPECTED_EXPORT
