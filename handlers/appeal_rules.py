"""Pure rules for appeals: due times (docs/architecture.md, Appeals).

Outages and power quality are urgent (24 hours by default); every other category is
due in 3 working days, where weekends and Russian public holidays (with the
government's transferred days off, as the `holidays` package knows them) do not count.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

URGENT_CATEGORIES = frozenset({"outage", "power_quality"})


@lru_cache(maxsize=32)
def _ru_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("RU", years=[year]).keys())


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a Russian public holiday or transferred day off."""
    return day.weekday() < 5 and day not in _ru_holidays(day.year)


def add_working_days(start: datetime, days: int, tz: ZoneInfo) -> datetime:
    """`start` moved forward by `days` working days, at the same local time of day.
    Counting starts with the next working day, so a message sent on a Saturday or on
    31 December is due on the third working day after the holidays."""
    local = start.astimezone(tz)
    day = local.date()
    left = days
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    # Rebuild from the wall-clock time: the offset may differ across a DST change.
    return datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=tz)


def due_at(
    category: str,
    created: datetime,
    tz: ZoneInfo,
    *,
    urgent_hours: int = 24,
    working_days: int = 3,
) -> datetime:
    """When the answer to an appeal is due."""
    if category in URGENT_CATEGORIES:
        return created + timedelta(hours=urgent_hours)
    return add_working_days(created, working_days, tz)
