"""Interoperability with SMSCs we did not write.

Every other SMS test runs against our own simulator, which shares `codec.py` and
`pdu.py` with the gateway: a misreading of the spec on both sides would pass them all.
Here the SMSC is someone else's:

- `smpp34` (Rust/tokio SMPP 3.4 server, PyPI): it binds our session, receives our
  submit_sm and sends deliver_sm built by its own encoder. The MO octets (GSM septets,
  UDH splits) are made with smpplib's codec (`smpplib.gsm`), not ours; the 16-bit UDH and
  SAR/message_payload TLVs are written out here byte by byte.
- `smppy` (asyncio SMPP server on the `smpppdu` codec, PyPI): it chooses the
  data_coding itself (ASCII as 0, Latin-1 as 3, ISO-8859-5 as 6, else UCS2) and splits
  long text with SAR TLVs, the way many SMSCs really do.

Against them: the SmsChannel alone (decoding, reassembly, deliver_sm_resp, receipts,
enquire_link, an unbind by the SMSC), and the whole `Gateway` with `[smpp] simulator =
false` bound to the foreign SMSC (MO in → reply submit_sm out → reading exported).
Loopback only; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import smpp34
from smpplib import consts as smpplib_consts
from smpplib import gsm as smpplib_gsm
from smppy.server import Application, SmppClient, SmppProtocol

from bot.app import Gateway
from bot.core import ChannelName, DeliveryState, Outbound, SendErrorKind
from bot.settings import Settings, load_settings
from sms_gateway.channel import SmsChannel
from sms_gateway.fragments import MemoryFragmentStore
from storage.export import export_readings

from .conftest import PASSWORD, Journal, smpp_settings

PHONE = "+79121234567"
MSISDN = "79121234567"
SHORT_CODE = "7555"
WAIT = 10.0  # seconds: the bound on every wait here

TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F
TLV_MESSAGE_PAYLOAD = 0x0424
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427

READING_RU = "ЛС 1234567890 день 4521 ночь 1876"
READING_RU_LONG = (  # 92 characters: two UCS2 parts
    "Добрый день! Передаю показания по лицевому счёту 1234567890: день 4521, ночь 1876. "
    "Спасибо!"
)
READING_GSM = "LS 1234567890 T1 4521 T2 1876"
LONG_RU = "Показания счётчика: день 4521, ночь 1876. Лицевой счёт 1234567890. " * 3
# smpplib splits GSM octets blindly at 153: the escape of "€" ends part 1 and its code
# starts part 2 (its own FIXME); reassembly must join octets before decoding.
GSM_CUT_ESCAPE = "x" * 152 + "€ and {braces} [ok] ~ ^ \\ |"
GSM_SPECIALS = "Pay @ office: $5 _ {ok} [1] ~ ^ € \\ | ¿ Ä ü"


def free_port() -> int:
    """An ephemeral loopback port (smpp34.Server cannot report the one it bound)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- MO PDUs: octets and TLVs made without our codec ---------------------------------------


def gsm_octets(text: str) -> bytes:
    """Unpacked GSM 03.38 septets by smpplib's table (0x60 differs there; avoid "`")."""
    octets: bytes = smpplib_gsm.gsm_encode(text)
    return octets


def udh8_parts(text: str, coding: int) -> list[bytes]:
    """smpplib's split with an 8-bit-reference concatenation UDH."""
    parts, _, esm_class = smpplib_gsm.make_parts(text, encoding=coding)
    assert esm_class == smpplib_consts.SMPP_GSMFEAT_UDHI
    assert len(parts) > 1
    return list(parts)


def raw_parts(text: str, coding: int) -> list[bytes]:
    """smpplib's split without UDH (for SAR TLVs)."""
    parts, _, _ = smpplib_gsm.make_parts(text, encoding=coding, use_udhi=False)
    assert len(parts) > 1
    return list(parts)


def encode(text: str, coding: int) -> bytes:
    return gsm_octets(text) if coding == 0 else text.encode("utf-16-be")


@dataclass(frozen=True)
class Pdu:
    """One deliver_sm as keyword arguments for `smpp34.Esme.deliver_sm`."""

    short_message: bytes = b""
    data_coding: int = 0
    esm_class: int = 0
    tlvs: tuple[tuple[int, bytes], ...] = ()
    source_addr: str = MSISDN
    source_addr_ton: int = 1
    source_addr_npi: int = 1

    def kwargs(self) -> dict[str, Any]:
        return {
            "short_message": self.short_message,
            "source_addr": self.source_addr,
            "source_addr_ton": self.source_addr_ton,
            "source_addr_npi": self.source_addr_npi,
            "dest_addr_ton": 0,
            "dest_addr_npi": 1,
            "esm_class": self.esm_class,
            "data_coding": self.data_coding,
            "tlvs": [smpp34.Tlv(tag, value) for tag, value in self.tlvs],
        }


