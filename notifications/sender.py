"""The outbox sender: takes due messages from the outbox, best priority first, and
delivers them through their channels, recording what happened.

Send failures are values (`SendResult.error`): retryable ones are retried with
exponential backoff (or after the peer's `retry_after`), others fail the message. A
blocked Telegram user is marked blocked and the message goes by SMS when the person's
phone is known. Rows are leased while in flight, so a crash resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime, timedelta

from bot.core import (
    Channel,
    ChannelName,
    DeliveryReport,
    Outbound,
    SendErrorKind,
    SendResult,
    mask_phone,
)
from storage.db import utcnow
from storage.models import OutboxItem
from storage.outbox import OutboxRepo
from storage.repos import ContactRepo

log = logging.getLogger(__name__)


def backoff(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Seconds before try `attempt + 1`: exponential with full jitter (AWS style)."""
    return random.uniform(0, min(cap, base * 2 ** max(attempt - 1, 0)))  # noqa: S311


class OutboxSender:
    """Delivers the outbox. `run()` is the service loop; `drain()` sends everything due
    now and returns (deterministic tests, no sleeps)."""

    def __init__(
        self,
        outbox: OutboxRepo,
        contacts: ContactRepo,
        channels: Mapping[str, Channel],
        *,
        lease: timedelta = timedelta(seconds=60),
        max_attempts: int = 5,
        batch_size: int = 200,
        concurrency: int = 32,
    ) -> None:
        self.outbox = outbox
        self.contacts = contacts
        self.channels = dict(channels)
        self.lease = lease
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """New work was queued: look now instead of at the next poll."""
        self._wake.set()

    async def run(self, poll: float = 1.0) -> None:
        while not self._stopping:
            sent = await self.step()
            if sent:
                continue
            self._wake.clear()
            with suppress(TimeoutError):
                async with asyncio.timeout(poll):
                    await self._wake.wait()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def drain(self, now: datetime | None = None, max_rounds: int = 10_000) -> int:
        """Send until nothing is due at `now` (default: the real clock); returns the
        number of messages handled."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.step(now)
            if not handled:
                break
            total += handled
        return total

    async def step(self, now: datetime | None = None) -> int:
        moment = now or utcnow()
        items = await self.outbox.claim(
            moment, self.batch_size, self.lease, channels=list(self.channels)
        )
        if not items:
            return 0
        await asyncio.gather(*(self._deliver(item, moment) for item in items))
        return len(items)

    async def _deliver(self, item: OutboxItem, now: datetime) -> None:
        async with self._limit:
            try:
                await self._deliver_one(item, now)
            except Exception:
                log.exception("sender: unexpected failure on outbox %d", item.id)
                await self._retry_or_fail(item, now, "internal error", None)

    async def _deliver_one(self, item: OutboxItem, now: datetime) -> None:
        outbound = Outbound.model_validate_json(item.payload)
        if outbound.valid_until is not None and outbound.valid_until <= now:
            # A notice that would arrive after it stopped being true is dropped.
            await self.outbox.mark_final(item.id, "expired", "validity passed before sending")
            return
        channel = self.channels[item.channel]
        result: SendResult = await channel.send(outbound.model_copy(update={"ref": str(item.id)}))
        if result.ok:
            await self.outbox.mark_sent(
                item.id, item.channel, result.message_ids, result.parts, utcnow()
            )
            return
        error = result.error
        assert error is not None
        log.info(
            "sender: outbox %d to %s/%s: %s %s",
            item.id,
            item.channel,
            mask_phone(item.address),
            error.kind.value,
            error.detail,
        )
        if error.kind is SendErrorKind.BLOCKED:
            await self.contacts.set_blocked(item.channel, item.address, True)
            if await self._fallback_to_sms(item, outbound):
                return
        if error.retryable:
            detail = error.detail or error.kind.value
            await self._retry_or_fail(item, now, detail, error.retry_after)
        else:
            await self.outbox.mark_final(item.id, "failed", f"{error.kind.value}: {error.detail}")

    async def _fallback_to_sms(self, item: OutboxItem, outbound: Outbound) -> bool:
        if item.channel == ChannelName.SMS.value or ChannelName.SMS.value not in self.channels:
            return False
        phone = item.phone
        if phone is None and item.channel == ChannelName.TELEGRAM.value:
            contact = await self.contacts.get(item.channel, item.address)
            phone = contact.phone if contact else None
        if phone is None:
            return False
        sms = outbound.model_copy(
            update={
                "channel": ChannelName.SMS,
                "address": phone,
                "buttons": (),
                "request_contact": False,
                "source": None,
            }
        )
        await self.outbox.reroute(item.id, ChannelName.SMS.value, phone, sms.model_dump_json())
        self.wake()
        return True

    async def _retry_or_fail(
        self, item: OutboxItem, now: datetime, detail: str, retry_after: float | None
    ) -> None:
        if item.attempts >= self.max_attempts:
            reason = f"gave up after {item.attempts} tries: {detail}"
            await self.outbox.mark_final(item.id, "failed", reason)
            return
        delay = retry_after if retry_after is not None else backoff(item.attempts)
        await self.outbox.retry_at(item.id, now + timedelta(seconds=delay), detail)

    async def on_report(self, report: DeliveryReport) -> None:
        """The `OnReport` callback for channels: apply a delivery receipt."""
        found = await self.outbox.report(
            report.channel.value, report.message_id, report.state.value, report.at
        )
        if found is None:
            log.debug("sender: receipt for unknown message %s", report.message_id)
