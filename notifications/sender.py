"""The outbox sender: takes due messages from the outbox, best priority first, and
delivers them through their channels, recording what happened.

Order of one step, and why:

1. Quiet hours: during the window every bulk row (`PRIORITY_BULK`: reminders, invoices,
   debts, surveys, planned outages) is marked `deferred` until it ends, and only better
   priorities are claimed; replies and urgent notices go at once.
2. Per channel, claim no more rows than the channel's rate limiter could take now, best
   priority first: rows are leased while in flight, so claiming a minute of bulk work
   would let leases run out in our own hands; and replies, claimed first, never wait
   behind a campaign.
3. Each claimed row asks the limiter for its cost (SMS: one token per part); a row the
   limiter refuses goes back to the queue unsent, not counted as a try.
4. Sends run concurrently, but one address's messages in order (two replies to one
   customer must not overtake each other).
5. Accepted sends are marked in one transaction per step; failures are values
   (`SendResult.error`): retryable ones come back with exponential backoff (or the
   peer's `retry_after`), others fail the row; after `max_attempts` tries it fails. A
   blocked Telegram user is marked blocked and the message goes by SMS to the person's
   phone.

A crash loses nothing: a claimed row whose lease runs out is claimed again, so the
messages in flight at the crash are the most that can be sent twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Protocol

from bot.core import (
    Channel,
    ChannelName,
    DeliveryReport,
    Outbound,
    SendErrorKind,
    SendResult,
    mask_phone,
)
from bot.settings import Settings
from notifications.limits import ChannelLimits, RateLimiter
from notifications.quiet import QuietHours
from notifications.smsparts import sms_parts
from storage.campaigns import CampaignRepo
from storage.db import utcnow
from storage.models import OutboxItem
from storage.outbox import PRIORITY_BULK, Receipt
from storage.ports import Contacts, Outbox
from storage.store import Store

log = logging.getLogger(__name__)

OPTED_OUT_ERROR = "opted out («СТОП») after it was queued"

TEMPLATE_MARK = '{"tpl"'
_REPORT_BATCH = 2000  # receipts per transaction at most


def backoff(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Seconds before try `attempt + 1`: exponential with full jitter (AWS style)."""
    return random.uniform(0, min(cap, base * 2 ** max(attempt - 1, 0)))  # noqa: S311


class TemplateSource(Protocol):
    """Where the sender finds a campaign's text for rows carrying `{"tpl":1}`
    (`storage.campaigns.CampaignRepo` implements it)."""

    async def template(self, campaign_id: int) -> dict[str, str]: ...


class OptOuts(Protocol):
    """Which claimed campaign rows «СТОП» now forbids (`storage.campaigns.CampaignRepo`
    implements it with the one table of `storage.notices`)."""

    async def opted_out_rows(self, items: Sequence[OutboxItem]) -> list[int]: ...