def single(text: str, coding: int) -> list[Pdu]:
    return [Pdu(encode(text, coding), coding)]


def with_udh8(text: str, coding: int) -> list[Pdu]:
    smpplib_coding = coding if coding else smpplib_consts.SMPP_ENCODING_DEFAULT
    return [Pdu(part, coding, 0x40) for part in udh8_parts(text, smpplib_coding)]


def with_udh16(text: str, coding: int, ref: int = 0xBEEF) -> list[Pdu]:
    chunks = raw_parts(text, coding)
    total = len(chunks)
    return [
        Pdu(bytes([6, 0x08, 4, ref >> 8, ref & 0xFF, total, seq]) + chunk, coding, 0x40)
        for seq, chunk in enumerate(chunks, 1)
    ]


def with_sar(text: str, coding: int, ref: int = 0x1234) -> list[Pdu]:
    chunks = raw_parts(text, coding)
    total = len(chunks)
    return [
        Pdu(
            chunk,
            coding,
            tlvs=(
                (TLV_SAR_MSG_REF_NUM, ref.to_bytes(2, "big")),
                (TLV_SAR_TOTAL_SEGMENTS, bytes([total])),
                (TLV_SAR_SEGMENT_SEQNUM, bytes([seq])),
            ),
        )
        for seq, chunk in enumerate(chunks, 1)
    ]


def with_payload(text: str, coding: int) -> list[Pdu]:
    return [Pdu(b"", coding, tlvs=((TLV_MESSAGE_PAYLOAD, encode(text, coding)),))]


def reversed_parts(build: Callable[[str, int], list[Pdu]]) -> Callable[[str, int], list[Pdu]]:
    return lambda text, coding: build(text, coding)[::-1]


UCS2 = smpplib_consts.SMPP_ENCODING_ISO10646
GSM = smpplib_consts.SMPP_ENCODING_DEFAULT

MO_VARIANTS = [
    pytest.param(READING_GSM, GSM, single, id="gsm"),
    pytest.param(GSM_SPECIALS, GSM, single, id="gsm-escapes-and-@-as-0x00"),
    pytest.param(READING_RU, UCS2, single, id="ucs2-cyrillic"),
    pytest.param("Спасибо 😀 за свет", UCS2, single, id="ucs2-surrogate-pair"),
    pytest.param(LONG_RU, UCS2, with_udh8, id="ucs2-udh8"),
    pytest.param(LONG_RU, UCS2, reversed_parts(with_udh8), id="ucs2-udh8-reversed"),
    pytest.param(GSM_CUT_ESCAPE, GSM, with_udh8, id="gsm-udh8-escape-cut"),
    pytest.param(LONG_RU, UCS2, with_udh16, id="ucs2-udh16"),
    pytest.param(GSM_CUT_ESCAPE, GSM, with_udh16, id="gsm-udh16"),
    pytest.param(LONG_RU, UCS2, with_sar, id="ucs2-sar"),
    pytest.param(GSM_CUT_ESCAPE, GSM, reversed_parts(with_sar), id="gsm-sar-reversed"),
    pytest.param(LONG_RU, UCS2, with_payload, id="ucs2-message-payload"),
    pytest.param(GSM_CUT_ESCAPE, GSM, with_payload, id="gsm-message-payload"),
]


# --- smpp34: a Rust SMSC -------------------------------------------------------------------


