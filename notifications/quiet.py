"""Quiet hours: when bulk notices wait (docs/architecture.md «Notifications»).

Reminders, invoices, debt notices, surveys and planned-outage notices are not sent
between 21:00 and 09:00 local time (`[notifications] quiet_hours`,
`[service] timezone`); replies, unplanned-outage and power-restored notices go at once
(a customer sitting in the dark wants the news). In the outbox those are exactly the
rows of `PRIORITY_BULK`, so the sender holds back that priority during the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily local-time window `[start, end)`; it may wrap past midnight.
    `start == end` means no quiet hours."""

    start: time
    end: time
    tz: ZoneInfo

    def is_quiet(self, now: datetime) -> bool:
        if self.start == self.end:
            return False
        local = now.astimezone(self.tz).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def not_before(self, now: datetime) -> datetime:
        """`now` outside the window; else the moment the window ends (aware)."""
        if not self.is_quiet(now):
            return now
        local = now.astimezone(self.tz)
        end = datetime.combine(local.date(), self.end, tzinfo=self.tz)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=self.tz)
        return end
