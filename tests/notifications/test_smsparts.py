"""SMS part counting: a table of edge cases, and agreement with the SMS channel's codec
on any text (the two must never disagree, or previews lie)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications import templates
from notifications.smsparts import sms_parts
from sms_gateway.codec import count_parts
from tests.notifications.conftest import MSK


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters take two septets
        ("€" * 81, 2),
        ("Ж" * 70, 1),
        ("Ж" * 71, 2),
        ("Ж" * 134, 2),
        ("Ж" * 135, 3),
        ("a" * 152 + "€" + "a" * 10, 2),  # an escape pair is never cut
        ("😀" * 35, 1),  # surrogate pairs: two UTF-16 units each
        ("😀" * 36, 2),
    ],
)
def test_parts(text: str, parts: int) -> None:
    assert sms_parts(text) == parts
    assert count_parts(text) == parts


@given(st.text(alphabet=st.sampled_from("aZ 09€[]^Жщё😀\n@£"), max_size=400))
def test_agrees_with_the_codec(text: str) -> None:
    assert sms_parts(text) == count_parts(text)


def test_default_outage_notices_fit_in_two_parts() -> None:
    start = datetime(2026, 11, 26, 10, 0, tzinfo=MSK)
    until = datetime(2026, 11, 26, 18, 0, tzinfo=MSK)
    where = templates.area("Сыктывкар", "Комарова", "1-15,17,21А")
    for planned in (True, False):
        text = templates.outage_notice(
            planned=planned, where=where, reason="ремонт ЛЭП", start=start, until=until,
            tz=MSK, company="ЭнергоСбыт",
        )
        assert sms_parts(text) <= 2, text
    assert sms_parts(templates.restored_notice(where=where, company="ЭнергоСбыт")) <= 2


def test_debt_notice_has_the_legal_content() -> None:
    text = templates.debt_notice(
        account="1234567890", amount=Decimal("3200.5"),
        restriction=datetime(2026, 12, 20, tzinfo=MSK).date(), company="ЭнергоСбыт",
    )
    assert "3200,50 руб." in text
    assert "20 дней со дня доставки" in text
    assert "ограничена, а затем приостановлена" in text
    assert "не ранее 20.12.2026" in text


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("1234.5", "по ЛС 1234567890: 1234,50 руб., оплатить до 10.12.2026. ЭнергоСбыт"),
        # A credit was sent as «-5,00 руб., оплатить до 10.12.2026».
        ("-5", "по ЛС 1234567890: к оплате 0 руб. Переплата 5,00 руб. ЭнергоСбыт"),
        ("0", "по ЛС 1234567890: к оплате 0 руб. ЭнергоСбыт"),
    ],
)
def test_invoice_notice_amounts(amount: str, expected: str) -> None:
    text = templates.invoice_notice(
        account="1234567890", period="2026-11", amount=Decimal(amount),
        due=datetime(2026, 12, 10, tzinfo=MSK).date(), company="ЭнергоСбыт",
    )
    assert text == f"Счёт за 11.2026 {expected}"