@dataclass
class RustSmsc:
    """`smpp34.Server` on loopback, its events sorted into queues. Every submit_sm is
    accepted with the next id from `ids` (hex, like many SMSCs) unless `reject` is set."""

    port: int = field(default_factory=free_port)
    binds: asyncio.Queue[smpp34.Esme] = field(default_factory=asyncio.Queue)
    submits: asyncio.Queue[smpp34.SubmitSmEvent] = field(default_factory=asyncio.Queue)
    unbinds: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    ids: Callable[[], str] = field(
        default_factory=lambda: (f"{n:X}" for n in itertools.count(0xA0B0C0)).__next__
    )
    accepted: list[str] = field(default_factory=list)
    rejections: list[int] = field(default_factory=list)  # statuses for the next submits

    async def __aenter__(self) -> RustSmsc:
        self.server = smpp34.Server("127.0.0.1", self.port, system_id="RUSTSMSC")
        await self.server.start()
        self._pump = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        await self.server.stop()

    async def _run(self) -> None:
        while True:
            event = await self.server.next()
            if isinstance(event, smpp34.Esme):
                await self.binds.put(event)
            elif isinstance(event, smpp34.SubmitSmEvent):
                if self.rejections:
                    event.reject(self.rejections.pop(0))
                else:
                    message_id = self.ids()
                    event.accept(message_id)
                    self.accepted.append(message_id)
                await self.submits.put(event)
            elif isinstance(event, smpp34.Unbound):
                await self.unbinds.put(event.session_id)

    async def bound(self) -> smpp34.Esme:
        return await asyncio.wait_for(self.binds.get(), WAIT)

    async def submitted(self) -> smpp34.SubmitSmEvent:
        return await asyncio.wait_for(self.submits.get(), WAIT)


async def deliver(esme: smpp34.Esme, pdus: list[Pdu]) -> list[int]:
    """Send the deliver_sm one by one; their deliver_sm_resp statuses."""
    statuses = []
    for pdu in pdus:
        resp = await asyncio.wait_for(esme.deliver_sm(SHORT_CODE, **pdu.kwargs()), WAIT)
        statuses.append(resp.command_status)
    return statuses


def submitted_text(event: smpp34.SubmitSmEvent) -> str:
    """A submit_sm's text, decoded without our codec (UDH skipped when UDHI is set)."""
    octets = event.short_message
    for tlv in event.tlvs:
        if tlv.tag == TLV_MESSAGE_PAYLOAD:
            octets = tlv.value
    if event.esm_class & 0x40:
        octets = octets[1 + octets[0] :]
    if event.data_coding == 8:
        return octets.decode("utf-16-be")
    assert event.data_coding == 0, event.data_coding
    table = smpplib_gsm.GSM_CHARACTER_TABLE
    out, escape = [], False
    for octet in octets:
        if octet == 0x1B:
            escape = True
            continue
        out.append(table[octet + 0x80] if escape else table[octet])
        escape = False
    return "".join(out)


@pytest.fixture
async def rust_smsc() -> AsyncIterator[RustSmsc]:
    async with RustSmsc() as smsc:
        yield smsc


async def start_channel(
    port: int, journal: Journal, start_wait: float = WAIT, **settings: object
) -> SmsChannel:
    sms = SmsChannel(
        smpp_settings(port, **settings),
        MemoryFragmentStore(),
        send_timeout=WAIT,
        start_wait=start_wait,
        reconnect_min_delay=0.05,
        auth_retry_delay=0.2,
    )
    await sms.start(journal.on_inbound, journal.on_report)
    return sms


@pytest.fixture
async def on_rust(
    rust_smsc: RustSmsc, journal: Journal
) -> AsyncIterator[tuple[SmsChannel, smpp34.Esme]]:
    sms = await start_channel(rust_smsc.port, journal)
    try:
        assert sms.is_up()
        esme = await rust_smsc.bound()
        assert esme.system_id == "gateway"
        assert esme.can_receive  # bound as a transceiver
        yield sms, esme
    finally:
        await sms.stop()


@pytest.mark.parametrize(("text", "coding", "build"), MO_VARIANTS)
async def test_rust_smsc_mo_variants(
    on_rust: tuple[SmsChannel, smpp34.Esme],
    journal: Journal,
    text: str,
    coding: int,
    build: Callable[[str, int], list[Pdu]],
) -> None:
    _, esme = on_rust
    pdus = build(text, coding)
    assert await deliver(esme, pdus) == [0] * len(pdus)  # each acknowledged, with ROK
    assert [m.text for m in journal.inbound] == [text]
    message = journal.inbound[0]
    assert message.address == PHONE
    assert message.to == SHORT_CODE
    if len(pdus) > 1:
        assert message.meta["parts"] == str(len(pdus))


