"""Every SMS notice within two parts, the full text in messengers (docs/architecture.md
«Notifications»: with `[service] sms_signature` of up to 12 characters). Realistic but
long values: 12-digit accounts, amounts like 123 456,78, long settlement and street
names, long house lists and reasons, a survey with a long introduction."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from handlers.quality.survey_repo import Question
from handlers.quality.surveys import SurveyError, question_reply, survey_spec
from notifications import templates
from notifications.campaigns import NoticeConfig, Notifications, OutageRequest
from notifications.quiet import QuietHours
from notifications.smsparts import sms_parts
from storage.store import Store
from tests.notifications.conftest import MSK

SIGNATURES = ["ЭнергоСбыт", "КомиЭнергоСб"]  # the default and a 12-character one
ACCOUNT = "123456789012"
AMOUNTS = [Decimal("123456.78"), Decimal("9876543.21"), Decimal("-12345.67"), Decimal("0.01")]
START = datetime(2030, 11, 26, 10, 0, tzinfo=MSK)
SETTLEMENT = "пгт Верхняя Максаковка Сыктывкарского городского округа"
STREET = "ул. имени 50-летия Великого Октября"
HOUSES = "1-15,17,19,21А,23/1,25к2,27,29,31,33,35,37"
REASON = "аварийное повреждение кабельной линии 10 кВ после падения дерева на провода"


def _service(store: Store, signature: str) -> Notifications:
    config = NoticeConfig(
        tz=MSK, company="АО «Коми энергосбытовая компания»",
        quiet=QuietHours(time(21), time(9), MSK),
        confirm_above=1000, telegram=True, sms_signature=signature,
    )
    return Notifications(store, config, clock=lambda: START)


def _request(planned: bool) -> OutageRequest:
    return OutageRequest(
        settlement=SETTLEMENT, street=STREET, houses=HOUSES, reason=REASON,
        start=START, until=START + timedelta(hours=30), planned=planned,
    )


@pytest.mark.parametrize("signature", SIGNATURES)
@pytest.mark.parametrize("amount", AMOUNTS)
def test_debt_notice_keeps_the_legal_content_in_two_parts(
    signature: str, amount: Decimal
) -> None:
    sms = templates.debt_notice_sms(
        account=ACCOUNT, amount=amount, restriction=date(2030, 12, 20), signature=signature
    )
    assert sms_parts(sms) <= 2, sms
    assert templates.money(amount) in sms  # the amount
    assert "20.12.2030" in sms  # the earliest restriction date
    assert "20 дн" in sms  # within 20 days…
    assert "доставки" in sms  # …of delivery
    assert "ограничить" in sms or "ограничена" in sms  # restricted…
    assert "приостановить" in sms or "приостановлена" in sms  # …then suspended
    assert ACCOUNT in sms
    assert sms.endswith(signature)
    full = templates.debt_notice(
        account=ACCOUNT, amount=amount, restriction=date(2030, 12, 20), company="ЭнергоСбыт"
    )
    assert "в течение 20 дней со дня доставки этого уведомления" in full


@pytest.mark.parametrize("signature", SIGNATURES)
@pytest.mark.parametrize("amount", AMOUNTS)
def test_invoice_in_two_parts(signature: str, amount: Decimal) -> None:
    sms = templates.invoice_notice(
        account=ACCOUNT, period="2030-11", amount=amount, due=date(2030, 12, 10),
        company=signature,
    )
    assert sms_parts(sms) <= 2, sms
    assert templates.money(abs(amount)) in sms


@pytest.mark.parametrize("signature", SIGNATURES)
def test_reminder_in_two_parts(signature: str) -> None:
    sms = templates.reminder_notice(first_day=18, last_day=25, company=signature)
    assert sms_parts(sms) <= 2, sms


@pytest.mark.parametrize("signature", SIGNATURES)
@pytest.mark.parametrize("planned", [False, True])
async def test_outage_and_restored_in_two_parts_full_in_telegram(
    store: Store, signature: str, planned: bool
) -> None:
    notes = _service(store, signature)
    request = _request(planned)
    sms, full = notes.outage_sms_text(request), notes.outage_text(request)
    assert sms_parts(sms) <= 2, sms
    assert sms.endswith(signature)
    assert REASON in full
    assert HOUSES in full
    report = await notes.outage(request, yes=True, allow_empty=True)  # nobody lives there
    assert report.outage is not None
    restored = await notes.restored(report.outage)
    assert restored is not None
    assert sms_parts(restored.sample) <= 2, restored.sample
    assert restored.sample.endswith(signature)


LONG_INTRO = (
    "АО «Коми энергосбытовая компания» проводит опрос о качестве обслуживания клиентов."
)
QUESTIONS = [
    ("Как вы оцените работу нашего офиса обслуживания?", "score"),
    ("Удобно ли вам передавать показания счётчика по SMS?", "yesno"),
    ("Насколько быстро и понятно вам ответили на ваше последнее обращение?", "score"),
]


@pytest.mark.parametrize(("question", "scale"), QUESTIONS)
@pytest.mark.parametrize("total", [1, 3])
def test_survey_invitation_in_two_parts_full_in_telegram(
    question: str, scale: str, total: int
) -> None:
    asked = Question(1, 1, "household", 0, question, scale)
    sms = question_reply(asked, total, "sms", LONG_INTRO).text
    assert sms_parts(sms) <= 2, sms
    assert question in sms  # the question itself is never cut
    telegram = question_reply(asked, total, "telegram", LONG_INTRO).text
    assert LONG_INTRO in telegram
    assert question in telegram


def test_a_question_too_long_for_sms_is_refused_when_the_survey_is_made() -> None:
    long_question = "Оцените, пожалуйста, " + "очень " * 20 + "подробно нашу работу"
    with pytest.raises(SurveyError, match="SMS"):
        survey_spec({"title": "Опрос", "household": [f"{long_question}:score"]})
