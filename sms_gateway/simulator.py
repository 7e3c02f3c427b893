"""`SmscSimulator`: a development SMSC (docs/interfaces.md §6) on the same codec as the session.

It speaks the server side of SMPP 3.4 well enough for development and loopback tests:
bind with system_id/password, submit_sm answered with message ids, delivery receipts
(deliver_sm with esm_class 0x04, receipted_message_id and message_state TLVs and the
appendix-B text), mobile-originated messages (single and multipart; GSM, UCS2 or
Latin-1; UDH with 8- or 16-bit references, SAR TLVs, or message_payload), and knobs for
what real SMSCs do to us: throttling (at most N submit_sm per wall-clock second, the
rest answered ESME_RTHROTTLED; or, deterministic for tests, every submit_sm after the
next N), dropping the connection (now, one bind, or at the N-th submit with it
unanswered), not answering enquire_link, redelivering unacknowledged MOs.

Several binds with the same credentials are accepted (docs/interfaces.md §13: every
instance binds `[smpp] binds` sessions). With `spread="round_robin"` (the default) MO
parts and delivery receipts go to the bound receivers in turn, so the parts of one long
MO and the receipt of a submit arrive on different binds; `spread="first"` sends them
all to the first bound receiver (receipts: on the bind that submitted).

Every accepted submit_sm is recorded; `messages_to(phone)` gives the reassembled texts.
With `keep_messages=False` (load tests) it only counts them (`accepted`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Literal

from . import codec
from .pdu import (
    BIND_RECEIVER,
    BIND_RECEIVER_RESP,
    BIND_TRANSCEIVER,
    BIND_TRANSCEIVER_RESP,
    BIND_TRANSMITTER,
    BIND_TRANSMITTER_RESP,
    DELIVER_SM,
    ENQUIRE_LINK,
    ENQUIRE_LINK_RESP,
    GENERIC_NACK,
    NPI_ISDN,
    RESPONSE_BIT,
    SUBMIT_SM,
    SUBMIT_SM_RESP,
    TLV_MESSAGE_PAYLOAD,
    TLV_MESSAGE_STATE,
    TLV_RECEIPTED_MESSAGE_ID,
    TLV_SAR_MSG_REF_NUM,
    TLV_SAR_SEGMENT_SEQNUM,
    TLV_SAR_TOTAL_SEGMENTS,
    TON_INTERNATIONAL,
    UNBIND,
    UNBIND_RESP,
    FrameError,
    Framer,
    SequenceCounter,
    ShortMessage,
    bind_resp,
    encode_sm,
    header_only,
    message_id_resp,
    parse_bind,
    parse_sm,
)

log = logging.getLogger(__name__)

Coding = Literal["auto", "gsm", "ucs2", "latin1"]
Split = Literal["udh", "udh16", "sar", "payload"]
Spread = Literal["round_robin", "first"]

_BIND_RESP = {
    BIND_TRANSCEIVER: BIND_TRANSCEIVER_RESP,
    BIND_TRANSMITTER: BIND_TRANSMITTER_RESP,
    BIND_RECEIVER: BIND_RECEIVER_RESP,
}


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


@dataclass(frozen=True, slots=True)
class SubmittedPart:
    """One accepted submit_sm, as the simulator recorded it."""

    message_id: str
    sm: ShortMessage
    received_at: datetime
    bind: int = 0  # the bind it came on (numbered 1, 2, … in bind order)

    @property
    def destination(self) -> str:
        return _digits(self.sm.destination)


@dataclass(slots=True)
class _PendingMo:
    sm: ShortMessage
    result: asyncio.Future[int]


@dataclass(eq=False)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    bound: bool = False
    receives: bool = False  # transceiver or receiver: MO and receipts go here
    number: int = 0  # 1, 2, … in the order of successful binds
    pending: dict[int, _PendingMo | asyncio.Future[int]] = field(default_factory=dict)

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)


class SmscSimulator:
    """A development SMSC on `host:port` (port 0: an ephemeral port, see `.port`).

    Lifecycle: `async with SmscSimulator(...) as smsc:` or `start()` / `stop()`.
    Knobs are plain attributes and may change while it runs: `max_tps`,
    `mute_enquire_link`, `drop_after_submits`, `throttle_after_submits`, `receipts`,
    `receipt_stat`, `receipt_stats` (per destination digits), `receipt_tlvs`,
    `receipt_text`, `redeliver_unacked`, `redeliver_at_once`, `submit_status`, `spread`.

    `submits_by_bind` and `delivers_by_bind` count submit_sm and deliver_sm per bind
    number (see `SubmittedPart.bind`).

    `accepted` counts accepted submit_sm; `submitted` keeps them too unless
    `keep_messages` is False (a load test's peer must not grow with every message).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        system_id: str = "gateway",
        password: str = "",
        max_tps: float | None = None,
        receipts: bool = True,
        receipt_stat: str = "DELIVRD",
        default_to: str = "7555",
        response_timeout: float = 10.0,
        keep_messages: bool = True,
        spread: Spread = "round_robin",
    ) -> None:
        self.host = host
        self._port = port
        self.system_id = system_id
        self._password = password
        self.max_tps = max_tps
        self.receipts = receipts
        self.receipt_stat = receipt_stat
        self.receipt_stats: dict[str, str] = {}
        self.receipt_tlvs = True
        self.receipt_text = True
        self.mute_enquire_link = False
        self.drop_after_submits: int | None = None
        # Accept this many more submit_sm, then answer ESME_RTHROTTLED to every one until
        # set back to None: throttling by count, not by the wall clock's second.
        self.throttle_after_submits: int | None = None
        self.spread: Spread = spread
        # Refuse every bind (ESME_RBINDFAIL) while true: a dropped bind stays down.
        self.refuse_binds = False
        # Seconds before a submit_sm_resp goes out; its receipt (on any bind) does not
        # wait, so it arrives first, as it may from an SMSC with several binds.
        self.resp_delay = 0.0
        # The bind each receipt went on, by message id (kept with `keep_messages`).
        self.receipt_binds: dict[str, int] = {}
        self.redeliver_unacked = True
        # With `redeliver_unacked`: MOs and receipts unacknowledged on a bind that drops
        # go at once to another bind still up (else they wait for the next bind).
        self.redeliver_at_once = False
        self.submit_status: int | None = None  # answer every submit_sm with this error
        self.default_to = default_to
        self.response_timeout = response_timeout
        self.keep_messages = keep_messages
        self.submitted: list[SubmittedPart] = []
        self.accepted = 0
        self.bind_attempts = 0
        self.binds = 0
        self.throttled = 0
        self.generic_nacks_received = 0
        self.enquire_links = 0
        self.submits_by_bind: collections.Counter[int] = collections.Counter()
        self.delivers_by_bind: collections.Counter[int] = collections.Counter()
        self._turn = 0
        self._server: asyncio.Server | None = None
        self._conns: set[_Conn] = set()
        self._sequence = SequenceCounter()
        self._next_id = random.randrange(0x10000000, 0x7FFFFFFF)  # noqa: S311
        self._mo_ref = random.randrange(0, 0x10000)  # noqa: S311
        self._window_second = -1
        self._window_count = 0
        self._redeliver: list[_PendingMo] = []
        self._changed = asyncio.Event()  # replaced on every change; waiters re-check

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port it listens on (the ephemeral one when constructed with 0)."""
        if self._server is not None and self._server.sockets:
            port: int = self._server.sockets[0].getsockname()[1]
            return port
        return self._port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self._port)
        log.info("SMSC simulator listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self._conns):
            conn.writer.transport.abort()
        if server is not None:
            await server.wait_closed()
        for pending in self._redeliver:
            if not pending.result.done():
                pending.result.set_exception(ConnectionError("simulator stopped"))
        self._redeliver.clear()

    async def __aenter__(self) -> SmscSimulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- knobs --------------------------------------------------------------------------

    async def drop_connections(self) -> None:
        """Abort every ESME connection now (like a network cut)."""
        for conn in list(self._conns):
            conn.writer.transport.abort()
        await asyncio.sleep(0)

    async def drop_bind(self, number: int | None = None) -> int:
        """Abort one bound ESME connection (bind `number`, default the oldest) while the
        others stay; returns its number."""
        bound = sorted((c for c in self._conns if c.bound), key=lambda c: c.number)
        chosen = [c for c in bound if number is None or c.number == number]
        if not chosen:
            raise ConnectionError(f"no bind {number if number is not None else ''} bound")
        chosen[0].writer.transport.abort()
        await asyncio.sleep(0)
        return chosen[0].number

    def unacked_binds(self) -> list[int]:
        """Numbers of the binds with a deliver_sm still waiting for its response."""
        return sorted(
            c.number
            for c in self._conns
            if c.bound and any(isinstance(item, _PendingMo) for item in c.pending.values())
        )

    def bound_numbers(self) -> list[int]:
        """Numbers of the binds up now, in bind order."""
        return sorted(c.number for c in self._conns if c.bound)

    def bound_count(self) -> int:
        """ESME connections currently bound."""
        return sum(1 for conn in self._conns if conn.bound)

    # --- server side ----------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(reader, writer)
        self._conns.add(conn)
        framer = Framer()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                try:
                    frames = framer.feed(data)
                except FrameError as exc:
                    conn.write(header_only(GENERIC_NACK, codec.ESME_RINVCMDLEN, exc.sequence))
                    break
                for command_id, status, sequence, pdu in frames:
                    self._dispatch(conn, command_id, status, sequence, pdu)
        except (ConnectionError, OSError):
            pass
        finally:
            self._conns.discard(conn)
            self._lost(conn)
            writer.transport.abort()
            self._notify()

    def _lost(self, conn: _Conn) -> None:
        for item in conn.pending.values():
            if isinstance(item, _PendingMo):
                if self.redeliver_unacked and self._server is not None:
                    self._redeliver.append(item)
                elif not item.result.done():
                    item.result.set_exception(ConnectionError("ESME connection lost"))
            elif not item.done():
                item.set_exception(ConnectionError("ESME connection lost"))
        conn.pending.clear()
        if self._redeliver and self.redeliver_at_once:
            receivers = [c for c in self._conns if c.bound and c.receives and c is not conn]
            if receivers:
                queued, self._redeliver = self._redeliver, []
                for item in queued:
                    self._send_deliver(self._receiver(), item)

    def _dispatch(
        self, conn: _Conn, command_id: int, status: int, sequence: int, pdu: bytes
    ) -> None:
        if command_id in _BIND_RESP:
            self._bind(conn, command_id, sequence, pdu)
            return
        if command_id & RESPONSE_BIT:
            if command_id == GENERIC_NACK:
                self.generic_nacks_received += 1
            item = conn.pending.pop(sequence, None)
            if isinstance(item, _PendingMo):
                if not item.result.done():
                    item.result.set_result(status)
            elif item is not None and not item.done():
                item.set_result(status)
            return
        if not conn.bound:
            conn.write(header_only(GENERIC_NACK, codec.ESME_RINVBNDSTS, sequence))
            return
        if command_id == SUBMIT_SM:
            self._submit(conn, sequence, pdu)
        elif command_id == ENQUIRE_LINK:
            self.enquire_links += 1
            if not self.mute_enquire_link:
                conn.write(header_only(ENQUIRE_LINK_RESP, 0, sequence))
        elif command_id == UNBIND:
            conn.write(header_only(UNBIND_RESP, 0, sequence))
            conn.bound = False
            conn.writer.close()
        else:
            conn.write(header_only(GENERIC_NACK, codec.ESME_RINVCMDID, sequence))

    def _bind(self, conn: _Conn, command_id: int, sequence: int, pdu: bytes) -> None:
        self.bind_attempts += 1
        resp = _BIND_RESP[command_id]
        try:
            request = parse_bind(pdu)
        except Exception:  # smpplib raises assorted errors on garbage
            conn.write(header_only(GENERIC_NACK, codec.ESME_RINVCMDLEN, sequence))
            return
        if request.system_id != self.system_id:
            conn.write(bind_resp(resp, codec.ESME_RINVSYSID, sequence, ""))
            return
        # SMPP 3.4 §4.1.1: password is at most 8 octets (9 with the NUL).
        if request.password != self._password[:8]:
            conn.write(bind_resp(resp, codec.ESME_RINVPASWD, sequence, ""))
            return
        if self.refuse_binds:
            conn.write(bind_resp(resp, codec.ESME_RBINDFAIL, sequence, ""))
            return
        conn.bound = True
        conn.receives = command_id != BIND_TRANSMITTER
        self.binds += 1
        conn.number = self.binds
        conn.write(bind_resp(resp, 0, sequence, "simsmsc"))
        if conn.receives and self._redeliver:
            queued, self._redeliver = self._redeliver, []
            for item in queued:
                self._send_deliver(conn, item)

    def _throttle(self) -> bool:
        if self.throttle_after_submits is not None:
            if self.throttle_after_submits <= 0:
                return True
            self.throttle_after_submits -= 1
        if self.max_tps is None:
            return False
        second = int(asyncio.get_running_loop().time())
        if second != self._window_second:
            self._window_second, self._window_count = second, 0
        if self._window_count >= self.max_tps:
            return True
        self._window_count += 1
        return False

    def _submit(self, conn: _Conn, sequence: int, pdu: bytes) -> None:
        if self.drop_after_submits is not None:
            self.drop_after_submits -= 1
            if self.drop_after_submits <= 0:
                # Unanswered, and the link cut: the ESME must re-send it.
                self.drop_after_submits = None
                conn.writer.transport.abort()
                return
        if self.submit_status:
            conn.write(header_only(SUBMIT_SM_RESP, self.submit_status, sequence))
            return
        if self._throttle():
            self.throttled += 1
            conn.write(header_only(SUBMIT_SM_RESP, codec.ESME_RTHROTTLED, sequence))
            return
        sm = parse_sm(pdu[16:])
        self._next_id += 1
        message_id = f"{self._next_id:X}"
        self.accepted += 1
        self.submits_by_bind[conn.number] += 1
        if self.keep_messages:
            self.submitted.append(SubmittedPart(message_id, sm, codec.now_utc(), conn.number))
        resp = message_id_resp(SUBMIT_SM_RESP, 0, sequence, message_id)
        if self.resp_delay > 0:
            asyncio.get_running_loop().call_later(self.resp_delay, conn.write, resp)
        else:
            conn.write(resp)
        if self.receipts and sm.registered_delivery & 0x01:
            target: _Conn | None = conn if conn.receives else None
            if self.spread == "round_robin":
                with contextlib.suppress(ConnectionError):
                    target = self._receiver()
            if target is not None:
                self._send_receipt(target, message_id, sm)
        self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _send_receipt(self, conn: _Conn, message_id: str, sm: ShortMessage) -> None:
        if self.keep_messages:
            self.receipt_binds[message_id] = conn.number
        stat = self.receipt_stats.get(_digits(sm.destination), self.receipt_stat)
        now = codec.now_utc().strftime("%y%m%d%H%M")
        delivered = "001" if stat == "DELIVRD" else "000"
        err = "000" if stat == "DELIVRD" else "001"
        text = (
            f"id:{message_id} sub:001 dlvrd:{delivered} submit date:{now} done date:{now} "
            f"stat:{stat} err:{err} text:"
        )
        tlvs: dict[int, bytes] = {}
        if self.receipt_tlvs:
            state = {word: code for code, word in codec.MESSAGE_STATE_WORDS.items()}.get(stat)
            tlvs[TLV_RECEIPTED_MESSAGE_ID] = message_id.encode("latin-1") + b"\0"
            if state is not None:
                tlvs[TLV_MESSAGE_STATE] = bytes([state])
        receipt = ShortMessage(
            source=sm.destination,
            source_ton=sm.dest_ton,
            source_npi=sm.dest_npi,
            destination=sm.source,
            dest_ton=sm.source_ton,
            dest_npi=sm.source_npi,
            esm_class=0x04,  # SMSC delivery receipt (SMPP 3.4 §5.2.12)
            short_message=text.encode("ascii") if self.receipt_text else b"",
            tlvs=tlvs,
        )
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._send_deliver(conn, _PendingMo(receipt, future))

    def send_receipt(self, part: SubmittedPart, bind: int | None = None) -> None:
        """Send the delivery receipt of a recorded part now (with `receipts` off they
        are not sent at submit), on bind number `bind` (default: as `spread` says)."""
        if bind is None:
            conn = self._receiver()
        else:
            found = [c for c in self._conns if c.bound and c.receives and c.number == bind]
            if not found:
                raise ConnectionError(f"bind {bind} is not bound to receive")
            conn = found[0]
        self._send_receipt(conn, part.message_id, part.sm)

    def _send_deliver(self, conn: _Conn, item: _PendingMo) -> None:
        self.delivers_by_bind[conn.number] += 1
        sequence = self._sequence.next_sequence()
        conn.pending[sequence] = item
        conn.write(encode_sm(DELIVER_SM, sequence, item.sm))

    # --- mobile-originated messages ---------------------------------------------------------

    def _receiver(self) -> _Conn:
        """The bound receiver the next deliver_sm goes to: in turn (`spread`
        "round_robin") or always the first bound."""
        receivers = sorted(
            (conn for conn in self._conns if conn.bound and conn.receives),
            key=lambda conn: conn.number,
        )
        if not receivers:
            raise ConnectionError("no ESME bound to receive")
        if self.spread == "first":
            return receivers[0]
        self._turn += 1
        return receivers[self._turn % len(receivers)]

    async def deliver(self, sm: ShortMessage, wait: float | None = None) -> int:
        """Send one deliver_sm to the bound ESME; returns deliver_sm_resp's status.
        With `redeliver_unacked`, a connection lost before the response sends it again
        after the next bind."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        item = _PendingMo(sm, future)
        try:
            conn = self._receiver()
        except ConnectionError:
            if not self.redeliver_unacked:
                raise
            self._redeliver.append(item)
        else:
            self._send_deliver(conn, item)
        return await asyncio.wait_for(future, wait or self.response_timeout)

    async def send_raw(self, data: bytes) -> None:
        """Write raw octets to the bound ESME (malformed-PDU tests)."""
        conn = self._receiver()
        conn.write(data)
        await conn.writer.drain()

    def build_mo(
        self,
        phone: str,
        text: str,
        *,
        to: str | None = None,
        coding: Coding = "auto",
        split: Split = "udh",
        plus: bool = False,
        ton: int = TON_INTERNATIONAL,
    ) -> list[ShortMessage]:
        """The deliver_sm PDUs of one MO (parts in order), without sending them."""
        gsm = codec.gsm_encode(text) if coding in ("auto", "gsm") else None
        if coding == "gsm" and gsm is None:
            raise ValueError("text does not fit the GSM alphabet")
        if coding == "latin1":
            dc, whole, single = codec.DC_LATIN1, text.encode("latin-1"), 140
        elif gsm is not None:
            dc, whole, single = codec.DC_DEFAULT, gsm, codec.GSM_SINGLE
        else:
            dc, whole, single = codec.DC_UCS2, text.encode("utf-16-be"), 140
        base = ShortMessage(
            source=("+" if plus else "") + _digits(phone),
            source_ton=ton,
            source_npi=NPI_ISDN,
            destination=to or self.default_to,
            dest_ton=0,
            dest_npi=NPI_ISDN,
            data_coding=dc,
        )
        if split == "payload" or len(whole) <= single:
            sm = _copy(base)
            if split == "payload":
                sm.tlvs = {TLV_MESSAGE_PAYLOAD: whole}
            else:
                sm.short_message = whole
            return [sm]
        if dc == codec.DC_DEFAULT:
            chunks = codec.split_gsm(text, 152 if split == "udh16" else codec.GSM_PART)
        elif dc == codec.DC_UCS2:
            chunks = codec.split_ucs2(text, 66 if split == "udh16" else codec.UCS2_PART)
        else:
            chunks = [whole[i : i + 134] for i in range(0, len(whole), 134)]
        self._mo_ref = (self._mo_ref + 1) & 0xFFFF
        ref = self._mo_ref if split == "udh16" else self._mo_ref & 0xFF
        total = len(chunks)
        parts = []
        for seq, chunk in enumerate(chunks, 1):
            sm = _copy(base)
            if split == "sar":
                sm.short_message = chunk
                sm.tlvs = {
                    TLV_SAR_MSG_REF_NUM: ref.to_bytes(2, "big"),
                    TLV_SAR_TOTAL_SEGMENTS: bytes([total]),
                    TLV_SAR_SEGMENT_SEQNUM: bytes([seq]),
                }
            else:
                sm.esm_class = codec.ESM_UDHI
                sm.short_message = codec.build_udh(ref, total, seq, wide=split == "udh16") + chunk
            parts.append(sm)
        return parts

    async def inject_mo(
        self,
        phone: str,
        text: str,
        *,
        to: str | None = None,
        coding: Coding = "auto",
        split: Split = "udh",
        order: Sequence[int] | None = None,
        plus: bool = False,
        ton: int = TON_INTERNATIONAL,
        wait: float | None = None,
    ) -> list[int]:
        """Send an MO (split when long) and return each part's deliver_sm_resp status.
        `order` sends the parts in that order (0-based indexes; a subset leaves the
        message incomplete). Parts go out concurrently, as a real SMSC may send them."""
        parts = self.build_mo(phone, text, to=to, coding=coding, split=split, plus=plus, ton=ton)
        chosen = [parts[i] for i in order] if order is not None else parts
        return list(await asyncio.gather(*(self.deliver(sm, wait) for sm in chosen)))

    # --- recorded MT messages -------------------------------------------------------------

    def messages_to(self, phone: str) -> list[str]:
        """Texts of the complete MT messages submitted to `phone`, reassembled, in the
        order their last part arrived."""
        target = _digits(phone)
        done: list[str] = []
        groups: dict[tuple[int, int], dict[int, bytes]] = {}
        coding: dict[tuple[int, int], int] = {}
        for part in self.submitted:
            if part.destination != target:
                continue
            sm = part.sm
            data = sm.payload()
            concat = None
            if sm.esm_class & codec.ESM_UDHI:
                concat, data = codec.parse_udh(data)
            sar_ref = sm.tlv_int(TLV_SAR_MSG_REF_NUM)
            if concat is None and sar_ref is not None:
                total = sm.tlv_int(TLV_SAR_TOTAL_SEGMENTS) or 1
                seq = sm.tlv_int(TLV_SAR_SEGMENT_SEQNUM) or 1
                concat = codec.Concat(sar_ref, total, seq)
            if concat is None or concat.total <= 1:
                done.append(codec.decode_text(sm.data_coding, data))
                continue
            key = (concat.ref, concat.total)
            group = groups.setdefault(key, {})
            group[concat.seq] = data
            coding[key] = sm.data_coding
            if len(group) == concat.total:
                whole = b"".join(group[i] for i in sorted(group))
                done.append(codec.decode_text(coding[key], whole))
                del groups[key]
        return done

    async def wait_messages(self, phone: str, count: int, within: float) -> list[str]:
        """Wait up to `within` seconds until at least `count` MT messages to `phone` are
        complete; returns them all."""

        async def reached() -> None:
            while len(self.messages_to(phone)) < count:
                await self._changed.wait()

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reached(), within)
        return self.messages_to(phone)

    # The admin API's contract names the parameter `timeout` (hence the noqa).
    async def inject_and_wait(
        self,
        phone: str,
        to: str | None,
        text: str,
        timeout: float = 10,  # noqa: ASYNC109
        quiet: float = 1.0,
    ) -> list[str]:
        """Inject an MO from `phone` (UCS2 when needed, split when long) and return the
        texts of the MT messages sent to that phone within `timeout`, stopping once
        replies have gone quiet for `quiet` seconds after at least one arrived."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        before = len(self.messages_to(phone))
        await self.inject_mo(phone, text, to=to, wait=timeout)
        seen = before
        last_change = loop.time()
        while True:
            now = loop.time()
            if now >= end:
                break
            if seen > before and now - last_change >= quiet:
                break
            wait = min(end - now, quiet if seen > before else end - now)
            got = await self.wait_messages(phone, seen + 1, wait)
            if len(got) > seen:
                seen = len(got)
                last_change = loop.time()
        return self.messages_to(phone)[before:]


def _copy(sm: ShortMessage) -> ShortMessage:
    return ShortMessage(
        source=sm.source,
        destination=sm.destination,
        esm_class=sm.esm_class,
        data_coding=sm.data_coding,
        short_message=sm.short_message,
        source_ton=sm.source_ton,
        source_npi=sm.source_npi,
        dest_ton=sm.dest_ton,
        dest_npi=sm.dest_npi,
        tlvs=dict(sm.tlvs),
    )


async def inject_and_wait(
    simulator: SmscSimulator,
    phone: str,
    to: str | None,
    text: str,
    timeout: float = 10,  # noqa: ASYNC109 - the admin API's contract names it
) -> list[str]:
    """Module-level form of `SmscSimulator.inject_and_wait` (for the admin API route)."""
    return await simulator.inject_and_wait(phone, to, text, timeout)
