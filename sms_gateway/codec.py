"""Pure SMS text codec: GSM 03.38 tables, encoding choice, splitting, UDH, receipts.

No I/O here. The session (`session.py`) and the simulator (`simulator.py`) both use it,
so the two ends of every loopback test share one codec and one status table.

Why not `smpplib.gsm.make_parts`: its GSM table is a vendor variant (0x60 is "`"
instead of "¿"), and it splits the encoded octets blindly, so an escape pair
(ESC + char from the extension table) or a UTF-16 surrogate pair can be cut in two
between parts (smpplib notes this itself). Here splitting happens on characters.

References: 3GPP TS 23.038 §6.2.1 (GSM 7-bit default alphabet and extension table),
3GPP TS 23.040 §9.2.3.24 (UDH information elements 0x00 and 0x08), SMPP 3.4 §5.2.19
(data_coding), §5.2.17 (esm_class), appendix B (delivery receipt text format),
§5.3.2.35 (message_state).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core import DeliveryState, SendErrorKind

# --- GSM 03.38 ------------------------------------------------------------------------

# Basic character set, index = septet value (3GPP TS 23.038 §6.2.1). 0x1B is the escape
# to the extension table (kept as a placeholder that never matches a real character).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(GSM_BASIC) == 128  # noqa: S101 - a table typo must fail at import

# Extension table (after ESC 0x1B): septet → character.
GSM_EXTENSION = {
    0x0A: "\x0c",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
GSM_ESCAPE = 0x1B

_GSM_ENCODE: dict[str, bytes] = {
    ch: bytes([i]) for i, ch in enumerate(GSM_BASIC) if i != GSM_ESCAPE
}
_GSM_ENCODE.update({ch: bytes([GSM_ESCAPE, code]) for code, ch in GSM_EXTENSION.items()})
_GSM_DECODE_BASIC = {i: ch for i, ch in enumerate(GSM_BASIC)}


def gsm_encode(text: str) -> bytes | None:
    """Text → unpacked GSM 7-bit septets (one per octet, as SMPP carries them), or None
    when a character is outside the default alphabet and its extension table."""
    table = _GSM_ENCODE
    try:
        return b"".join([table[ch] for ch in text])
    except KeyError:
        return None


def gsm_septets(text: str) -> int | None:
    """Septets the text takes in GSM 7-bit (extension characters count two), or None."""
    encoded = gsm_encode(text)
    return None if encoded is None else len(encoded)


def gsm_decode(data: bytes) -> str:
    """Unpacked GSM 7-bit septets → text. An escape followed by a code not in the
    extension table shows the basic character (TS 23.038 §6.2.1.1); a trailing escape
    is dropped; octets ≥ 0x80 (not septets) are read as Latin-1."""
    out: list[str] = []
    escape = False
    for octet in data:
        if escape:
            escape = False
            ext = GSM_EXTENSION.get(octet)
            out.append(ext if ext is not None else _GSM_DECODE_BASIC.get(octet, " "))
        elif octet == GSM_ESCAPE:
            escape = True
        elif octet < 0x80:
            out.append(_GSM_DECODE_BASIC[octet])
        else:
            out.append(chr(octet))
    return "".join(out)


# --- data_coding (SMPP 3.4 §5.2.19) ------------------------------------------------------

DC_DEFAULT = 0x00  # SMSC default alphabet: GSM 03.38 for every SMSC we know of
DC_IA5 = 0x01  # IA5 / ASCII
DC_OCTET = 0x02  # 8-bit binary
DC_LATIN1 = 0x03
DC_OCTET_ALT = 0x04
DC_CYRILLIC = 0x06  # ISO-8859-5
DC_HEBREW = 0x07  # ISO-8859-8
DC_UCS2 = 0x08


def _decode_8bit(data: bytes) -> str:
    # Binary "text" from a handset or gateway is UTF-8 more often than anything else;
    # Latin-1 never fails, so it is the fallback.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _decode_ucs2(data: bytes) -> str:
    if len(data) % 2:
        data = data[:-1]  # a stray octet cannot be a UTF-16 unit
    return data.decode("utf-16-be", errors="replace")


# data_coding 0 octets that only GSM 03.38 text contains (@ £ $ ¥ è … _ Φ … ESC, and
# à at 0x7F): control characters or DEL in ASCII. LF and CR are the same in both.
_GSM_ONLY = frozenset(range(0x20)) - {0x0A, 0x0D} | {0x7F}
# Octets that read differently: ASCII $ @ [ \ ] ^ _ ` { | } ~ against GSM
# ¤ ¡ Ä Ö Ñ Ü § ¿ ä ö ñ ü.
_ASCII_GSM_DIFFER = frozenset(b"$@[\\]^_`{|}~")


def _decode_default(data: bytes) -> str:
    """data_coding 0, "SMSC default alphabet" (SMPP 3.4 §5.2.19): GSM 03.38 for
    operators' SMSCs, but ASCII for others (Jasmin and the smpp.pdu codec, Kannel with
    an ASCII alt-charset), Latin-1 or even UTF-8 for some.

    - octets ≥ 0x80 cannot be unpacked septets: UTF-8 when valid, else Latin-1;
    - a GSM-only octet (0x00–0x1F but LF/CR, 0x7F) means GSM: "@" and "$" and "_" are
      there in GSM, so an e-mail address in GSM always shows one;
    - otherwise the two readings differ only where the octets hold ASCII punctuation
      or GSM's ¡ ¤ Ä Ö Ñ Ü § ¿ ä ö ñ ü without any of @ $ _ £ è or an escape: that is
      ASCII ("ivanov@mail.ru" from an ASCII SMSC would otherwise read "ivanov¡mail.ru").
    """
    if any(octet >= 0x80 for octet in data):
        return _decode_8bit(data)
    if not _GSM_ONLY.isdisjoint(data) or _ASCII_GSM_DIFFER.isdisjoint(data):
        return gsm_decode(data)
    return data.decode("ascii")


def decode_text(data_coding: int, data: bytes) -> str:
    """Short message octets → text, by data_coding, liberally.

    data_coding 0 is read as GSM 03.38 or ASCII, UTF-8 or Latin-1 by its octets (see
    `_decode_default`). Values 0x10–0x3F and 0xF0–0xFF follow the GSM data coding
    scheme groups (TS 23.038 §4): the alphabet bits pick GSM/8-bit/UCS2.
    """
    dc = data_coding
    if dc == DC_DEFAULT:
        return _decode_default(data)
    if dc == DC_IA5:
        return data.decode("ascii", errors="replace")
    if dc == DC_LATIN1:
        return data.decode("latin-1")
    if dc == DC_UCS2:
        return _decode_ucs2(data)
    if dc == DC_CYRILLIC:
        return data.decode("iso8859-5", errors="replace")
    if dc == DC_HEBREW:
        return data.decode("iso8859-8", errors="replace")
    if dc in (DC_OCTET, DC_OCTET_ALT):
        return _decode_8bit(data)
    if 0x10 <= dc <= 0x3F or 0xC0 <= dc <= 0xEF:
        if 0xC0 <= dc <= 0xDF:
            alphabet = 0  # message waiting groups: GSM default alphabet
        elif 0xE0 <= dc <= 0xEF:
            alphabet = 2  # message waiting, UCS2
        else:
            alphabet = (dc >> 2) & 0x03
        if alphabet == 2:
            return _decode_ucs2(data)
        if alphabet == 1:
            return _decode_8bit(data)
        return decode_text(DC_DEFAULT, data)
    if dc >= 0xF0:
        return _decode_8bit(data) if dc & 0x04 else decode_text(DC_DEFAULT, data)
    # Unknown or national values (JIS, KS C 5601, …): liberal rather than lossy.
    return _decode_8bit(data)


# --- UDH (TS 23.040 §9.2.3.24) --------------------------------------------------------

ESM_UDHI = 0x40  # esm_class bit 6: short_message starts with a UDH (SMPP 3.4 §5.2.12)
IE_CONCAT_8 = 0x00
IE_CONCAT_16 = 0x08


@dataclass(frozen=True, slots=True)
class Concat:
    """Concatenation info of one part: reference, total parts, this part's number."""

    ref: int
    total: int
    seq: int
    wide: bool = False  # 16-bit reference