@pytest.mark.parametrize(
    ("source", "ton", "npi"),
    [
        (MSISDN, 1, 1),  # international
        ("+79121234567", 1, 1),  # with a plus some SMSCs keep
        ("89121234567", 2, 1),  # national, trunk prefix 8
        ("9121234567", 2, 1),  # national significant number
        ("79121234567", 0, 0),  # TON/NPI unknown
        ("89121234567", 0, 1),
    ],
)
async def test_rust_smsc_source_address_notations(
    on_rust: tuple[SmsChannel, smpp34.Esme], journal: Journal, source: str, ton: int, npi: int
) -> None:
    _, esme = on_rust
    pdu = Pdu(READING_RU.encode("utf-16-be"), 8, source_addr=source, source_addr_ton=ton,
              source_addr_npi=npi)
    assert await deliver(esme, [pdu]) == [0]
    assert [m.address for m in journal.inbound] == [PHONE]


async def test_rust_smsc_receives_our_submits(
    on_rust: tuple[SmsChannel, smpp34.Esme], rust_smsc: RustSmsc
) -> None:
    sms, _ = on_rust
    for text, coding, parts in [("Ответ принят", 8, 1), ("Reply @ $5 {ok}", 0, 1),
                                (LONG_RU, 8, 3)]:
        result = await sms.send(Outbound(channel=ChannelName.SMS, address=PHONE, text=text))
        assert result.ok, result
        events = [await rust_smsc.submitted() for _ in range(parts)]
        assert list(result.message_ids) == rust_smsc.accepted[-parts:]
        for event in events:
            assert event.destination_addr == MSISDN
            assert (event.dest_addr_ton, event.dest_addr_npi) == (1, 1)
            assert event.source_addr == SHORT_CODE
            assert event.data_coding == coding
            assert event.registered_delivery & 0x01  # receipts requested
            assert event.esm_class == (0x40 if parts > 1 else 0)
        assert "".join(submitted_text(e) for e in events) == text


@pytest.mark.parametrize(
    ("rejections", "kind", "submits"),
    [
        # throttled twice, then accepted: retried with the pace lowered
        ([smpp34.ESME_RTHROTTLED] * 2, None, 3),
        # queue full (temporary), then accepted
        ([smpp34.ESME_RMSGQFUL], None, 2),
        # a bad destination is final: no retry
        ([smpp34.ESME_RINVDSTADR], SendErrorKind.INVALID_ADDRESS, 1),
        # a system error each time: given up after the retries
        ([smpp34.ESME_RSYSERR] * 10, SendErrorKind.TEMPORARY, 3),
    ],
)
async def test_rust_smsc_submit_errors(
    on_rust: tuple[SmsChannel, smpp34.Esme],
    rust_smsc: RustSmsc,
    rejections: list[int],
    kind: SendErrorKind | None,
    submits: int,
) -> None:
    sms, _ = on_rust
    sms.session.max_temporary_retries = 2
    rust_smsc.rejections = list(rejections)
    result = await sms.send(Outbound(channel=ChannelName.SMS, address=PHONE, text="Ответ"))
    assert (result.error.kind if result.error else None) is kind, result
    if kind is None:
        assert list(result.message_ids) == rust_smsc.accepted
    assert rust_smsc.submits.qsize() == submits


def appendix_b(message_id: str, stat: str, err: str = "000") -> bytes:
    return (
        f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
        f"submit date:2611201015 done date:2611201016 stat:{stat} err:{err} text:Otvet"
    ).encode("ascii")


def receipt_tlvs(message_id: str, state: int) -> tuple[tuple[int, bytes], ...]:
    """receipted_message_id (C-string) and message_state (SMPP 3.4 §5.3.2.35)."""
    return (
        (TLV_RECEIPTED_MESSAGE_ID, message_id.encode("ascii") + b"\0"),
        (TLV_MESSAGE_STATE, bytes([state])),
    )


