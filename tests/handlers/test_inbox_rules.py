"""When a person's answer to an inbox item is due: working hours on working days."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from handlers.inbox_rules import working_due

MSK = ZoneInfo("Europe/Moscow")


def _msk(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=MSK)


@pytest.mark.parametrize(
    ("received", "hours", "window", "due"),
    [
        # inside hours, same day
        ("2026-12-01 10:00", 4, None, "2026-12-01 14:00"),
        # exactly at the end of the day: due exactly at closing
        ("2026-12-01 14:00", 4, None, "2026-12-01 18:00"),
        # late afternoon: two hours today, two tomorrow
        ("2026-12-01 16:00", 4, None, "2026-12-02 11:00"),
        # before opening: counted from 09:00
        ("2026-12-01 07:00", 4, None, "2026-12-01 13:00"),
        # the evening: from the next morning
        ("2026-12-01 20:00", 4, None, "2026-12-02 13:00"),
        # Friday evening → Monday 13:00 (the brief's example)
        ("2026-12-04 20:00", 4, None, "2026-12-07 13:00"),
        # Saturday and Sunday do not count
        ("2026-12-05 12:00", 4, None, "2026-12-07 13:00"),
        # 3 November is the eve of a public holiday (4 November), 5 November works
        ("2026-11-03 17:30", 4, None, "2026-11-05 12:30"),
        # the New Year holidays: 31 December and 1–10 January are off
        ("2026-12-30 17:00", 4, None, "2027-01-11 12:00"),
        # more hours than one working day holds
        ("2026-12-01 09:00", 12, None, "2026-12-02 12:00"),
        # another working day: 08:30-17:15
        ("2026-12-01 16:00", 2, (time(8, 30), time(17, 15)), "2026-12-02 09:15"),
        # fractions of an hour
        ("2026-12-01 09:00", 0.5, None, "2026-12-01 09:30"),
    ],
)
def test_working_due(
    received: str, hours: float, window: tuple[time, time] | None, due: str
) -> None:
    got = working_due(_msk(received), hours, MSK, window or (time(9), time(18)))
    assert got == _msk(due)


def test_utc_input_is_read_in_the_service_time_zone() -> None:
    # 17:00 UTC is 20:00 in Moscow, after hours
    got = working_due(datetime(2026, 12, 4, 17, 0, tzinfo=UTC), 4, MSK)
    assert got == _msk("2026-12-07 13:00")


@pytest.mark.parametrize(
    ("received", "window", "error"),
    [
        (datetime(2026, 12, 1, 10, 0), (time(9), time(18)), "naive"),  # noqa: DTZ001
        (_msk("2026-12-01 10:00"), (time(18), time(9)), "end after it starts"),
    ],
)
def test_bad_input_is_refused(
    received: datetime, window: tuple[time, time], error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        working_due(received, 4, MSK, window)