def parse_udh(message: bytes) -> tuple[Concat | None, bytes]:
    """Split a short_message that starts with a UDH into (concat info, payload).

    A malformed header is tolerated: the message is then taken whole, header and all,
    rather than lost.
    """
    if not message:
        return None, message
    udhl = message[0]
    if udhl + 1 > len(message):
        return None, message
    header, payload = message[1 : 1 + udhl], message[1 + udhl :]
    concat: Concat | None = None
    pos = 0
    while pos + 2 <= len(header):
        iei, length = header[pos], header[pos + 1]
        value = header[pos + 2 : pos + 2 + length]
        if len(value) < length:
            break
        if iei == IE_CONCAT_8 and length == 3:
            concat = Concat(value[0], value[1], value[2])
        elif iei == IE_CONCAT_16 and length == 4:
            concat = Concat(int.from_bytes(value[:2], "big"), value[2], value[3], wide=True)
        pos += 2 + length
    if concat is not None and not (1 <= concat.seq <= concat.total):
        concat = None  # nonsense numbering: treat as a single message
    return concat, payload


def build_udh(ref: int, total: int, seq: int, *, wide: bool = False) -> bytes:
    """UDH with one concatenation IE (8-bit reference unless `wide`)."""
    if wide:
        return bytes([6, IE_CONCAT_16, 4, (ref >> 8) & 0xFF, ref & 0xFF, total, seq])
    return bytes([5, IE_CONCAT_8, 3, ref & 0xFF, total, seq])