@pytest.mark.parametrize(
    ("receipt", "state"),
    [
        pytest.param(
            lambda mid: Pdu(appendix_b(mid, "DELIVRD"), esm_class=0x04),
            DeliveryState.DELIVERED, id="appendix-b-text",
        ),
        pytest.param(
            lambda mid: Pdu(appendix_b(mid.lower(), "UNDELIV", "001"), esm_class=0x04),
            DeliveryState.FAILED, id="appendix-b-lowercase-id",
        ),
        pytest.param(
            lambda mid: Pdu(appendix_b(str(int(mid, 16)), "EXPIRED"), esm_class=0x04),
            DeliveryState.EXPIRED, id="decimal-id-for-hex-resp",
        ),
        pytest.param(
            lambda mid: Pdu(
                b"", esm_class=0x04,
                tlvs=receipt_tlvs(mid, 2),
            ),
            DeliveryState.DELIVERED, id="tlvs-only",
        ),
        pytest.param(
            lambda mid: Pdu(appendix_b(f"{int(mid, 16):010d}", "DELIVRD"), esm_class=0x04),
            DeliveryState.DELIVERED, id="zero-padded-decimal-id",
        ),
        pytest.param(
            lambda mid: Pdu(appendix_b(mid.zfill(16), "DELIVRD"), esm_class=0x04),
            DeliveryState.DELIVERED, id="zero-padded-hex-id",
        ),
        pytest.param(
            lambda mid: Pdu(
                appendix_b(mid, "delivrd").replace(b"id:", b"Id:"), esm_class=0x04
            ),
            DeliveryState.DELIVERED, id="mixed-case-keys-and-state",
        ),
        pytest.param(
            lambda mid: Pdu(
                appendix_b("0", "DELIVRD"), esm_class=0x04,
                tlvs=receipt_tlvs(mid, 5),
            ),
            DeliveryState.FAILED, id="tlvs-win-over-text",
        ),
    ],
)
async def test_rust_smsc_receipts(
    on_rust: tuple[SmsChannel, smpp34.Esme],
    rust_smsc: RustSmsc,
    journal: Journal,
    receipt: Callable[[str], Pdu],
    state: DeliveryState,
) -> None:
    sms, esme = on_rust
    result = await sms.send(Outbound(channel=ChannelName.SMS, address=PHONE, text="Ответ"))
    await rust_smsc.submitted()
    (message_id,) = result.message_ids
    receipt_pdu = receipt(message_id)
    assert await deliver(esme, [receipt_pdu]) == [0]
    await journal.wait(lambda: journal.reports)
    (report,) = journal.reports
    assert (report.message_id, report.state) == (message_id, state)
    assert journal.inbound == []  # a receipt is not a customer's message


async def test_rust_smsc_enquire_link_and_its_unbind(
    rust_smsc: RustSmsc, journal: Journal
) -> None:
    """Our enquire_link is answered by the foreign SMSC (the link stays up over several
    intervals); when it unbinds us we bind again and MO flows on the new session."""
    sms = await start_channel(rust_smsc.port, journal, enquire_link_interval=0.1,
                              response_timeout=1)
    try:
        esme = await rust_smsc.bound()
        await asyncio.sleep(0.5)
        assert sms.is_up()
        assert sms.session.stats.binds == 1
        await asyncio.wait_for(esme.unbind(), WAIT)
        again = await rust_smsc.bound()
        assert again.session_id != esme.session_id
        assert await deliver(again, single(READING_RU, UCS2)) == [0]
        assert [m.text for m in journal.inbound] == [READING_RU]
        assert sms.session.stats.binds == 2
    finally:
        await sms.stop()


# --- the whole gateway bound to the Rust SMSC ----------------------------------------------


def gateway_settings(tmp_path: Path, port: int) -> Settings:
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        f'[storage]\npath = "{tmp_path / "g.db"}"\n'
        f'[smpp]\nsimulator = false\nhost = "127.0.0.1"\nport = {port}\n'
        f'password = "{PASSWORD}"\nsystem_type = "VMA"\nsource_addr = "{SHORT_CODE}"\n'
        "[api]\nport = 0\n",
        encoding="utf-8",
    )
    return load_settings(cfg)


async def exported(gateway: Gateway) -> set[tuple[str, str, str, str, str]]:
    assert gateway.store is not None
    out = io.StringIO()
    await export_readings(gateway.store.db, period=None, fmt="jsonl", include_console=False,
                          out=out, tz=gateway.settings.service.tz)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    return {(r["account"], r["zone"], r["value"], r["channel"], r["sender"]) for r in rows}


GATEWAY_VARIANTS = [
    pytest.param(READING_GSM, GSM, single, id="gsm"),
    pytest.param(READING_RU, UCS2, single, id="ucs2"),
    pytest.param(READING_RU_LONG, UCS2, with_udh8, id="udh8"),
    pytest.param(READING_RU_LONG, UCS2, with_udh16, id="udh16"),
    pytest.param(READING_RU_LONG, UCS2, with_sar, id="sar"),
    pytest.param(READING_RU_LONG, UCS2, with_payload, id="message-payload"),
]


