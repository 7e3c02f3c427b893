"""Pure rules for the inbox: when a person's answer is due (docs/interfaces.md §12).

An inbox item is due `answer_within_hours` *working* hours after it arrived: hours
inside `[staff] working_hours` on working days (Monday to Friday, not a Russian public
holiday or transferred day off, as for appeals). A message at 20:00 on a Friday, with
09:00-18:00 and 4 hours, is due on Monday at 13:00; one at 16:00 on a Tuesday is due
on Wednesday at 11:00 (two hours on Tuesday, two on Wednesday).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from handlers.appeal_rules import is_working_day

# More working days than any answer time needs; bounds the walk over the calendar.
_MAX_DAYS = 400


def working_due(
    received: datetime,
    hours: float,
    tz: ZoneInfo,
    window: tuple[time, time] = (time(9), time(18)),
) -> datetime:
    """`received` plus `hours` working hours of `window` (local time of `tz`)."""
    if received.tzinfo is None:
        raise ValueError("naive datetime")
    start, end = window
    if end <= start:
        raise ValueError("the working day must end after it starts")
    left = timedelta(hours=hours)
    local = received.astimezone(tz)
    day = local.date()
    for _ in range(_MAX_DAYS):
        if is_working_day(day):
            opens = datetime.combine(day, start, tzinfo=tz)
            closes = datetime.combine(day, end, tzinfo=tz)
            begin = max(opens, local)
            if begin < closes:
                available = closes - begin
                if left <= available:
                    return begin + left
                left -= available
        day += timedelta(days=1)
    raise ValueError(f"{hours} working hours do not fit in {_MAX_DAYS} days")
