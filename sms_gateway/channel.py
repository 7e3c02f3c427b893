"""`SmsChannel`: the SMS channel (`bot.core.Channel`) over `[smpp] binds` `SmppSession`s.

Several binds (docs/interfaces.md §13): every session binds with the same credentials
and hands its deliver_sm to the same handler, so an MO's parts meet in one
`FragmentStore` and a receipt finds the message it reports on whichever bind either
came on. Each part is sent on the bind that is up with the fewest submits outstanding
(ties in turn); a bind that drops reconnects on its own while the others keep sending,
and a part whose bind dropped under it goes again on another. `[smpp] tps` paces each
bind; `[smpp] tps_total` caps the sum over the instance's binds (`TotalRateLimiter`,
whose `share` hook the cluster sets).

Inbound: deliver_sm / data_sm → receipt or MO. An MO is decoded by data_coding,
reassembled when concatenated (parts committed to the `FragmentStore` before they are
acknowledged), and handed to `on_inbound`; its deliver_sm_resp goes out only after
`on_inbound` returned (the message is in the inbound journal). A receipt is mapped
through the one table in `codec.RECEIPT_STATES` and handed to `on_report`.

External ids (what the journal de-duplicates on): a content digest (single part:
source, destination, data_coding, octets, and the SMSC's message id when it sends one;
reassembled: source + reference + parts) followed by ".N", where N counts how many
messages with that digest were already handled *and acknowledged*. A redelivery (our
deliver_sm_resp never reached the SMSC) gets the same N, so the journal drops it; the
same text sent again by the customer ("ДА" twice) gets N+1 and is handled again.

Multipart delivery status is aggregated here: `SendResult.message_ids` lists every
part's id (the first is the message's id), and each report carries the *first* part's
id with the worst state over the parts so far (parts without a receipt count as
pending); a report is emitted whenever that aggregate changes. `extra` names the part
(`part_id`), the parts (`parts`) and how many reported (`reported`). After a restart
the channel no longer knows the grouping and reports a part's receipt under the
part's own id, which the gateway can still map through `message_ids`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bot.core import (
    ChannelName,
    DeliveryReport,
    DeliveryState,
    Inbound,
    OnInbound,
    OnReport,
    Outbound,
    SendErrorKind,
    SendResult,
    SubmitJournal,
    mask_phone,
    normalize_phone,
)
from bot.settings import SmppSettings

from . import codec
from .fragments import Fragment, FragmentStore, SqliteFragmentStore
from .limiter import SubmitGate, TotalRateLimiter, whole_share
from .pdu import (
    NPI_ISDN,
    TLV_MESSAGE_STATE,
    TLV_NETWORK_ERROR_CODE,
    TLV_RECEIPTED_MESSAGE_ID,
    TLV_USER_MESSAGE_REFERENCE,
    TON_ALPHANUMERIC,
    TON_INTERNATIONAL,
    ShortMessage,
)
from .reassembly import Assembled, Reassembler, fragment_key, split_concat
from .session import DeliverAnswer, SmppSession, SubmitOutcome

log = logging.getLogger(__name__)

# A campaign sends one text to thousands: its parts are encoded once per concatenation
# reference (256 of them), not once per recipient.
_encode = functools.lru_cache(maxsize=512)(codec.encode_message)

# esm_class message type bits 2–5 (SMPP 3.4 §5.2.12): 0x04 SMSC delivery receipt,
# 0x08 SME delivery ack, 0x10 manual/user ack, 0x20 intermediate delivery notification.
_RECEIPT_TYPES = frozenset({0x04, 0x08, 0x10, 0x20})
_MAX_TRACKED = 200_000  # sent message ids remembered for receipt aggregation
_MAX_PARTIAL = 10_000  # half-sent multipart messages remembered for their retry
MAX_MESSAGE_ID = 65  # octets of an SMPP message_id (SMPP 3.4 §5.2.23)
SEEN_RETENTION = timedelta(days=7)
# Receipts waiting at once for a submit_sm_resp still unread on another bind: half a
# session's 64 deliver slots, so waiting receipts never stop a bind's reader (which may
# be the one that has to read that very submit_sm_resp). Beyond it a receipt is
# reported under its part's own id, as after a restart.
_MAX_WAITING_RECEIPTS = 32


_Origin = tuple[int, int] | None
"""The link an MO came on: (bind index, that session's bind count when it came), so a
rebind of the same session is another link; None: handed over by the sweep."""


@dataclass(slots=True)
class _Sent:
    expected: int  # parts of the message; ids are added as each part is accepted
    part_ids: list[str] = field(default_factory=list)
    states: dict[str, DeliveryState] = field(default_factory=dict)
    emitted: DeliveryState | None = None


@dataclass
class _Partial:
    """A multipart message some of whose parts the SMSC accepted before a failure: the
    outbox retries it (same `Outbound.ref`), and only the missing parts go again, with
    the same concatenation reference, so the phone still joins them into one text."""

    text: str
    reference: int
    ids: list[str]
    sent: _Sent


class SmsChannel:
    """The SMS channel: SMPP 3.4 via `SmppSession`, `name = ChannelName.SMS`.

    `fragments` is a `FragmentStore` the caller manages, or a path (also accepted as
    `fragments_path=`): then the channel opens a `SqliteFragmentStore` there on `start`
    and closes it on `stop` (the app passes a file next to the main database).
    """

    name = ChannelName.SMS

    def __init__(
        self,
        settings: SmppSettings,
        fragments: FragmentStore | str | Path | None = None,
        *,
        fragments_path: str | Path | None = None,
        region: str = "RU",
        send_timeout: float = 60.0,
        start_wait: float = 5.0,
        reconnect_min_delay: float = 1.0,
        auth_retry_delay: float = 30.0,
        clock: Callable[[], datetime] | None = None,
        journal: SubmitJournal | None = None,
        share: Callable[[], float] = whole_share,
        limiter: SubmitGate | None = None,
    ) -> None:
        self.settings = settings
        # Each part's submit is recorded here before it goes on the wire (None: not
        # recorded; a crash may then re-send whole messages).
        self.journal = journal
        # The channel's time source: an MO's `received_at` (which decides the readings
        # period), reassembly and receipt times. Tests give a scripted clock.
        self.clock: Callable[[], datetime] = clock or codec.now_utc
        if fragments is None:
            if fragments_path is None:
                raise TypeError("SmsChannel needs a FragmentStore or fragments_path")
            fragments = fragments_path
        if isinstance(fragments, str | Path):
            self._store: FragmentStore = SqliteFragmentStore(fragments)
            self._owns_store = True
        else:
            self._store = fragments
            self._owns_store = False
        self.region = region
        self.send_timeout = send_timeout
        self.start_wait = start_wait
        # `[smpp] tps_total` over all binds; `share` is this instance's part of the grant.
        # A `limiter` given replaces it (one the cluster shares, docs/interfaces.md §13).
        self.limiter: SubmitGate = (
            limiter if limiter is not None else TotalRateLimiter(settings.tps_total, share)
        )
        gate = self.limiter.acquire if self.limiter.enabled else None
        self.sessions: list[SmppSession] = [
            SmppSession.from_settings(
                settings,
                on_deliver=functools.partial(self._on_deliver, number - 1),
                reconnect_min_delay=reconnect_min_delay,
                auth_retry_delay=auth_retry_delay,
                label=str(number) if settings.binds > 1 else "",
                gate=gate,
            )
            for number in range(1, settings.binds + 1)
        ]
        self._turn = 0  # round robin among binds equally busy
        # Submits under way (tickets), so that a receipt read on one bind before the
        # submit_sm_resp of its message was read on another waits for it (`_settled`).
        self._ticket = 0
        self._open: set[int] = set()
        self._submit_done = asyncio.Event()
        self._waiting_receipts = 0
        self.reassembler = Reassembler(self._store)
        self._on_inbound: OnInbound | None = None
        self._on_report: OnReport | None = None
        self._sent: collections.OrderedDict[str, _Sent] = collections.OrderedDict()
        # Messages being handed over whose deliver_sm_resp is not out yet, by digest key,
        # counted per link they came on (`_Origin`).
        self._inflight: dict[str, collections.Counter[_Origin]] = {}
        self._ref = random.randrange(256)  # noqa: S311 - a concatenation reference
        self._partial: collections.OrderedDict[str, _Partial] = collections.OrderedDict()
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def session(self) -> SmppSession:
        """The first bind (the only one with `[smpp] binds = 1`)."""
        return self.sessions[0]

    def bind_label(self, number: int) -> str:
        """`system_id@host:port#N`: the `bind` label of `gateway_smpp_window_in_use`."""
        s = self.settings
        return f"{s.system_id}@{s.host}:{s.port}#{number}"

    def bind_windows(self) -> dict[str, int]:
        """submit_sm outstanding on each bind, by `bind_label`."""
        return {
            self.bind_label(number): int(session.window_in_use)
            for number, session in enumerate(self.sessions, 1)
        }

    def bind_states(self) -> dict[str, str]:
        """Each bind's state for /healthz: "up", or why not (the session's last error)."""
        return {
            self.bind_label(number): "up" if session.is_up() else (session.last_error or "down")
            for number, session in enumerate(self.sessions, 1)
        }

    # --- Channel lifecycle ------------------------------------------------------------

    async def start(self, on_inbound: OnInbound, on_report: OnReport) -> None:
        """Connect and bind every session (waits up to `start_wait` s for the first
        bind; reconnects are each session's own business), and start sweeping stale
        partial messages."""
        self._on_inbound = on_inbound
        self._on_report = on_report
        if self._owns_store and isinstance(self._store, SqliteFragmentStore):
            await self._store.open()
        for session in self.sessions:
            await session.start()
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="sms-reassembly-sweeper")
        if not await self._wait_any_bound(self.start_wait):
            log.warning(
                "SMSC %s:%s not bound yet; the channel keeps trying in the background",
                self.settings.host,
                self.settings.port,
            )

    async def _wait_any_bound(self, within: float) -> bool:
        """Wait until at least one bind is up; False when none is within `within` s."""
        if any(session.is_up() for session in self.sessions):
            return True
        if within <= 0:
            return False
        waiters = [asyncio.ensure_future(s.wait_bound()) for s in self.sessions]
        try:
            await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        return any(session.is_up() for session in self.sessions)

    async def stop(self) -> None:
        """Unbind and close; stop the sweeper; close the store if the channel owns it."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await asyncio.gather(*(session.stop() for session in self.sessions))
        if self._owns_store and isinstance(self._store, SqliteFragmentStore):
            await self._store.close()

    def is_up(self) -> bool:
        """At least one bind is up."""
        return any(session.is_up() for session in self.sessions)

    async def __aenter__(self) -> SmsChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- sending ---------------------------------------------------------------------------

    def _addresses(self, outbound: Outbound) -> tuple[str, int, int, str] | None:
        digits = "".join(ch for ch in outbound.address if ch.isdigit())
        if not digits:
            return None
        source = outbound.source or self.settings.source_addr
        if not source.lstrip("+").isdigit():
            return digits, TON_ALPHANUMERIC, 0, source  # alphanumeric sender id
        if source.startswith("+") or len(source.lstrip("+")) >= 10:
            return digits, TON_INTERNATIONAL, NPI_ISDN, source.lstrip("+")
        return digits, 0, NPI_ISDN, source  # short code: TON unknown is accepted widely

    async def send(self, outbound: Outbound) -> SendResult:
        """Send one message (split into parts when long). Never raises for a network
        failure: the outcome is a `SendResult` whose error says whether to retry."""
        try:
            return await self._send(outbound)
        except Exception as exc:  # a bug here must not kill the outbox sender
            log.exception("SMS send to %s failed unexpectedly", mask_phone(outbound.address))
            return SendResult.failed(SendErrorKind.TEMPORARY, exc.__class__.__name__)

    async def _send(self, outbound: Outbound) -> SendResult:
        now = self.clock()
        if outbound.valid_until is not None and outbound.valid_until <= now:
            return SendResult.failed(SendErrorKind.EXPIRED, "validity period passed")
        addresses = self._addresses(outbound)
        if addresses is None:
            return SendResult.failed(SendErrorKind.INVALID_ADDRESS, "no digits in address")
        destination, source_ton, source_npi, source = addresses
        partial = self._partial.pop(outbound.ref, None) if outbound.ref else None
        if partial is not None and partial.text != outbound.text:
            partial = None
        accepted: dict[int, str] = {}
        if partial is None and outbound.resume is not None:
            # After a restart: the journal's record replaces what memory lost.
            accepted = dict(outbound.resume.accepted)
            partial = _Partial(outbound.text, outbound.resume.reference, [], _Sent(0))
        elif partial is not None:
            accepted = dict(enumerate(partial.ids, 1))
        if partial is None:
            self._ref = (self._ref + 1) & 0xFF
        reference = partial.reference if partial is not None else self._ref
        try:
            encoded = _encode(outbound.text, reference)
        except codec.MessageTooLong as exc:
            return SendResult.failed(SendErrorKind.REJECTED, f"message too long: {exc}")
        within = self.send_timeout
        if outbound.valid_until is not None:
            within = min(within, (outbound.valid_until - now).total_seconds())
        validity = codec.absolute_time(outbound.valid_until) if outbound.valid_until else ""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        total = len(encoded.parts)
        # Registered before the first submit: a receipt for part 1 may arrive while
        # part 2 is still being submitted.
        sent = partial.sent if partial is not None else _Sent(expected=total)
        if sent.expected != total:  # resumed from the journal: tracked from here on
            sent.expected = total
            for index in sorted(accepted):
                self._track(sent, accepted[index])
        ids: dict[int, str] = {}
        for index, octets in enumerate(encoded.parts, 1):
            if index in accepted:
                ids[index] = accepted[index]
                continue  # accepted on an earlier try
            sm = ShortMessage(
                source=source,
                source_ton=source_ton,
                source_npi=source_npi,
                destination=destination,
                dest_ton=TON_INTERNATIONAL,
                dest_npi=NPI_ISDN,
                esm_class=encoded.esm_class,
                data_coding=encoded.data_coding,
                short_message=octets,
                registered_delivery=1 if self.settings.request_receipts else 0,
                validity_period=validity,
            )
            before_wire = None
            if self.journal is not None and outbound.ref:
                before_wire = functools.partial(
                    self.journal.submitting, outbound.ref, index, total, reference
                )
            ticket = self._begin_submit()
            try:
                outcome = await self._submit_part(sm, deadline, before_wire)
                if self.journal is not None and outbound.ref:
                    self.journal.submitted(
                        outbound.ref, index, outcome.message_id if outcome.ok else None,
                        outcome.unanswered,
                    )
                if outcome.ok:
                    self._track(sent, outcome.message_id or "")
            finally:
                self._end_submit(ticket)
            if not outcome.ok:
                assert outcome.kind is not None  # noqa: S101 - not ok means a kind
                where = f"part {index}/{total}: " if total > 1 else ""
                log.warning(
                    "SMS to %s not sent: %s%s",
                    mask_phone(outbound.address),
                    where,
                    outcome.detail or outcome.kind.value,
                )
                if ids and outbound.ref and len(ids) == index - 1:
                    self._remember_partial(
                        outbound.ref,
                        _Partial(outbound.text, reference, [ids[i] for i in sorted(ids)], sent),
                    )
                return SendResult.failed(outcome.kind, where + (outcome.detail or ""))
            ids[index] = outcome.message_id or ""
        return SendResult(message_ids=tuple(ids[i] for i in sorted(ids)), parts=total)

    def _pick(self) -> SmppSession | None:
        """The bind that is up with the fewest submits outstanding, equal ones in turn;
        None when no bind is up."""
        up = [session for session in self.sessions if session.is_up()]
        if not up:
            return None
        start = self._turn % len(up)
        self._turn += 1
        return min(up[start:] + up[:start], key=lambda session: session.window_in_use)

    async def _submit_part(
        self,
        sm: ShortMessage,
        deadline: float,
        before_wire: Callable[[], Awaitable[None]] | None,
    ) -> SubmitOutcome:
        """Submit one part on a bind that is up before the loop time `deadline`; when
        that bind drops under it, on another (one bind: it waits for its rebind)."""
        loop = asyncio.get_running_loop()
        if len(self.sessions) == 1:
            return await self.sessions[0].submit(
                sm, within=max(0.0, deadline - loop.time()), before_wire=before_wire
            )
        hook_ran = False

        async def hook() -> None:
            nonlocal hook_ran
            hook_ran = True
            if before_wire is not None:
                await before_wire()

        unanswered = 0
        while True:
            remaining = deadline - loop.time()
            session = self._pick()
            if session is None and remaining > 0 and await self._wait_any_bound(remaining):
                session = self._pick()
            if session is None:
                return SubmitOutcome(
                    None, kind=SendErrorKind.CONNECTION, detail="SMSC not bound",
                    unanswered=unanswered,
                )
            outcome = await session.submit(
                sm,
                within=max(0.0, deadline - loop.time()),
                before_wire=None if hook_ran else hook,
                leave_on_drop=True,
            )
            unanswered += outcome.unanswered
            if not outcome.left or deadline - loop.time() <= 0:
                return dataclasses.replace(outcome, unanswered=unanswered, left=False)
            log.info("SMPP bind %s dropped a submit; sending it on another bind", session.label)
            await asyncio.sleep(0)  # a bind that flips up and down gets no busy loop

    def _begin_submit(self) -> int:
        self._ticket += 1
        self._open.add(self._ticket)
        return self._ticket

    def _end_submit(self, ticket: int) -> None:
        self._open.discard(ticket)
        done, self._submit_done = self._submit_done, asyncio.Event()
        done.set()

    async def _settled(self, message_id: str) -> tuple[str, _Sent | None]:
        """`_lookup`, after waiting (at most `response_timeout`) for the submits that
        were under way when the receipt came: with several binds its submit_sm_resp may
        still be unread on another bind, or read but not yet tracked."""
        part_id, sent = self._lookup(message_id)
        if sent is not None or not self._open or len(self.sessions) == 1:
            return part_id, sent  # one bind: the resp was read (and tracked) first
        if self._waiting_receipts >= _MAX_WAITING_RECEIPTS:
            return part_id, sent  # reported under the part's own id (module docstring)
        horizon = self._ticket
        loop = asyncio.get_running_loop()
        end = loop.time() + self.settings.response_timeout
        self._waiting_receipts += 1
        try:
            while any(ticket <= horizon for ticket in self._open):
                remaining = end - loop.time()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._submit_done.wait(), remaining)
                part_id, sent = self._lookup(message_id)
                if sent is not None:
                    return part_id, sent
        finally:
            self._waiting_receipts -= 1
        return self._lookup(message_id)

    def _remember_partial(self, ref: str, partial: _Partial) -> None:
        self._partial[ref] = partial
        while len(self._partial) > _MAX_PARTIAL:
            self._partial.popitem(last=False)

    def _track(self, sent: _Sent, part_id: str) -> None:
        sent.part_ids.append(part_id)
        self._sent[part_id] = sent
        while len(self._sent) > _MAX_TRACKED:
            self._sent.popitem(last=False)

    # --- inbound -------------------------------------------------------------------------

    async def _on_deliver(self, bind: int, sm: ShortMessage) -> DeliverAnswer:
        if self._is_receipt(sm):
            await self._handle_receipt(sm)
            return 0
        return await self._handle_mo(sm, (bind, self.sessions[bind].stats.binds))

    @staticmethod
    def _is_receipt(sm: ShortMessage) -> bool:
        if (sm.esm_class & 0x3C) in _RECEIPT_TYPES:
            return True
        # Liberal: some SMSCs leave esm_class 0 on receipts but send the TLVs.
        return TLV_RECEIPTED_MESSAGE_ID in sm.tlvs and TLV_MESSAGE_STATE in sm.tlvs

    def _address(self, sm: ShortMessage) -> str:
        raw = sm.source.strip()
        digits = raw.lstrip("+")
        if digits.isdigit():
            candidate = "+" + digits if (raw.startswith("+") or sm.source_ton == 1) else digits
            phone = normalize_phone(candidate, self.region) or normalize_phone(raw, self.region)
            if phone:
                return phone
            return "+" + digits if sm.source_ton == 1 else digits
        return raw  # alphanumeric sender: keep as given

    async def _handle_mo(self, sm: ShortMessage, origin: _Origin) -> DeliverAnswer:
        concat, data = split_concat(sm)
        now = self.clock()
        address = self._address(sm)
        if concat is None:
            text = codec.decode_text(sm.data_coding, data)
            hasher = hashlib.sha256(
                f"sm|{address}|{sm.destination}|{sm.data_coding}|".encode() + data
            )
            smsc_id = sm.tlv_str(TLV_RECEIPTED_MESSAGE_ID) or ""
            reference = sm.tlv_int(TLV_USER_MESSAGE_REFERENCE)
            hasher.update(f"|{smsc_id}|{reference}".encode())
            return await self._hand_over(
                hasher.hexdigest()[:32],
                address=address,
                destination=sm.destination,
                text=text,
                received_at=now,
                meta={},
                assembled=None,
                origin=origin,
            )
        fragment = Fragment(
            key=fragment_key(address, sm.destination, concat),
            ref=concat.ref,
            total=concat.total,
            seq=concat.seq,
            data=data,
            data_coding=sm.data_coding,
            source=address,
            destination=sm.destination,
            received_at=now,
        )
        if await self.reassembler.seen(fragment):
            log.info("redelivered part of a handled SMS from %s dropped", mask_phone(address))
            return 0
        assembled = await self.reassembler.add(fragment)  # committed before we answer
        if assembled is None:
            return 0
        return await self._hand_over_assembled(assembled, origin)

    async def _hand_over_assembled(
        self, message: Assembled, origin: _Origin = None
    ) -> DeliverAnswer:
        meta = {"parts": str(message.total)}
        if not message.complete:
            meta["partial"] = f"{message.parts_received}/{message.total}"
        try:
            return await self._hand_over(
                message.digest,
                address=message.source,
                destination=message.destination,
                text=message.text,
                received_at=message.received_at,
                meta=meta,
                assembled=message,
                origin=origin,
            )
        except BaseException:
            self.reassembler.release(message.key)
            raise

    async def _hand_over(
        self,
        digest: str,
        *,
        address: str,
        destination: str,
        text: str,
        received_at: datetime,
        meta: dict[str, str],
        assembled: Assembled | None,
        origin: _Origin,
    ) -> DeliverAnswer:
        """Journal the message through `on_inbound`; return status 0 and what to do once
        the deliver_sm_resp is out (count the digest as acknowledged).

        The same digest still in hand on a link that is up is another message (the
        customer sent the text again); on a link gone since, it is this one redelivered
        (on another bind at once, or after the rebind): same N, so the journal drops it.
        A long SMS (`assembled`) counts no N: its digest is the message itself."""
        assert self._on_inbound is not None  # noqa: S101 - start() sets it
        seen_key = "mo:" + digest
        if assembled is not None:
            # A long SMS is known by its concatenation reference and parts (a phone
            # gives a repeat a new reference, and a part of a handled message is dropped
            # on arrival), so no occurrence is counted: two instances that both found the
            # last part stored hand over one external id, even when one of them looks
            # after the other has acknowledged it, and the journal keeps one.
            handled = 0
        else:
            handled = await self._store.seen_count(seen_key) + self._live_inflight(seen_key)
        self._inflight.setdefault(seen_key, collections.Counter())[origin] += 1
        inbound = Inbound(
            channel=ChannelName.SMS,
            address=address,
            text=text,
            external_id=f"{digest}.{handled}",
            received_at=received_at,
            to=destination or None,
            meta=meta,
        )
        try:
            new = await self._on_inbound(inbound)
        except BaseException:
            self._done_inflight(seen_key, origin)
            raise
        log.info(
            "SMS from %s to %s stored (%s%s)",
            mask_phone(address),
            destination,
            "new" if new else "duplicate",
            f", {meta['parts']} parts" if "parts" in meta else "",
        )

        async def after(written: bool) -> None:
            try:
                if written and assembled is None:
                    await self._store.note_seen([seen_key], self.clock())
                elif written and assembled is not None:
                    # A long SMS: its parts are noted; its digest needs no count.
                    await self.reassembler.finish(assembled, self.clock())
                elif assembled is not None:
                    self.reassembler.release(assembled.key)
            finally:
                self._done_inflight(seen_key, origin)

        return 0, after

    def _live_inflight(self, key: str) -> int:
        """How many messages with this digest are in hand on links still up."""
        return sum(
            count
            for origin, count in self._inflight.get(key, {}).items()
            if origin is None
            or (
                self.sessions[origin[0]].is_up()
                and self.sessions[origin[0]].stats.binds == origin[1]
            )
        )

    def _done_inflight(self, key: str, origin: _Origin) -> None:
        counter = self._inflight.get(key)
        if counter is None:
            return
        counter[origin] -= 1
        if counter[origin] <= 0:
            del counter[origin]
        if not counter:
            del self._inflight[key]

    # --- partial messages after the timeout ---------------------------------------------

    async def _sweep_loop(self) -> None:
        timeout = self.settings.reassembly_timeout
        interval = max(0.05, min(timeout / 4, 30.0))
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("reassembly sweep failed; will retry")
            await asyncio.sleep(interval)

    async def sweep(self) -> int:
        """Hand over messages still incomplete after `reassembly_timeout` with the parts
        that arrived (their parts were acknowledged already). Returns how many."""
        if self._on_inbound is None:
            return 0
        now = self.clock()
        handled = 0
        cutoff = now - timedelta(seconds=self.settings.reassembly_timeout)
        for message in await self.reassembler.expired(cutoff):
            log.warning(
                "SMS from %s incomplete after %.0f s (%d of %d parts); handling what arrived",
                mask_phone(message.source),
                self.settings.reassembly_timeout,
                message.parts_received,
                message.total,
            )
            try:
                answer = await self._hand_over_assembled(message)
            except Exception:
                log.exception("handing over a partial SMS failed; will retry")
                continue
            if isinstance(answer, tuple):
                await answer[1](True)  # nothing to acknowledge: the parts were
            handled += 1
        await self._store.forget_seen(now - SEEN_RETENTION)
        return handled

    # --- receipts ------------------------------------------------------------------------

    def _lookup(self, message_id: str) -> tuple[str, _Sent | None]:
        sent = self._sent.get(message_id)
        if sent is not None:
            return message_id, sent
        # SMSCs disagree on the id's notation between submit_sm_resp and the receipt
        # (hex in one, decimal in the other, case, zero padding to a fixed width): try
        # the other notations.
        candidates = [message_id.upper(), message_id.lower()]
        with contextlib.suppress(ValueError):
            candidates += [f"{int(message_id):X}", f"{int(message_id):x}"]
        with contextlib.suppress(ValueError):
            number = int(message_id, 16)
            candidates += [str(number), f"{number:X}", f"{number:x}"]
        for candidate in candidates:
            sent = self._sent.get(candidate)
            if sent is not None:
                return candidate, sent
        return message_id, None

    async def _handle_receipt(self, sm: ShortMessage) -> None:
        assert self._on_report is not None  # noqa: S101 - start() sets it
        text = codec.decode_text(sm.data_coding, sm.payload())
        parsed = codec.parse_receipt_text(text)
        message_id = sm.tlv_str(TLV_RECEIPTED_MESSAGE_ID) or (parsed.id if parsed else None)
        state_code = sm.tlv_int(TLV_MESSAGE_STATE)
        word = codec.MESSAGE_STATE_WORDS.get(state_code) if state_code is not None else None
        word = word or (parsed.stat if parsed else None)
        state = codec.receipt_state(word)
        if not message_id or state is None:
            log.warning(
                "delivery receipt ignored: id %r, unknown state %r", message_id, word or text[:40]
            )
            return
        message_id = message_id.strip()
        if len(message_id) > MAX_MESSAGE_ID:
            # SMPP 3.4 §5.2.23: 65 octets at most. Nothing of ours has such an id.
            log.warning(
                "delivery receipt ignored: message id of %d characters (at most %d)",
                len(message_id),
                MAX_MESSAGE_ID,
            )
            return
        part_id, sent = await self._settled(message_id)
        extra: dict[str, str] = {"stat": word or ""}
        if parsed is not None and parsed.err:
            extra["err"] = parsed.err
        network_error = sm.tlvs.get(TLV_NETWORK_ERROR_CODE)
        if network_error:
            extra["network_error"] = network_error.hex()
        report_id = part_id
        if sent is not None:
            sent.states[part_id] = state
            if sent.expected > 1:
                missing = sent.expected - len(sent.states)
                states = [*sent.states.values()] + [DeliveryState.PENDING] * missing
                state = codec.worst_state(states)
                extra.update(
                    part_id=part_id,
                    parts=str(sent.expected),
                    reported=str(len(sent.states)),
                )
                if state == sent.emitted:
                    return
            report_id = sent.part_ids[0]
            sent.emitted = state
            if len(sent.states) == sent.expected and state != DeliveryState.PENDING:
                for pid in sent.part_ids:
                    self._sent.pop(pid, None)
        await self._on_report(
            DeliveryReport(
                channel=ChannelName.SMS,
                message_id=report_id,
                state=state,
                at=self.clock(),
                detail=word or "",
                extra=extra,
            )
        )