@pytest.mark.parametrize(("text", "coding", "build"), GATEWAY_VARIANTS)
async def test_gateway_against_rust_smsc(
    tmp_path: Path,
    rust_smsc: RustSmsc,
    text: str,
    coding: int,
    build: Callable[[str, int], list[Pdu]],
) -> None:
    async with Gateway(gateway_settings(tmp_path, rust_smsc.port)) as gateway:
        esme = await rust_smsc.bound()
        pdus = build(text, coding)
        assert await deliver(esme, pdus) == [0] * len(pdus)
        reply = await rust_smsc.submitted()
        assert reply.destination_addr == MSISDN
        assert reply.source_addr == SHORT_CODE
        assert "Приняты" in submitted_text(reply)
        # the receipt for the reply, as the SMSC would send it
        assert await deliver(
            esme, [Pdu(appendix_b(rust_smsc.accepted[0], "DELIVRD"), esm_class=0x04)]
        ) == [0]
        assert await exported(gateway) == {
            ("1234567890", "T1", "4521", "sms", PHONE),
            ("1234567890", "T2", "1876", "sms", PHONE),
        }
    assert await asyncio.wait_for(rust_smsc.unbinds.get(), WAIT) == esme.session_id


# --- smppy: an asyncio SMSC on another codec -----------------------------------------------


class PySmsc(Application):
    """smppy's server application: records bound clients and submitted texts."""

    def __init__(self) -> None:
        super().__init__("PYSMSC")
        self.clients: asyncio.Queue[SmppClient] = asyncio.Queue()
        self.received: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()

    async def handle_bound_client(self, client: SmppClient) -> SmppClient | None:
        await self.clients.put(client)
        return client if client.password == PASSWORD else None

    async def handle_unbound_client(self, client: SmppClient) -> None:
        return None

    async def handle_sms_received(
        self, client: SmppClient, source_number: str, dest_number: str, text: str
    ) -> None:
        await self.received.put((source_number, dest_number, text))


@pytest.fixture
async def py_smsc() -> AsyncIterator[tuple[PySmsc, int]]:
    app = PySmsc()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SmppProtocol(app=app), "127.0.0.1", 0)
    try:
        yield app, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(READING_GSM, id="ascii-as-dc0"),
        pytest.param("Pay to account@mail.ru [ok] $5 {x} ~ _ ^", id="ascii-specials-as-dc0"),
        pytest.param("Café 4521 naïve", id="latin1-dc3"),
        pytest.param(READING_RU, id="iso-8859-5-dc6"),
        pytest.param("Свет 😀 ok", id="ucs2-dc8"),
        pytest.param(LONG_RU, id="iso-8859-5-sar"),
        pytest.param("Привет 😀 " * 30, id="ucs2-sar"),
    ],
)
async def test_smppy_smsc_mo(py_smsc: tuple[PySmsc, int], journal: Journal, text: str) -> None:
    app, port = py_smsc
    sms = await start_channel(port, journal)
    try:
        client = await asyncio.wait_for(app.clients.get(), WAIT)
        await client.send_sms(MSISDN, SHORT_CODE, text)  # smppy waits for no response
        await journal.wait(lambda: journal.inbound)
        assert [(m.text, m.address) for m in journal.inbound] == [(text, PHONE)]
    finally:
        await sms.stop()


async def test_smppy_smsc_rejecting_the_bind(
    py_smsc: tuple[PySmsc, int], journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    """smppy answers a bad password with ESME_RBINDFAIL and a body: we say so, keep
    retrying slowly, and stop cleanly."""
    app, port = py_smsc
    sms = await start_channel(port, journal, start_wait=0.2, password="wrong")
    try:
        await asyncio.wait_for(app.clients.get(), WAIT)
        for _ in range(100):
            if sms.session.last_error:
                break
            await asyncio.sleep(0.05)
        assert not sms.is_up()
        assert sms.session.last_error == "bind rejected: ESME_RBINDFAIL (0x0D)"
        assert "check [smpp] system_id and password" in caplog.text
        assert "wrong" not in caplog.text
    finally:
        await sms.stop()


async def test_smppy_smsc_receives_our_submit(
    py_smsc: tuple[PySmsc, int], journal: Journal
) -> None:
    app, port = py_smsc
    sms = await start_channel(port, journal)
    try:
        await asyncio.wait_for(app.clients.get(), WAIT)
        for text in ("Показания приняты", "Readings accepted: 4521"):
            result = await sms.send(Outbound(channel=ChannelName.SMS, address=PHONE, text=text))
            assert result.ok, result
            received = await asyncio.wait_for(app.received.get(), WAIT)
            assert received == (SHORT_CODE, MSISDN, text)
    finally:
        await sms.stop()