# --- Encoding choice and splitting ----------------------------------------------------

GSM_SINGLE = 160  # septets in one SMS
GSM_PART = 153  # septets per part after a 6-octet UDH (7 septets)
UCS2_SINGLE = 70  # UTF-16 units in one SMS
UCS2_PART = 67  # UTF-16 units per part after a 6-octet UDH
MAX_PARTS = 255


class MessageTooLong(ValueError):
    """More than 255 parts: the 8-bit total of the UDH cannot say it."""


@dataclass(frozen=True, slots=True)
class EncodedMessage:
    """An outbound text as submit_sm short_message octets (UDH included when split)."""

    data_coding: int
    esm_class: int
    parts: tuple[bytes, ...]


def split_gsm(text: str, limit: int = GSM_PART) -> list[bytes]:
    """GSM text → chunks of at most `limit` septets, never cutting an escape pair."""
    chunks: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for ch in text:
        code = _GSM_ENCODE[ch]
        if size + len(code) > limit:
            chunks.append(b"".join(current))
            current, size = [], 0
        current.append(code)
        size += len(code)
    if current:
        chunks.append(b"".join(current))
    return chunks


def split_ucs2(text: str, limit: int = UCS2_PART) -> list[bytes]:
    """Text → UCS2 chunks of at most `limit` UTF-16 units, never cutting a surrogate
    pair."""
    chunks: list[bytes] = []
    current: list[str] = []
    units = 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1  # never cut a surrogate pair
        if units + width > limit:
            chunks.append("".join(current).encode("utf-16-be"))
            current, units = [], 0
        current.append(ch)
        units += width
    if current:
        chunks.append("".join(current).encode("utf-16-be"))
    return chunks


def ucs2_units(text: str) -> int:
    """UTF-16 code units of the text (what UCS2 SMS limits count)."""
    return len(text.encode("utf-16-be")) // 2


