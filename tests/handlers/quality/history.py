"""A generated history of appeals over 2026Q3 and 2026Q4 whose right answers are known.

Every batch below says what it contributes; the expected numbers in `EXPECTED` are
added up by hand from these batches, not computed by the code under test.

2026Q4 (31 appeals; as of 31.12.2026 12:00 MSK):
  A  outage, outage #A (announced until 05.10 14:00), created 05.10 10:00…17:00, one an
     hour, 8 contacts; 5 SMS + 3 Telegram; answered 1 h later (on time, due 24 h);
     the ones at 15:00, 16:00, 17:00 came after the announced time (outage_overrun = 3);
     the first two got one repeat message each (repeats = 2).
  B  outage, outage #B (until far ahead), 4 appeals, 4 contacts, Telegram; answered
     30 h later (late by 6 h; due 24 h).
  C  billing «по нормативу», 4, SMS, answered 2 h later (on time, due 72 h):
     estimated_billing = 4.
  D  billing «не пришла квитанция», 6, SMS, answered 2 h later; contact X's one follows
     X's Q3 billing appeal answered 20.09 (15 days earlier): repeat_after_answer = 1.
  E  meter, 5, Telegram; 2 answered 5 h later, 3 never answered (due passed: overdue).
  F  service_complaint, 3, SMS, closed without a staff answer.
  G  other, 1, SMS, created 30.12 12:00, due 02.01: open, not yet due.

2026Q3 (17 appeals):
  H  billing «по нормативу», 3, SMS, answered 2 h later: estimated_billing = 3.
  I  billing «не пришла квитанция», 3, SMS (one by contact X: created 18.09 10:00,
     answered 20.09 10:00, 48 h, on time).
  J  outage, outage #C, 5, SMS, answered 1 h later.
  K  meter, 4, Telegram, answered 5 h later.
  L  payment, 2, SMS, answered 100 h later (late, due 72 h).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from storage.store import Store

TZ = ZoneInfo("Europe/Moscow")
AS_OF = datetime(2026, 12, 31, 12, 0, tzinfo=TZ)

OUTAGE_TEXT = "Нет света с утра"
NORM_TEXT = "Начислили по нормативу, хотя счётчик работает"
RECEIPT_TEXT = "Не пришла квитанция за октябрь"
METER_TEXT = "Сломался счётчик, нужна замена счётчика"
COMPLAINT_TEXT = "Грубый оператор в офисе"
OTHER_TEXT = "Предлагаю добавить оплату через приложение"
PAYMENT_TEXT = "Оплата не поступила на лицевой счёт"


@dataclass(frozen=True)
class Expected:
    total: int = 31
    previous_total: int = 17
    by_category: tuple[tuple[str, int, int], ...] = (
        ("outage", 12, 5),
        ("power_quality", 0, 0),
        ("billing", 10, 6),
        ("payment", 0, 2),
        ("meter", 5, 4),
        ("contract", 0, 0),
        ("service_complaint", 3, 0),
        ("other", 1, 0),
    )
    by_channel: tuple[tuple[str, int, int], ...] = (("sms", 19, 13), ("telegram", 12, 4))
    # service level, Q4: on time A8 + C4 + D6 + E2 = 20; late B4; open overdue E3
    on_time: int = 20
    answered_late: int = 4
    open_overdue: int = 3
    open_not_due: int = 1
    closed_without_answer: int = 3
    base: int = 27
    # answered: 8×1 h, 10×2 h, 2×5 h, 4×30 h → 24 values, 12th and 13th are 2 h
    median_hours: float = 2.0
    previous_on_time: int = 15  # H3 + I3 + J5 + K4
    previous_late: int = 2  # L2
    # repeats within one event
    # (appeals, contacts, repeats) per outage
    outage_groups: tuple[tuple[int, int, int], ...] = ((8, 8, 2), (4, 4, 0))
    extra_outage_appeals: int = 10  # 7 + 3
    repeat_messages: int = 2
    # expectation gap
    gaps: tuple[tuple[str, int, int], ...] = (
        ("repeat_after_answer", 1, 0),
        ("estimated_billing", 4, 3),
        ("outage_overrun", 3, 0),
    )
    gap_total: int = 8
    previous_gap_total: int = 3
    overdue: int = 7  # B4 answered late + E3 open past due
    # recurring with at least 3 in both quarters
    recurring_categories: tuple[str, ...] = ("outage", "billing", "meter")
    recurring_words: tuple[str, ...] = ("свет", "счетчик", "квитанция", "норматив")
    recurring_gaps: tuple[str, ...] = ("estimated_billing",)


EXPECTED = Expected()


class _Maker:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.phones = 0

    async def contact(self, channel: str) -> tuple[int, str]:
        self.phones += 1
        if channel == "sms":
            address = f"+7900000{self.phones:04d}"
            contact = await self.store.contacts.resolve(
                "sms", address, phone=address, verified_by="sms"
            )
        else:
            address = str(500_000 + self.phones)
            contact = await self.store.contacts.resolve("telegram", address)
        return contact.id, address

    async def appeal(
        self,
        *,
        category: str,
        text: str,
        channel: str,
        created: datetime,
        due_hours: float,
        answer_hours: float | None,
        status: str = "open",
        outage_id: int | None = None,
        repeats: int = 0,
        contact: tuple[int, str] | None = None,
    ) -> int:
        contact_id, address = contact or await self.contact(channel)
        appeal = await self.store.appeals.create(
            contact_id=contact_id,
            channel=channel,
            address=address,
            reply_source=None,
            account=None,
            category=category,
            text=text,
            created_at=created,
            due_at=created + timedelta(hours=due_hours),
            outage_id=outage_id,
            status=status,
        )
        for n in range(repeats):
            await self.store.appeals.add_repeat(
                appeal.id, text, created + timedelta(minutes=10 * (n + 1))
            )
        if answer_hours is not None:
            await self.store.appeals.answer(
                appeal.id, "Ответ", "staff", created + timedelta(hours=answer_hours)
            )
        return appeal.id


async def _outage(store: Store, start: datetime, until: datetime) -> int:
    outage = await store.outages.create(
        settlement="Сыктывкар", street="Комарова", houses="", reason="авария на линии",
        start_at=start, until_at=until, planned=False,
    )
    return outage.id


async def generate_history(store: Store) -> None:
    """Fill the store with the batches described in the module docstring."""
    make = _Maker(store)
    day = datetime(2026, 10, 5, 10, 0, tzinfo=TZ)

    # --- 2026Q3 --------------------------------------------------------------------
    q3 = datetime(2026, 8, 3, 10, 0, tzinfo=TZ)
    for i in range(3):  # H
        await make.appeal(category="billing", text=NORM_TEXT, channel="sms",
                          created=q3 + timedelta(hours=i), due_hours=72, answer_hours=2)
    contact_x = await make.contact("sms")
    await make.appeal(category="billing", text=RECEIPT_TEXT, channel="sms",  # I, contact X
                      created=datetime(2026, 9, 18, 10, 0, tzinfo=TZ), due_hours=72,
                      answer_hours=48, contact=contact_x)
    for i in range(2):  # I
        await make.appeal(category="billing", text=RECEIPT_TEXT, channel="sms",
                          created=q3 + timedelta(days=1, hours=i), due_hours=72, answer_hours=2)
    outage_c = await _outage(store, q3, q3 + timedelta(days=30))
    for i in range(5):  # J
        await make.appeal(category="outage", text=OUTAGE_TEXT, channel="sms",
                          created=q3 + timedelta(days=2, hours=i), due_hours=24,
                          answer_hours=1, outage_id=outage_c)
    for i in range(4):  # K
        await make.appeal(category="meter", text=METER_TEXT.replace("Сломался счётчик, нужна ",
                                                                    ""),
                          channel="telegram", created=q3 + timedelta(days=3, hours=i),
                          due_hours=72, answer_hours=5)
    for i in range(2):  # L
        await make.appeal(category="payment", text=PAYMENT_TEXT, channel="sms",
                          created=q3 + timedelta(days=4, hours=i), due_hours=72,
                          answer_hours=100)

    # --- 2026Q4 --------------------------------------------------------------------
    outage_a = await _outage(store, day - timedelta(hours=2), day + timedelta(hours=4))
    for i in range(8):  # A
        await make.appeal(category="outage", text=OUTAGE_TEXT,
                          channel="sms" if i < 5 else "telegram",
                          created=day + timedelta(hours=i), due_hours=24, answer_hours=1,
                          outage_id=outage_a, repeats=1 if i < 2 else 0)
    outage_b = await _outage(store, day, day + timedelta(days=60))
    for i in range(4):  # B
        await make.appeal(category="outage", text=OUTAGE_TEXT, channel="telegram",
                          created=day + timedelta(days=1, hours=i), due_hours=24,
                          answer_hours=30, outage_id=outage_b)
    for i in range(4):  # C
        await make.appeal(category="billing", text=NORM_TEXT, channel="sms",
                          created=day + timedelta(days=2, hours=i), due_hours=72,
                          answer_hours=2)
    for i in range(5):  # D
        await make.appeal(category="billing", text=RECEIPT_TEXT, channel="sms",
                          created=day + timedelta(days=3, hours=i), due_hours=72,
                          answer_hours=2)
    await make.appeal(category="billing", text=RECEIPT_TEXT, channel="sms",  # D, contact X
                      created=day, due_hours=72, answer_hours=2, contact=contact_x)
    for i in range(5):  # E
        await make.appeal(category="meter", text=METER_TEXT, channel="telegram",
                          created=day + timedelta(days=4, hours=i), due_hours=72,
                          answer_hours=5 if i < 2 else None)
    for i in range(3):  # F
        await make.appeal(category="service_complaint", text=COMPLAINT_TEXT, channel="sms",
                          created=day + timedelta(days=5, hours=i), due_hours=72,
                          answer_hours=None, status="closed")
    await make.appeal(category="other", text=OTHER_TEXT, channel="sms",  # G
                      created=datetime(2026, 12, 30, 12, 0, tzinfo=TZ), due_hours=72,
                      answer_hours=None)
