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

A crash loses nothing: a claimed row whose lease runs out is claimed again. The SMS
channel records each part in the submit journal (`OutboxJournal`) before it goes on the
wire and its message id when the SMSC answers, so a reclaimed row re-sends only parts
that were never answered: the duplicates are bounded by the SMPP window, not by the
claimed batch, and such rows are counted as `possible_duplicates`.

The service loop (`run`) keeps the channels busy: a claim loop per channel claims the
next rows while earlier ones are still being sent (as many in flight as
`max_in_flight`), so the SMPP window never drains between batches; `step`/`drain` claim
one batch per channel and wait for them, sent side by side (tests).

Each channel goes at its own limit: claims, room in flight (`max_in_flight`) and
concurrent sends (`concurrency`) are per channel, so a slow channel (SMS at the SMSC's
TPS, e-mail at a few a second, a messenger answering slowly) fills only its own room and
never holds up another's claims or sends. A shared room once let the SMS sends, queued at
the SMSC's pace, delay the messengers' granted sends, which then left in bursts above
their per-second limits; and one loop claiming channel after channel left the
messengers' tokens unused while the SMS and e-mail claims ran (bench/bench_mixed.py).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from bot.core import (
    Channel,
    ChannelName,
    DeliveryReport,
    Outbound,
    Resume,
    SendErrorKind,
    SendResult,
    mask_phone,
)
from bot.settings import Settings
from notifications.limits import ChannelLimits, RateLimiter
from notifications.quiet import QuietHours
from notifications.smsparts import sms_parts
from notifications.wake import WakeSignal
from storage.campaigns import CampaignRepo, Progress
from storage.db import utcnow
from storage.models import OutboxItem
from storage.outbox import PRIORITY_BULK, Receipt, SubmitAnswer, SubmitMark
from storage.ports import Contacts, Outbox
from storage.routing import MESSENGERS
from storage.store import Store

log = logging.getLogger(__name__)

OPTED_OUT_ERROR = "opted out («СТОП») after it was queued"