class OutboxSender:
    """Delivers the outbox. `run()` is the service loop; `drain()` sends everything due
    at a given moment and returns (deterministic tests: no sleeps, the clock injected).

    `limiter` (None: unlimited) decides how fast each channel goes, `quiet` holds bulk
    notices back at night, `templates` renders campaign rows, `clock` is the time source.
    """

    def __init__(
        self,
        outbox: Outbox,
        contacts: Contacts,
        channels: Mapping[str, Channel],
        *,
        lease: timedelta = timedelta(seconds=60),
        max_attempts: int = 5,
        batch_size: int = 200,
        concurrency: int = 32,
        limiter: RateLimiter | None = None,
        quiet: QuietHours | None = None,
        templates: TemplateSource | None = None,
        clock: Callable[[], datetime] = utcnow,
        opt_outs: OptOuts | None = None,
    ) -> None:
        self.outbox = outbox
        self.contacts = contacts
        self.channels = dict(channels)
        self.lease = lease
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self.limiter = limiter
        self.quiet = quiet
        self.templates = templates
        self.clock = clock
        self.opt_outs = opt_outs
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._stopping = False
        self._templates: dict[int, dict[str, str]] = {}
        # Seconds until a limiter could take something again (the run loop's nap).
        self._ready_in: float | None = None
        # Receipts waiting for the writer task, each with the future its channel awaits.
        self._reports: list[tuple[DeliveryReport, asyncio.Future[None]]] = []
        self._report_writer: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls,
        store: Store,
        settings: Settings,
        channels: Mapping[str, Channel] | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> OutboxSender:
        """The sender as the service runs it: limits, quiet hours, leases, tries and
        batch size from settings (`[notifications]`, `[smpp] tps`, `[service] timezone`)."""
        n = settings.notifications
        start, end = n.quiet_window
        return cls(
            store.outbox,
            store.contacts,
            channels or {},
            lease=timedelta(seconds=n.lease_seconds),
            max_attempts=n.max_attempts,
            batch_size=n.batch_size,
            limiter=ChannelLimits.from_rates(
                sms_tps=settings.smpp.tps,
                telegram_rate=n.telegram_rate,
                telegram_chat_rate=n.telegram_chat_rate,
            ),
            quiet=QuietHours(start, end, settings.service.tz),
            templates=CampaignRepo(store.db),
            clock=clock,
            opt_outs=CampaignRepo(store.db),
        )

    # -- loop ----------------------------------------------------------------------------

    def wake(self) -> None:
        """New work was queued: look now instead of at the next poll."""
        self._wake.set()

    async def run(self, poll: float = 1.0) -> None:
        while not self._stopping:
            handled = await self.step()
            if handled:
                continue
            nap = poll if self._ready_in is None else max(0.005, min(poll, self._ready_in))
            self._wake.clear()
            with suppress(TimeoutError):
                async with asyncio.timeout(nap):
                    await self._wake.wait()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def drain(self, now: datetime | None = None, max_rounds: int = 10_000) -> int:
        """Send until nothing more can go at `now` (default: the clock): nothing due, or
        every limiter empty. Returns the number of messages handled."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.step(now)
            if not handled:
                break
            total += handled
        return total

    async def step(self, now: datetime | None = None) -> int:
        """One round over every channel; returns the messages handled (sent, failed,
        rerouted, retried), not those the limiter put back."""
        moment = now or self.clock()
        max_priority: int | None = None
        if self.quiet is not None and self.quiet.is_quiet(moment):
            await self.outbox.defer_priority(PRIORITY_BULK, self.quiet.not_before(moment))
            max_priority = PRIORITY_BULK - 1
        self._ready_in = None
        handled = 0
        for name in list(self.channels):
            handled += await self._step_channel(name, moment, max_priority)
        return handled

    async def _step_channel(self, name: str, moment: datetime, max_priority: int | None) -> int:
        limit = self.batch_size
        if self.limiter is not None:
            limit = min(limit, self.limiter.capacity(name, moment))
            if limit <= 0:
                self._nap(self.limiter.next_ready(name, moment))
                return 0
        items = await self.outbox.claim(
            moment, limit, self.lease, channels=[name], max_priority=max_priority
        )
        if not items:
            return 0
        stopped = await self._cancel_opted_out(items)
        items = [i for i in items if i.id not in stopped]
        handled = len(stopped)
        ready: list[tuple[OutboxItem, Outbound]] = []
        back: list[tuple[int, datetime]] = []
        for item in items:
            outbound = await self._outbound(item)
            if outbound is None:
                await self.outbox.mark_final(item.id, "failed", "no text for this channel")
                handled += 1
                continue
            if outbound.valid_until is not None and outbound.valid_until <= moment:
                # A notice that would arrive after it stopped being true is dropped
                # (an outage notice after the power is back), not sent late.
                await self.outbox.mark_final(item.id, "expired", "validity passed before sending")
                handled += 1
                continue
            if self.limiter is not None:
                cost = sms_parts(outbound.text) if name == ChannelName.SMS.value else 1
                wait = self.limiter.try_acquire(name, item.address, cost, item.priority, moment)
                if wait > 0:
                    back.append((item.id, moment + timedelta(seconds=wait)))
                    self._nap(wait)
                    continue
            ready.append((item, outbound))
        await self.outbox.release(back)
        sent: list[tuple[int, str, tuple[str, ...], int]] = []
        by_address: dict[str, list[tuple[OutboxItem, Outbound]]] = {}
        for item, outbound in ready:
            by_address.setdefault(item.address, []).append((item, outbound))
        await asyncio.gather(
            *(self._deliver_in_order(group, moment, sent) for group in by_address.values())
        )
        await self.outbox.mark_sent_many(sent, moment)
        return handled + len(ready)

    async def _cancel_opted_out(self, items: list[OutboxItem]) -> set[int]:
        """Cancel the rows whose person said «СТОП» after the campaign was queued (only
        kinds that respect it, `storage.notices`); returns their ids."""
        if self.opt_outs is None:
            return set()
        stopped = set(await self.opt_outs.opted_out_rows(items))
        for item_id in sorted(stopped):
            await self.outbox.mark_final(item_id, "cancelled", OPTED_OUT_ERROR)
        return stopped

    def _nap(self, seconds: float) -> None:
        if self._ready_in is None or seconds < self._ready_in:
            self._ready_in = seconds

    async def _outbound(self, item: OutboxItem) -> Outbound | None:
        if not item.payload.startswith(TEMPLATE_MARK):
            return Outbound.model_validate_json(item.payload)
        if item.campaign_id is None or self.templates is None:
            return None
        texts = self._templates.get(item.campaign_id)
        if texts is None:
            texts = await self.templates.template(item.campaign_id)
            if len(self._templates) > 1000:
                self._templates.clear()
            self._templates[item.campaign_id] = texts
        text = texts.get(item.channel)
        if text is None:
            return None
        return Outbound(
            channel=ChannelName(item.channel),
            address=item.address,
            text=text,
            valid_until=item.valid_until,
        )

    # -- one message ---------------------------------------------------------------------

    async def _deliver_in_order(
        self,
        group: list[tuple[OutboxItem, Outbound]],
        now: datetime,
        sent: list[tuple[int, str, tuple[str, ...], int]],
    ) -> None:
        for item, outbound in group:
            async with self._limit:
                try:
                    result = await self.channels[item.channel].send(
                        outbound.model_copy(update={"ref": str(item.id)})
                    )
                    if result.ok:
                        sent.append((item.id, item.channel, result.message_ids, result.parts))
                    else:
                        await self._failed(item, outbound, result, now)
                except Exception:
                    log.exception("sender: unexpected failure on outbox %d", item.id)
                    await self._retry_or_fail(item, now, "internal error", None)

    async def _failed(
        self, item: OutboxItem, outbound: Outbound, result: SendResult, now: datetime
    ) -> None:
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
        text = outbound.text
        if item.payload.startswith(TEMPLATE_MARK) and item.campaign_id is not None:
            text = self._templates.get(item.campaign_id, {}).get(ChannelName.SMS.value, text)
        sms = outbound.model_copy(
            update={
                "channel": ChannelName.SMS,
                "address": phone,
                "text": text,
                "buttons": (),
                "request_contact": False,
                "source": None,
                "ref": None,
            }
        )
        await self.outbox.reroute(item.id, ChannelName.SMS.value, phone, sms.model_dump_json())
        self.wake()
        return True

    async def _retry_or_fail(
        self, item: OutboxItem, now: datetime, detail: str, retry_after: float | None
    ) -> None:
        if item.attempts >= self.max_attempts:
            reason = f"gave up after {item.attempts}: {detail}"
            await self.outbox.mark_final(item.id, "failed", reason)
            return
        delay = retry_after if retry_after is not None else backoff(item.attempts)
        await self.outbox.retry_at(item.id, now + timedelta(seconds=delay), detail)

    async def on_report(self, report: DeliveryReport) -> None:
        """The `OnReport` callback for channels: apply a delivery receipt. Returns once
        it is stored (the channel acknowledges the receipt only then). Receipts arriving
        together share one transaction (group commit): a campaign's receipts come as
        fast as its messages go, and one commit each would queue them by the thousand."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reports.append((report, done))
        if self._report_writer is None or self._report_writer.done():
            self._report_writer = asyncio.create_task(
                self._write_reports(), name="sender-receipts"
            )
        await done

    async def _write_reports(self) -> None:
        # Ends when a batch finds no newer receipts waiting (the list is refilled only by
        # on_report, which starts a new writer if this one has ended).
        while self._reports:
            batch, self._reports = self._reports[:_REPORT_BATCH], self._reports[_REPORT_BATCH:]
            try:
                found = await self.outbox.report_many(
                    [
                        Receipt(
                            report.channel.value,
                            report.message_id,
                            report.state.value,
                            report.at,
                            # A report that names its parts count is the channel's
                            # combined verdict.
                            "parts" in report.extra,
                        )
                        for report, _ in batch
                    ]
                )
            except asyncio.CancelledError:
                for _, done in batch:
                    done.cancel()
                raise
            except Exception as exc:  # each waiting channel answers with a temporary error
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (report, done), outbox_id in zip(batch, found, strict=True):
                if outbox_id is None:
                    log.debug("sender: receipt for unknown message %s", report.message_id)
                if not done.done():
                    done.set_result(None)
