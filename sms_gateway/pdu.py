"""SMPP 3.4 PDU framing and the hot-path PDUs, with smpplib for the rest.

smpplib (`smpplib.smpp.make_pdu` / `parse_pdu`) builds and parses the bind PDUs here.
The PDUs sent thousands of times a second (submit_sm, deliver_sm, their responses,
enquire_link, generic_nack) have a hand-written fast path: smpplib spends ~47 µs to
build one submit_sm and ~36 µs to parse it (it walks 45 optional parameters per PDU)
against ~3 µs here — see BENCHMARKS.md. The tests check both paths produce the same
octets. The parser here is also more liberal than smpplib's: unknown TLVs are kept,
a C-string without its NUL runs to the end of the body, integer TLVs of any length
are read, and nothing raises for a short body.

Layout references: SMPP 3.4 §3.2 (header), §4.4.1 (submit_sm), §4.6.1 (deliver_sm),
§4.7.1 (data_sm), §5.3 (TLVs).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from smpplib import smpp as smpplib_smpp

# command_id values (SMPP 3.4 §5.1.2.1)
GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_RECEIVER_RESP = 0x80000001
BIND_TRANSMITTER = 0x00000002
BIND_TRANSMITTER_RESP = 0x80000002
QUERY_SM = 0x00000003
SUBMIT_SM = 0x00000004
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006
BIND_TRANSCEIVER = 0x00000009
BIND_TRANSCEIVER_RESP = 0x80000009
OUTBIND = 0x0000000B
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015
ALERT_NOTIFICATION = 0x00000102
DATA_SM = 0x00000103
DATA_SM_RESP = 0x80000103
RESPONSE_BIT = 0x80000000

# TLV tags (SMPP 3.4 §5.3.2)
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_USER_MESSAGE_REFERENCE = 0x0204
TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F
TLV_NETWORK_ERROR_CODE = 0x0423
TLV_MESSAGE_PAYLOAD = 0x0424
TLV_MESSAGE_STATE = 0x0427

HEADER = struct.Struct(">IIII")
HEADER_SIZE = 16
# Longest PDU accepted: a deliver_sm carrying a 64 KiB message_payload is already absurd.
MAX_PDU = 70_000
TON_INTERNATIONAL = 1
NPI_ISDN = 1
TON_ALPHANUMERIC = 5
TON_NATIONAL = 2

_TLV = struct.Struct(">HH")


class SequenceCounter:
    """The `client` object smpplib's make_pdu wants: `.sequence` and `.next_sequence()`.
    Sequence numbers run 1..0x7FFFFFFF and wrap (SMPP 3.4 §3.2)."""

    def __init__(self) -> None:
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence = self.sequence + 1 if self.sequence < 0x7FFFFFFF else 1
        return self.sequence


def header_only(command_id: int, status: int, sequence: int) -> bytes:
    """A PDU without a body (enquire_link, unbind, their responses, generic_nack)."""
    return HEADER.pack(HEADER_SIZE, command_id, status, sequence)


def with_body(command_id: int, status: int, sequence: int, body: bytes) -> bytes:
    """Header + body."""
    return HEADER.pack(HEADER_SIZE + len(body), command_id, status, sequence) + body


def message_id_resp(command_id: int, status: int, sequence: int, message_id: str) -> bytes:
    """submit_sm_resp / deliver_sm_resp / data_sm_resp: a C-string message_id body.
    SMPP 3.4 §4.4.2: on error the body is omitted."""
    if status:
        return header_only(command_id, status, sequence)
    return with_body(command_id, 0, sequence, message_id.encode("latin-1") + b"\0")


def tlv(tag: int, value: bytes) -> bytes:
    """One TLV (tag, length, value)."""
    return _TLV.pack(tag, len(value)) + value


@dataclass(slots=True)
class ShortMessage:
    """The fields of a submit_sm or deliver_sm (same mandatory layout), or a data_sm
    mapped onto them (its text then lives in the message_payload TLV)."""

    source: str = ""
    destination: str = ""
    esm_class: int = 0
    data_coding: int = 0
    short_message: bytes = b""
    registered_delivery: int = 0
    source_ton: int = 0
    source_npi: int = 0
    dest_ton: int = 0
    dest_npi: int = 0
    service_type: str = ""
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    replace_if_present: int = 0
    sm_default_msg_id: int = 0
    tlvs: dict[int, bytes] = field(default_factory=dict)

    def tlv_int(self, tag: int) -> int | None:
        """An integer TLV, whatever length the peer chose for it."""
        value = self.tlvs.get(tag)
        if value is None or not value:
            return None
        return int.from_bytes(value, "big")

    def tlv_str(self, tag: int) -> str | None:
        """A C-string TLV (trailing NULs stripped)."""
        value = self.tlvs.get(tag)
        if value is None:
            return None
        return value.rstrip(b"\0").decode("latin-1")

    def payload(self) -> bytes:
        """The message octets: message_payload when present, else short_message."""
        payload = self.tlvs.get(TLV_MESSAGE_PAYLOAD)
        return payload if payload else self.short_message


_SM_FIXED = struct.Struct(">BBB")


def encode_sm(command_id: int, sequence: int, sm: ShortMessage) -> bytes:
    """submit_sm / deliver_sm body + header. Octets longer than 254 go into
    message_payload (SMPP 3.4 §5.2.21: short_message holds at most 254)."""
    message = sm.short_message
    extra = b""
    if len(message) > 254:
        extra = tlv(TLV_MESSAGE_PAYLOAD, message)
        message = b""
    if sm.tlvs:
        extra += b"".join(tlv(tag, value) for tag, value in sm.tlvs.items())
    body = b"".join(
        (
            sm.service_type.encode("latin-1"),
            b"\0",
            bytes((sm.source_ton, sm.source_npi)),
            sm.source.encode("latin-1"),
            b"\0",
            bytes((sm.dest_ton, sm.dest_npi)),
            sm.destination.encode("latin-1"),
            b"\0",
            bytes((sm.esm_class, sm.protocol_id, sm.priority_flag)),
            sm.schedule_delivery_time.encode("latin-1"),
            b"\0",
            sm.validity_period.encode("latin-1"),
            b"\0",
            bytes(
                (
                    sm.registered_delivery,
                    sm.replace_if_present,
                    sm.data_coding,
                    sm.sm_default_msg_id,
                    len(message),
                )
            ),
            message,
            extra,
        )
    )
    return HEADER.pack(HEADER_SIZE + len(body), command_id, 0, sequence) + body


class _Cursor:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def cstr(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:  # no NUL: liberal, take the rest
            end = len(self.data)
        value = self.data[self.pos : end].decode("latin-1")
        self.pos = end + 1
        return value

    def byte(self) -> int:
        if self.pos >= len(self.data):
            self.pos += 1
            return 0
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, size: int) -> bytes:
        value = self.data[self.pos : self.pos + size]
        self.pos += size
        return value


def parse_tlvs(data: bytes, pos: int) -> dict[int, bytes]:
    """TLVs from `pos` to the end; a truncated last TLV is dropped, unknown tags kept."""
    tlvs: dict[int, bytes] = {}
    end = len(data)
    while pos + 4 <= end:
        tag, length = _TLV.unpack_from(data, pos)
        pos += 4
        tlvs[tag] = data[pos : pos + length]
        pos += length
    return tlvs


def parse_sm(body: bytes) -> ShortMessage:
    """Parse a submit_sm / deliver_sm body liberally (never raises)."""
    cur = _Cursor(body)
    sm = ShortMessage()
    sm.service_type = cur.cstr()
    sm.source_ton = cur.byte()
    sm.source_npi = cur.byte()
    sm.source = cur.cstr()
    sm.dest_ton = cur.byte()
    sm.dest_npi = cur.byte()
    sm.destination = cur.cstr()
    sm.esm_class = cur.byte()
    sm.protocol_id = cur.byte()
    sm.priority_flag = cur.byte()
    sm.schedule_delivery_time = cur.cstr()
    sm.validity_period = cur.cstr()
    sm.registered_delivery = cur.byte()
    sm.replace_if_present = cur.byte()
    sm.data_coding = cur.byte()
    sm.sm_default_msg_id = cur.byte()
    length = cur.byte()
    sm.short_message = cur.take(length)
    if cur.pos < len(body):
        sm.tlvs = parse_tlvs(body, cur.pos)
    return sm


def parse_data_sm(body: bytes) -> ShortMessage:
    """Parse a data_sm body (SMPP 3.4 §4.7.1) into the same shape; its text is in the
    message_payload TLV."""
    cur = _Cursor(body)
    sm = ShortMessage()
    sm.service_type = cur.cstr()
    sm.source_ton = cur.byte()
    sm.source_npi = cur.byte()
    sm.source = cur.cstr()
    sm.dest_ton = cur.byte()
    sm.dest_npi = cur.byte()
    sm.destination = cur.cstr()
    sm.esm_class = cur.byte()
    sm.registered_delivery = cur.byte()
    sm.data_coding = cur.byte()
    if cur.pos < len(body):
        sm.tlvs = parse_tlvs(body, cur.pos)
    return sm


def parse_message_id(body: bytes) -> str:
    """The C-string message_id of a *_sm_resp body ("" when the body is absent)."""
    end = body.find(b"\0")
    raw = body if end < 0 else body[:end]
    return raw.decode("latin-1")


# --- bind PDUs through smpplib (rare: once per connection) -----------------------------


def bind_transceiver(sequence: int, system_id: str, password: str, system_type: str) -> bytes:
    """bind_transceiver (SMPP 3.4 §4.1.5), built by smpplib."""
    pdu = smpplib_smpp.make_pdu(
        "bind_transceiver",
        client=SequenceCounter(),
        system_id=system_id,
        password=password,
        system_type=system_type,
        addr_ton=0,
        addr_npi=0,
        address_range="",
    )
    # smpplib ignores a `sequence` kwarg when its client's counter is non-None (it is
    # 0), so set it on the PDU itself.
    pdu.sequence = sequence
    data: bytes = pdu.generate()
    return data


def bind_resp(command_id: int, status: int, sequence: int, system_id: str) -> bytes:
    """bind_*_resp with the SMSC's system_id, built by smpplib (body omitted on error
    like Kannel and most SMSCs do)."""
    if status:
        return header_only(command_id, status, sequence)
    names = {
        BIND_TRANSCEIVER_RESP: "bind_transceiver_resp",
        BIND_TRANSMITTER_RESP: "bind_transmitter_resp",
        BIND_RECEIVER_RESP: "bind_receiver_resp",
    }
    pdu = smpplib_smpp.make_pdu(
        names[command_id], client=SequenceCounter(), system_id=system_id
    )
    pdu.sequence = sequence
    data: bytes = pdu.generate()
    return data


@dataclass(frozen=True, slots=True)
class BindRequest:
    """What the simulator needs of a bind_* PDU."""

    system_id: str
    password: str
    system_type: str


def parse_bind(pdu: bytes) -> BindRequest:
    """Parse a bind_* PDU with smpplib (raises on a malformed one)."""
    parsed: Any = smpplib_smpp.parse_pdu(pdu, client=SequenceCounter())

    def text(value: Any) -> str:
        if isinstance(value, bytes):
            return value.decode("latin-1")
        return str(value or "")

    return BindRequest(
        system_id=text(parsed.system_id),
        password=text(parsed.password),
        system_type=text(parsed.system_type),
    )


class FrameError(ValueError):
    """The byte stream cannot be framed (command_length out of range): the link must
    be closed, since the next PDU boundary is unknown. `sequence` is the bad header's,
    for the generic_nack sent before closing."""

    def __init__(self, message: str, sequence: int = 0) -> None:
        super().__init__(message)
        self.sequence = sequence


class Framer:
    """Splits a TCP byte stream into PDUs (SMPP 3.4 §3.2: command_length first)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, int, int, bytes]]:
        """Add received octets; return complete PDUs as (command_id, status, sequence,
        whole PDU). Raises `FrameError` on an impossible command_length."""
        buf = self._buffer
        buf += data
        out: list[tuple[int, int, int, bytes]] = []
        pos = 0
        end = len(buf)
        while end - pos >= HEADER_SIZE:
            length, command_id, status, sequence = HEADER.unpack_from(buf, pos)
            if length < HEADER_SIZE or length > MAX_PDU:
                del buf[:pos]
                raise FrameError(f"command_length {length}", sequence)
            if end - pos < length:
                break
            out.append((command_id, status, sequence, bytes(buf[pos : pos + length])))
            pos += length
        if pos:
            del buf[:pos]
        return out