TEMPLATE_MARK = '{"tpl"'
_BATCH = 2000  # items per group commit at most
_HOUSEKEEPING = 60.0  # seconds between expiring early receipts
T = TypeVar("T")
# An address's turn in a batch: ((channel, address), the delivery it waits for, its own).
# The channel is part of the key: a Telegram chat id and a MAX user id may be equal.
Turn = tuple[tuple[str, str], "asyncio.Future[None] | None", "asyncio.Future[None]"]
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Items from many tasks written together: whatever is added while a write is under
    way joins the next one. A window of SMS parts, or a burst of receipts, then costs one
    commit, not one each. `write` returns one result per item, in order."""

    def __init__(self, write: Callable[[list[T]], Awaitable[Sequence[R]]], name: str) -> None:
        self._write = write
        self._name = name
        self._items: list[tuple[T, asyncio.Future[R] | None]] = []
        self._writer: asyncio.Task[None] | None = None

    def put(self, item: T) -> asyncio.Future[R]:
        """Queue `item`; the future resolves once it is written (or with the error)."""
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue(item, done)
        return done

    def put_nowait(self, item: T, *, ride: bool = False) -> None:
        """Queue `item` without waiting for it (a failure is logged by the writer); no
        future for it: this is once per SMS part (the journal's answers). `ride`: no
        write of its own, it goes with the next `put` or `flush`."""
        self._queue(item, None, start=not ride)

    def _queue(self, item: T, done: asyncio.Future[R] | None, *, start: bool = True) -> None:
        self._items.append((item, done))
        if start:
            self._start()

    def _start(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._run(), name=self._name)

    async def flush(self) -> None:
        """Wait until everything queued so far is written (the writer runs until
        nothing is left queued)."""
        if self._items:
            self._start()
        if self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer])

    async def _run(self) -> None:
        # Ends when a batch finds nothing newer waiting; `put` starts a new writer then.
        while self._items:
            batch, self._items = self._items[:_BATCH], self._items[_BATCH:]
            try:
                results = await self._write([item for item, _ in batch])
            except asyncio.CancelledError:
                for _, done in batch:
                    if done is not None:
                        done.cancel()
                raise
            except Exception as exc:  # each waiting caller sees the error
                log.exception("%s: write failed", self._name)
                for _, done in batch:
                    if done is not None and not done.done():
                        done.set_exception(exc)
                continue
            for (_, done), result in zip(batch, results, strict=True):
                if done is not None and not done.done():
                    done.set_result(result)


class OutboxJournal:
    """The `bot.core.SubmitJournal` of one channel over the outbox: parts about to be
    submitted, and the SMSC's answers, written by group commit. An answer starts no
    commit: it rides with the next part's mark (written first in that commit) or the
    batch's `flush`, so every answer received before a part goes on the wire is durable
    by then: at a crash, the parts still `submitting` are at most a window."""

    def __init__(
        self, outbox: Outbox, channel: str, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.outbox = outbox
        self.channel = channel
        self.clock = clock
        self._commit: GroupCommit[SubmitMark | SubmitAnswer, None] = GroupCommit(
            self._write, f"{channel}-submit-journal"
        )

    async def submitting(self, ref: str, part: int, parts: int, reference: int) -> None:
        await self._commit.put(SubmitMark(int(ref), part, parts, reference, self.clock()))

    def submitted(self, ref: str, part: int, message_id: str | None, unanswered: int) -> None:
        # No commit of its own: it must be durable before a further part goes on the
        # wire, and so it rides with that part's mark (or the batch's `flush`).
        self._commit.put_nowait(
            SubmitAnswer(int(ref), part, self.channel, message_id, unanswered), ride=True
        )

    async def flush(self) -> None:
        await self._commit.flush()

    async def _write(self, items: list[SubmitMark | SubmitAnswer]) -> list[None]:
        answers = [i for i in items if isinstance(i, SubmitAnswer)]
        marks = [i for i in items if isinstance(i, SubmitMark)]
        await self.outbox.journal(answers, marks)
        return [None] * len(items)


class ProgressSource(Protocol):
    """Campaign progress for the service log (`storage.campaigns.CampaignRepo`)."""

    async def unfinished(self) -> list[int]: ...

    async def progress(self, campaign_id: int) -> Progress | None: ...


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
        max_in_flight: int = 400,
        early_receipt_ttl: timedelta = timedelta(minutes=10),
        wake_signal: WakeSignal | None = None,
        progress: ProgressSource | None = None,
        progress_every: float = 30.0,
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
        self.max_in_flight = max_in_flight
        self.early_receipt_ttl = early_receipt_ttl
        self.wake_signal = wake_signal
        self.progress_source = progress
        self.progress_every = progress_every
        # The SMS channel's submit journal (the app hands it to the channel).
        self.journal = OutboxJournal(outbox, ChannelName.SMS.value)
        self.opt_outs = opt_outs
        # Per channel: sends at once (`concurrency`), rows held (`max_in_flight`).
        self.concurrency = concurrency
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._templates: dict[int, dict[str, str]] = {}
        # Per channel, the limiter's tokens a message took in the last claim (SMS parts).
        self._cost: dict[str, float] = {}
        # Per channel, seconds until its limiter could take something again (its loop's
        # nap), and the event that wakes its loop.
        self._ready_in: dict[str, float] = {}
        self._woken: dict[str, asyncio.Event] = {}
        self._reports: GroupCommit[Receipt, int | None] = GroupCommit(
            self._write_reports, "sender-receipts"
        )
        # Messages claimed by `run` and not finished yet, per channel (their leases are
        # renewed while they are held), and the batches sending them.
        self._in_flight: collections.Counter[str] = collections.Counter()
        self._holding: set[int] = set()
        self._batches: set[asyncio.Task[None]] = set()
        # Per (channel, address), the delivery its next message waits for (order across
        # batches).
        self._tails: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._reported: set[int] = set()  # campaigns whose progress the log follows
        self._touched: set[int] = set()  # campaigns sent for since the last progress line

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
                max_rate=n.max_rate,
                email_rate=settings.email.rate if settings.email.enabled else None,
            ),
            quiet=QuietHours(start, end, settings.service.tz),
            templates=CampaignRepo(store.db),
            clock=clock,
            early_receipt_ttl=timedelta(minutes=n.early_receipt_minutes),
            progress=CampaignRepo(store.db),
            opt_outs=CampaignRepo(store.db),
        )

    # -- loop ----------------------------------------------------------------------------

    def wake(self) -> None:
        """New work was queued: look now instead of at the next poll."""
        self._wake.set()
        for woken in self._woken.values():
            woken.set()

    async def run(self, poll: float = 1.0) -> None:
        """The service loop (see the module docstring): one claim loop per channel, each
        claiming and sending at its channel's own pace (`_channel_loop`), and this one
        renewing the leases of what they hold, expiring early receipts and logging
        campaign progress. A channel added after the start gets its loop at the next
        look. An error is logged and the loop goes on: a sender that stops would leave
        replies unsent while everything else looks healthy."""
        if self.wake_signal is not None:
            await self.wake_signal.listen(self.wake)
        housekeeping = progress = renewed = 0.0
        renew_every = self.lease.total_seconds() / 3
        loops: dict[str, asyncio.Task[None]] = {}
        try:
            while not self._stopping:
                self._wake.clear()
                for name in list(self.channels):
                    if name not in loops:
                        loops[name] = asyncio.create_task(
                            self._channel_loop(name, poll), name=f"sender-{name}"
                        )
                try:
                    # Once a tick here, not in every channel loop's claim: the loops
                    # only leave bulk rows alone in quiet hours (`_max_priority`).
                    await self._quiet(self.clock())
                    tick = time.monotonic()
                    if tick - renewed >= renew_every:
                        renewed = tick
                        await self.outbox.extend_lease(
                            sorted(self._holding), self.clock() + self.lease
                        )
                    if tick - housekeeping >= _HOUSEKEEPING:
                        housekeeping = tick
                        await self._housekeeping()
                    if tick - progress >= self.progress_every:
                        progress = tick
                        await self._log_progress()
                except Exception:
                    log.exception("sender: housekeeping failed; trying again")
                with suppress(TimeoutError):
                    async with asyncio.timeout(min(poll, renew_every)):
                        await self._wake.wait()
        finally:
            self._stopping = True  # the channel loops end too (also when cancelled)
            self.wake()
            if loops:
                await asyncio.gather(*loops.values(), return_exceptions=True)
            if self.wake_signal is not None:
                await self.wake_signal.close()
            if self._batches:
                await asyncio.gather(*self._batches, return_exceptions=True)

    def stop(self) -> None:
        self._stopping = True
        self.wake()

    async def _channel_loop(self, name: str, poll: float) -> None:
        """Claim and send for one channel until the sender stops; look again when woken
        (new work, room freed up), when its limiter has tokens again, or after `poll`
        at the latest. One loop per channel, so no channel's claims wait for another's
        (an SMS claim of a whole second's parts, a store busy with its journal)."""
        woken = self._woken.setdefault(name, asyncio.Event())
        while not self._stopping:
            woken.clear()
            try:
                claimed = await self._pump(name)
            except Exception:
                log.exception("sender: %s: step failed; trying again", name)
                claimed = 0
                self._nap(name, poll)
            if claimed:  # more may be due
                continue
            nap = poll
            ready_in = self._ready_in.pop(name, None)
            if ready_in is not None:
                nap = max(0.005, min(nap, ready_in))
            with suppress(TimeoutError):
                async with asyncio.timeout(nap):
                    await woken.wait()

    async def _pump(self, name: str) -> int:
        """Claim what may go now for one channel into its free room and start sending it
        without waiting (the next claim overlaps these sends). Returns the rows claimed
        (none while the channel's room is full: a batch done wakes its loop)."""
        room = self.max_in_flight - self._in_flight[name]
        if room <= 0:
            return 0
        moment = self.clock()
        max_priority = self._max_priority(moment)
        self._ready_in.pop(name, None)
        handled, ready = await self._claim(name, moment, max_priority, room, fresh=True)
        if ready:
            ids = {item.id for item, _ in ready}
            self._in_flight[name] += len(ready)
            self._holding |= ids
            task = asyncio.create_task(self._send_batch(ready, moment), name="sender-batch")
            self._batches.add(task)
            task.add_done_callback(self._batch_done(name, ids))
        return handled + len(ready)

    def _batch_done(self, name: str, ids: set[int]) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self._batches.discard(task)
            self._in_flight[name] -= len(ids)
            self._holding -= ids
            if not task.cancelled() and task.exception() is not None:
                log.error("sender: a batch failed", exc_info=task.exception())
            woken = self._woken.get(name)
            if woken is not None:
                woken.set()  # room for more

        return done

    async def _housekeeping(self) -> None:
        await self.outbox.forget_submits()
        dropped = await self.outbox.forget_early_receipts(self.clock() - self.early_receipt_ttl)
        if dropped:
            log.info(
                "sender: %d receipt(s) for unknown message ids expired", dropped,
                extra={"event": "early_receipts_expired", "count": dropped},
            )

    async def _log_progress(self) -> None:
        """One line per campaign being sent or sent for since the last time, and a last
        one when it is no longer."""
        if self.progress_source is None:
            return
        current = set(await self.progress_source.unfinished())
        touched, self._touched = self._touched, set()
        for campaign_id in sorted(current | touched | self._reported):
            report = await self.progress_source.progress(campaign_id)
            if report is None:
                continue
            fields = report.as_json()
            log.info(
                "campaign %d (%s): %s",
                campaign_id,
                report.kind,
                ", ".join(f"{k} {v}" for k, v in fields.items() if k not in ("campaign", "kind")),
                extra={"event": "campaign_progress", **fields},
            )
        self._reported = current

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
        """One round over every channel: claim each channel's batch (in the channels'
        order), send the batches side by side and wait for them all; returns the
        messages handled (sent, failed, rerouted, retried), not those the limiter put
        back. A slow channel's batch does not hold up the others' sends."""
        moment = now or self.clock()
        max_priority = await self._quiet(moment)
        self._ready_in.clear()
        handled = 0
        batches: list[list[tuple[OutboxItem, Outbound]]] = []
        for name in list(self.channels):
            done, ready = await self._claim(name, moment, max_priority, self.batch_size)
            handled += done + len(ready)
            if ready:
                batches.append(ready)
        # Each batch finishes (a failure in one does not cut the others short), then the
        # first error, if any, is raised as before.
        results = await asyncio.gather(
            *(self._send_batch(ready, moment) for ready in batches), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return handled

    def _max_priority(self, moment: datetime) -> int | None:
        """The worst priority that may go now: in quiet hours bulk rows wait."""
        if self.quiet is not None and self.quiet.is_quiet(moment):
            return PRIORITY_BULK - 1
        return None

    async def _quiet(self, moment: datetime) -> int | None:
        """Quiet hours: defer bulk rows (one write, however many channels claim);
        returns the worst priority that may go now."""
        max_priority = self._max_priority(moment)
        if max_priority is not None and self.quiet is not None:
            await self.outbox.defer_priority(PRIORITY_BULK, self.quiet.not_before(moment))
        return max_priority

    async def _claim(
        self,
        name: str,
        moment: datetime,
        max_priority: int | None,
        room: int,
        *,
        fresh: bool = False,
    ) -> tuple[int, list[tuple[OutboxItem, Outbound]]]:
        """Claim what the channel's limiter can take now (at most `room`), settle rows
        that cannot go at all; returns (rows settled, rows ready to send). `fresh` (the
        service loop): the limiter's tokens are taken at the clock's time after the
        claim, when the sends start, not at `moment` (a claim that took a while would
        otherwise send the tokens of an earlier moment late, in a burst)."""
        limit = min(self.batch_size, room)
        if self.limiter is not None:
            tokens = self.limiter.capacity(name, moment)
            if tokens <= 0:
                self._nap(name, self.limiter.next_ready(name, moment))
                return 0, []
            # Tokens are SMS parts: as many rows as they pay for at the channel's recent
            # parts per message (claiming a row per token put half of a campaign of
            # two-part SMS back at every claim, a write each, for nothing).
            limit = min(limit, max(1, int(tokens / self._cost.get(name, 1.0))))
        if limit <= 0:
            return 0, []
        items = await self.outbox.claim(
            moment, limit, self.lease, channels=[name], max_priority=max_priority
        )
        if not items:
            return 0, []
        stopped = await self._cancel_opted_out(items)
        items = [i for i in items if i.id not in stopped]
        resumes = await self._resumes(items)
        granted = self.clock() if fresh else moment
        handled = len(stopped)
        ready: list[tuple[OutboxItem, Outbound]] = []
        back: list[tuple[int, datetime]] = []
        costs = priced = 0
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
                costs, priced = costs + cost, priced + 1
                wait = self.limiter.try_acquire(name, item.address, cost, item.priority, granted)
                if wait > 0:
                    back.append((item.id, granted + timedelta(seconds=wait)))
                    self._nap(name, wait)
                    continue
            resume = resumes.get(item.id)
            if resume is not None:
                outbound = outbound.model_copy(update={"resume": resume})
            ready.append((item, outbound))
        if priced:
            self._cost[name] = costs / priced
        await self.outbox.release(back)
        return handled, ready

    async def _resumes(self, items: Sequence[OutboxItem]) -> dict[int, Resume]:
        """For rows tried before (a crash, a failed part): what the submit journal says
        the SMSC accepted already, so that only the rest is sent again."""
        again = [item.id for item in items if item.attempts > 1]
        if not again:
            return {}
        found: dict[int, Resume] = {}
        for outbox_id, records in (await self.outbox.parts(again)).items():
            accepted = {
                r.part: r.message_id
                for r in records
                if r.state == "submitted" and r.message_id is not None
            }
            found[outbox_id] = Resume(reference=records[0].reference, accepted=accepted)
        return found

    async def _send_batch(
        self, ready: list[tuple[OutboxItem, Outbound]], moment: datetime
    ) -> None:
        if not ready:
            return
        sent: list[tuple[int, str, tuple[str, ...], int]] = []
        by_address: dict[str, list[tuple[OutboxItem, Outbound]]] = {}
        for item, outbound in ready:
            by_address.setdefault(item.address, []).append((item, outbound))
        # One address's messages in order, also across batches in flight together: each
        # address's turn is taken now, in claim order, and its messages wait for the
        # address's previous delivery. A few workers then go through the addresses (a
        # task per address was thousands of tasks queueing for a send slot).
        loop = asyncio.get_running_loop()
        turns: collections.deque[tuple[list[tuple[OutboxItem, Outbound]], Turn]] = (
            collections.deque()
        )
        for address, group in by_address.items():
            key = (group[0][0].channel, address)
            mine: asyncio.Future[None] = loop.create_future()
            turns.append((group, (key, self._tails.get(key), mine)))
            self._tails[key] = mine

        async def worker() -> None:
            while turns:
                group, turn = turns.popleft()
                await self._deliver_in_order(group, turn, moment, sent)

        try:
            await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(turns)))))
        finally:
            for _, (key, _, mine) in turns:  # not reached (cancelled): free the turn
                mine.set_result(None)
                if self._tails.get(key) is mine:
                    del self._tails[key]
        # The last answers of the batch, which no later mark carried (the ids are
        # mapped for receipts either way).
        await self.journal.flush()
        await self.outbox.mark_sent_many(sent, moment)

    async def _cancel_opted_out(self, items: list[OutboxItem]) -> set[int]:
        """Cancel the rows whose person said «СТОП» after the campaign was queued (only
        kinds that respect it, `storage.notices`); returns their ids."""
        if self.opt_outs is None:
            return set()
        stopped = set(await self.opt_outs.opted_out_rows(items))
        for item_id in sorted(stopped):
            await self.outbox.mark_final(item_id, "cancelled", OPTED_OUT_ERROR)
        return stopped

    def _nap(self, name: str, seconds: float) -> None:
        if name not in self._ready_in or seconds < self._ready_in[name]:
            self._ready_in[name] = seconds

    async def _outbound(self, item: OutboxItem) -> Outbound | None:
        # `ref` names the outbox row to the channel (the submit journal, retries).
        if not item.payload.startswith(TEMPLATE_MARK):
            return Outbound.model_validate_json(item.payload).model_copy(
                update={"ref": str(item.id)}
            )
        if item.campaign_id is None or self.templates is None:
            return None
        texts = self._templates.get(item.campaign_id)
        if texts is None:
            texts = await self.templates.template(item.campaign_id)
            if len(self._templates) > 1000:
                self._templates.clear()
            self._templates[item.campaign_id] = texts
        # Messengers and e-mail get the full text (docs/architecture.md, Notifications).
        text = texts.get(item.channel) or (
            texts.get(ChannelName.TELEGRAM.value)
            if item.channel != ChannelName.SMS.value else None
        )
        if text is None:
            return None
        return Outbound(
            channel=ChannelName(item.channel),
            address=item.address,
            text=text,
            valid_until=item.valid_until,
            ref=str(item.id),
        )

    # -- one message ---------------------------------------------------------------------

    async def _deliver_in_order(
        self,
        group: list[tuple[OutboxItem, Outbound]],
        turn: Turn,
        now: datetime,
        sent: list[tuple[int, str, tuple[str, ...], int]],
    ) -> None:
        key, before, mine = turn
        try:
            if before is not None:
                await asyncio.shield(before)
            for item, outbound in group:
                await self._deliver(item, outbound, now, sent)
        finally:
            mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]

    async def _deliver(
        self,
        item: OutboxItem,
        outbound: Outbound,
        now: datetime,
        sent: list[tuple[int, str, tuple[str, ...], int]],
    ) -> None:
        slots = self._slots.get(item.channel)
        if slots is None:
            slots = self._slots[item.channel] = asyncio.Semaphore(self.concurrency)
        async with slots:
            try:
                result = await self.channels[item.channel].send(outbound)
                _log_sent(item, result)
                if item.campaign_id is not None:
                    self._touched.add(item.campaign_id)
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
        if error.kind is SendErrorKind.BLOCKED:
            await self.contacts.set_blocked(item.channel, item.address, True)
            if await self._fallback_to_sms(item, outbound):
                return
        elif (
            (not error.retryable or item.attempts >= self.max_attempts)
            and error.kind is not SendErrorKind.EXPIRED
            and item.phone is not None
            and await self._fallback_to_sms(item, outbound)
        ):
            # A notice the chosen channel refused for good (a bad e-mail address, a
            # rejected mail) or failed on every try goes by SMS (docs/interfaces.md §14).
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
        if phone is None and item.channel in MESSENGERS:
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
        fast as its messages go, and one commit each would queue them by the thousand.
        Each receipt leaves one log line."""
        receipt = Receipt(
            report.channel.value,
            report.message_id,
            report.state.value,
            report.at,
            # A report that names its parts count is the channel's combined verdict.
            "parts" in report.extra,
        )
        await self._reports.put(receipt)

    async def _write_reports(self, batch: list[Receipt]) -> list[int | None]:
        found = await self.outbox.report_many(batch)
        if not log.isEnabledFor(logging.INFO):
            return found
        known = await self.outbox.describe([i for i in found if i is not None])
        for receipt, outbox_id in zip(batch, found, strict=True):
            row = known.get(outbox_id) if outbox_id is not None else None
            fields = {
                "event": "receipt",
                "outbox_id": outbox_id,
                "channel": receipt.channel,
                "phone": mask_phone(row.address if row else None),
                "message_id": receipt.message_id[:80],
                "campaign": row.campaign_id if row else None,
                "outcome": receipt.state,
            }
            log.info(
                "receipt %s for outbox %s to %s (campaign %s): %s%s",
                fields["message_id"],
                outbox_id if outbox_id is not None else "unknown",
                fields["phone"],
                fields["campaign"] if fields["campaign"] is not None else "-",
                receipt.state,
                "" if outbox_id is not None else ", kept until the id is recorded",
                extra=fields,
            )
        return found


def _log_sent(item: OutboxItem, result: SendResult) -> None:
    """One line per message handed to its channel: sent, or why not."""
    if not log.isEnabledFor(logging.INFO):
        return
    error = result.error
    outcome = "sent" if error is None else f"{error.kind.value}"
    fields = {
        "event": "sent" if error is None else "send_failed",
        "outbox_id": item.id,
        "channel": item.channel,
        "phone": mask_phone(item.address),
        "message_id": result.message_ids[0] if result.message_ids else None,
        "campaign": item.campaign_id,
        "parts": result.parts,
        "attempt": item.attempts,
        "outcome": outcome,
    }
    log.info(
        "outbox %d to %s/%s (campaign %s): %s, %d part(s), message %s%s",
        item.id,
        item.channel,
        fields["phone"],
        item.campaign_id if item.campaign_id is not None else "-",
        outcome,
        result.parts,
        fields["message_id"] or "-",
        f": {error.detail}" if error is not None and error.detail else "",
        extra=fields,
    )
