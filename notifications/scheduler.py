"""The reading-reminder scheduler: a task of the service that, on the first day of the
readings window at `[notifications] reminder_hour` local time, queues the reminder
campaign once per period.

Why a polling loop and not a timer to the exact minute: the service may be down at that
minute; looking every minute on that day sends the reminder as soon as it is up again,
and the campaign recorded in the database (kind `reminder`, title = period) stops a
restart from sending it twice.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from notifications.campaigns import Notifications

log = logging.getLogger(__name__)


class ReminderScheduler:
    """`run()` until `stop()`; `tick()` does one check (tests call it directly)."""

    def __init__(self, service: Notifications, *, interval: float = 60.0) -> None:
        self.service = service
        self.interval = interval
        self._stop = asyncio.Event()

    async def tick(self) -> int | None:
        try:
            campaign = await self.service.reminders_due()
        except Exception:  # a failed check must not kill the loop; next minute retries
            log.exception("reminders: check failed")
            return None
        if campaign is not None:
            log.info("reminders: campaign %d queued", campaign)
        return campaign

    async def run(self) -> None:
        while not self._stop.is_set():
            await self.tick()
            with suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._stop.wait()

    def stop(self) -> None:
        self._stop.set()