def encode_message(text: str, ref: int, *, force_ucs2: bool = False) -> EncodedMessage:
    """Choose GSM 7-bit when the text fits its alphabet, else UCS2, and split with UDH.

    `ref` is the concatenation reference (mod 256) used when the text needs parts.
    Raises `MessageTooLong` beyond 255 parts.
    """
    gsm = None if force_ucs2 else gsm_encode(text)
    if gsm is not None:
        if len(gsm) <= GSM_SINGLE:
            return EncodedMessage(DC_DEFAULT, 0, (gsm,))
        chunks = split_gsm(text)
        dc = DC_DEFAULT
    else:
        ucs2 = text.encode("utf-16-be")
        if len(ucs2) <= UCS2_SINGLE * 2:
            return EncodedMessage(DC_UCS2, 0, (ucs2,))
        chunks = split_ucs2(text)
        dc = DC_UCS2
    total = len(chunks)
    if total > MAX_PARTS:
        raise MessageTooLong(f"{total} parts")
    parts = tuple(build_udh(ref, total, i) + chunk for i, chunk in enumerate(chunks, 1))
    return EncodedMessage(dc, ESM_UDHI, parts)


def count_parts(text: str) -> int:
    """Parts the text takes as SMS (70 UCS2 / 160 GSM per single, 67 / 153 per part)."""
    return len(encode_message(text, 0).parts) if text else 1


# --- Time (SMPP 3.4 §7.1.1) ---------------------------------------------------------------


@functools.lru_cache(maxsize=256)  # a campaign's rows share one validity
def absolute_time(when: datetime) -> str:
    """Aware datetime → SMPP absolute time "YYMMDDhhmmsstnnp", expressed in UTC
    (t = tenths of a second, nn = quarter hours from UTC, p = "+")."""
    if when.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    utc = when.astimezone(UTC)
    return utc.strftime("%y%m%d%H%M%S") + f"{utc.microsecond // 100_000}00+"


# --- Delivery receipts (SMPP 3.4 appendix B, §5.3.2.35) -------------------------------

# The one table of receipt states. Keys are the "stat:" words of the receipt text;
# message_state TLV values are mapped onto the same words below. Anything else is
# logged and ignored by the channel.
RECEIPT_STATES: dict[str, DeliveryState] = {
    "DELIVRD": DeliveryState.DELIVERED,
    "ACCEPTD": DeliveryState.PENDING,  # accepted on the subscriber's behalf: not final here
    "ENROUTE": DeliveryState.PENDING,
    "BUFFRED": DeliveryState.PENDING,  # some SMSCs: waiting in the buffer
    "SCHEDULED": DeliveryState.PENDING,
    "EXPIRED": DeliveryState.EXPIRED,
    "UNDELIV": DeliveryState.FAILED,
    "REJECTD": DeliveryState.FAILED,
    "DELETED": DeliveryState.FAILED,
    # "Message is in invalid state": nobody can say it arrived, so the legally
    # required notices go on paper (docs/architecture.md, Notifications) rather than be
    # assumed read.
    "UNKNOWN": DeliveryState.FAILED,
    # Full words some SMSCs write instead of the seven-letter ones.
    "DELIVERED": DeliveryState.DELIVERED,
    "UNDELIVERABLE": DeliveryState.FAILED,
    "REJECTED": DeliveryState.FAILED,
    "ACCEPTED": DeliveryState.PENDING,
}

# message_state TLV (SMPP 3.4 §5.3.2.35) → the receipt word of the same meaning.
MESSAGE_STATE_WORDS: dict[int, str] = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}

# Ordering for "a multipart message's status is that of its worst part".
STATE_SEVERITY: dict[DeliveryState, int] = {
    DeliveryState.DELIVERED: 0,
    DeliveryState.PENDING: 1,
    DeliveryState.EXPIRED: 2,
    DeliveryState.FAILED: 3,
}


def worst_state(states: list[DeliveryState]) -> DeliveryState:
    """The worst of the parts' states (failed > expired > pending > delivered)."""
    return max(states, key=STATE_SEVERITY.__getitem__)


