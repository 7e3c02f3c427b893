"""Due times across weekends and Russian holidays."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers.appeal_rules import add_working_days, due_at, is_working_day

MSK = ZoneInfo("Europe/Moscow")


def msk(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00").replace(tzinfo=MSK)


@pytest.mark.parametrize(
    ("created", "due"),
    [
        ("2026-11-23", "2026-11-26"),  # Monday → Thursday
        ("2026-11-26", "2026-12-01"),  # Thursday → Tuesday over the weekend
        ("2026-11-28", "2026-12-02"),  # Saturday: counting starts on Monday
        # New Year: 31 Dec 2026 is a day off (moved), 1–8 Jan holidays, 9–10 Jan weekend
        ("2026-12-30", "2027-01-13"),
        ("2026-12-31", "2027-01-13"),
        ("2027-01-05", "2027-01-13"),
        ("2026-11-03", "2026-11-09"),  # 4 November, Unity Day
    ],
)
def test_working_days(created: str, due: str) -> None:
    assert add_working_days(msk(created), 3, MSK) == msk(due)


def test_holidays_known() -> None:
    assert not is_working_day(msk("2027-01-07").date())
    assert not is_working_day(msk("2026-12-31").date())
    assert is_working_day(msk("2026-12-30").date())


def test_urgent_categories_take_hours() -> None:
    created = msk("2026-12-31", 22)
    assert due_at("outage", created, MSK) == created + timedelta(hours=24)
    assert due_at("power_quality", created, MSK, urgent_hours=12) == created + timedelta(hours=12)
    assert due_at("billing", created, MSK) == msk("2027-01-13", 22)