_RECEIPT_FIELD = re.compile(
    r"\b(id|sub|dlvrd|submit date|done date|stat|err)\s*:\s*(\S*)", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class ReceiptText:
    """Fields of a delivery receipt's text ("id:… sub:… dlvrd:… stat:… err:…")."""

    id: str | None
    stat: str | None
    err: str | None
    done_date: str | None


def parse_receipt_text(text: str) -> ReceiptText | None:
    """Parse the appendix-B receipt text; None when it has neither id nor stat."""
    fields: dict[str, str] = {}
    for match in _RECEIPT_FIELD.finditer(text):
        key = match.group(1).lower()
        fields.setdefault(key, match.group(2))
    if "id" not in fields and "stat" not in fields:
        return None
    stat = fields.get("stat")
    return ReceiptText(
        id=fields.get("id") or None,
        stat=stat.upper() if stat else None,
        err=fields.get("err"),
        done_date=fields.get("done date"),
    )


def receipt_state(word: str | None) -> DeliveryState | None:
    """Receipt word → state via `RECEIPT_STATES`; None when unknown (log and ignore)."""
    if not word:
        return None
    return RECEIPT_STATES.get(word.strip().upper())


# --- command_status classification (SMPP 3.4 §5.1.3) ----------------------------------

ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05
ESME_RSYSERR = 0x08
ESME_RINVSRCADR = 0x0A
ESME_RINVDSTADR = 0x0B
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RMSGQFUL = 0x14
ESME_RSUBMITFAIL = 0x45
ESME_RTHROTTLED = 0x58
ESME_RINVDSTTON = 0x50
ESME_RINVDSTNPI = 0x51
ESME_RX_T_APPN = 0x64

STATUS_NAMES: dict[int, str] = {
    ESME_ROK: "ESME_ROK",
    ESME_RINVMSGLEN: "ESME_RINVMSGLEN",
    ESME_RINVCMDLEN: "ESME_RINVCMDLEN",
    ESME_RINVCMDID: "ESME_RINVCMDID",
    ESME_RINVBNDSTS: "ESME_RINVBNDSTS",
    ESME_RALYBND: "ESME_RALYBND",
    ESME_RSYSERR: "ESME_RSYSERR",
    ESME_RINVSRCADR: "ESME_RINVSRCADR",
    ESME_RINVDSTADR: "ESME_RINVDSTADR",
    ESME_RBINDFAIL: "ESME_RBINDFAIL",
    ESME_RINVPASWD: "ESME_RINVPASWD",
    ESME_RINVSYSID: "ESME_RINVSYSID",
    ESME_RMSGQFUL: "ESME_RMSGQFUL",
    ESME_RSUBMITFAIL: "ESME_RSUBMITFAIL",
    ESME_RTHROTTLED: "ESME_RTHROTTLED",
    ESME_RINVDSTTON: "ESME_RINVDSTTON",
    ESME_RINVDSTNPI: "ESME_RINVDSTNPI",
    ESME_RX_T_APPN: "ESME_RX_T_APPN",
}

# Worth retrying the same PDU after a pause: the SMSC says "not now", not "never".
TEMPORARY_STATUSES = frozenset(
    {ESME_RSYSERR, ESME_RMSGQFUL, ESME_RSUBMITFAIL, ESME_RX_T_APPN, ESME_RINVBNDSTS}
)
INVALID_ADDRESS_STATUSES = frozenset({ESME_RINVDSTADR, ESME_RINVDSTTON, ESME_RINVDSTNPI})


def status_name(status: int) -> str:
    """`0x58` → "ESME_RTHROTTLED (0x58)"."""
    name = STATUS_NAMES.get(status, "status")
    return f"{name} (0x{status:02X})"


def status_kind(status: int) -> SendErrorKind:
    """The send error a non-zero submit_sm_resp status means (retryable or not)."""
    if status == ESME_RTHROTTLED:
        return SendErrorKind.THROTTLED
    if status in TEMPORARY_STATUSES:
        return SendErrorKind.TEMPORARY
    if status in INVALID_ADDRESS_STATUSES:
        return SendErrorKind.INVALID_ADDRESS
    return SendErrorKind.REJECTED


def now_utc() -> datetime:
    """Aware 'now' (DTZ: time is always timezone-aware)."""
    return datetime.now(UTC)
