"""Pure codec: tables of cases for encoding choice, splitting, UDH, decoding, receipts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from smpplib import smpp

from bot.core import DeliveryState, SendErrorKind
from sms_gateway import codec
from sms_gateway.pdu import (
    DELIVER_SM,
    SUBMIT_SM,
    TLV_RECEIPTED_MESSAGE_ID,
    FrameError,
    Framer,
    SequenceCounter,
    ShortMessage,
    encode_sm,
    parse_sm,
)
from sms_gateway.reassembly import split_concat


@pytest.mark.parametrize(
    ("text", "data_coding", "parts"),
    [
        ("Hello", codec.DC_DEFAULT, 1),
        ("a" * 160, codec.DC_DEFAULT, 1),
        ("a" * 161, codec.DC_DEFAULT, 2),
        ("a" * 306, codec.DC_DEFAULT, 2),
        ("a" * 307, codec.DC_DEFAULT, 3),
        ("€" * 80, codec.DC_DEFAULT, 1),  # extension chars take two septets
        ("€" * 81, codec.DC_DEFAULT, 2),
        ("Привет", codec.DC_UCS2, 1),
        ("я" * 70, codec.DC_UCS2, 1),
        ("я" * 71, codec.DC_UCS2, 2),
        ("я" * 134, codec.DC_UCS2, 2),
        ("я" * 135, codec.DC_UCS2, 3),
        ("a`b", codec.DC_UCS2, 1),  # backtick is not in GSM 03.38 (smpplib thinks it is)
        ("x" * 5000, codec.DC_DEFAULT, 33),
        ("ж" * 5000, codec.DC_UCS2, 75),
    ],
)
def test_encoding_choice_and_parts(text: str, data_coding: int, parts: int) -> None:
    encoded = codec.encode_message(text, 7)
    assert encoded.data_coding == data_coding
    assert len(encoded.parts) == parts
    assert codec.count_parts(text) == parts


@pytest.mark.parametrize(
    "text",
    [
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?",
        "¡ABCXYZÄÖÑÜ§¿abcxyzäöñüà",
        "^{}\\[~]|€\x0c",
        "x" * 152 + "€" + "y" * 10,  # the escape pair must not straddle two parts
        "ж" * 66 + "😀" + "ж" * 10,  # a surrogate pair must not straddle two parts
    ],
)
def test_round_trip_through_parts(text: str) -> None:
    encoded = codec.encode_message(text, 200)
    joined = b""
    for index, part in enumerate(encoded.parts, 1):
        sm = ShortMessage(esm_class=encoded.esm_class, short_message=part)
        concat, payload = split_concat(sm)
        if len(encoded.parts) > 1:
            assert concat == codec.Concat(200, len(encoded.parts), index)
        joined += payload
    assert codec.decode_text(encoded.data_coding, joined) == text


@pytest.mark.parametrize(
    ("data_coding", "octets", "text"),
    [
        (0, b"Hello", "Hello"),
        (0, b"\x00\x01\x02", "@£$"),
        (0, b"\x1b\x65 5", "€ 5"),
        (0, b"\x1b\x3c\x1b\x3e", "[]"),
        # ASCII sent as data_coding 0 (Jasmin, smpp.pdu, Kannel's ASCII alt-charset):
        # without a GSM-only octet, "@" "$" "_" "[" … are read as ASCII
        (0, b"ivanov_ivan@mail.ru", "ivanov_ivan@mail.ru"),
        (0, b"Pay [ok] $5 {x} ~ ^ | \\ `", "Pay [ok] $5 {x} ~ ^ | \\ `"),
        (0, b"ivanov\x11ivan\x00mail.ru", "ivanov_ivan@mail.ru"),  # the same in GSM
        (0, b"\x5b\x5c\x5d\x7f", "ÄÖÑà"),  # GSM: 0x7F (à) is no ASCII character
        (0, b"\x1b\x65 \x5b", "€ Ä"),  # GSM: an escape
        (0, b"caf\xe9", "café"),  # Latin-1 sent with data_coding 0
        (0, "день".encode(), "день"),  # UTF-8 sent with data_coding 0
        (1, b"plain ascii", "plain ascii"),
        (3, b"\xe9t\xe9", "été"),
        (8, "Показания 4521".encode("utf-16-be"), "Показания 4521"),
        (8, "ок".encode("utf-16-be") + b"\x00", "ок"),  # odd length: stray octet dropped
        (6, "мир".encode("iso8859-5"), "мир"),
        (0x18, "ок".encode("utf-16-be"), "ок"),  # GSM DCS group: UCS2 alphabet bits
        (0xF0, b"Hi", "Hi"),
        (4, "тест".encode(), "тест"),
    ],
)
def test_decode_by_data_coding(data_coding: int, octets: bytes, text: str) -> None:
    assert codec.decode_text(data_coding, octets) == text


@given(st.integers(0, 255), st.binary(max_size=300))
def test_decode_never_raises(data_coding: int, octets: bytes) -> None:
    assert isinstance(codec.decode_text(data_coding, octets), str)


@given(st.binary(max_size=200))
def test_parse_sm_never_raises(body: bytes) -> None:
    sm = parse_sm(body)
    split_concat(sm)


@given(st.text(max_size=400))
def test_any_text_encodes_and_decodes(text: str) -> None:
    try:
        encoded = codec.encode_message(text, 1)
    except codec.MessageTooLong:
        return
    payload = b"".join(
        split_concat(ShortMessage(esm_class=encoded.esm_class, short_message=p))[1]
        for p in encoded.parts
    )
    decoded = codec.decode_text(encoded.data_coding, payload)
    if encoded.data_coding == codec.DC_UCS2:
        assert decoded == text.encode("utf-16-be", "surrogatepass").decode(
            "utf-16-be", "replace"
        )
    elif decoded != text:
        # GSM text whose only letters outside ASCII are ¡ ¤ Ä Ö Ñ Ü § ¿ ä ö ñ ü and that
        # has no GSM-only octet reads as ASCII (codec._decode_default): only they differ.
        assert decoded.translate(_ASCII_AS_GSM) == text
        assert all(0x20 <= octet < 0x7F or octet in b"\n\r" for octet in payload)


_ASCII_AS_GSM = str.maketrans("$@[\\]^_`{|}~", "¤¡ÄÖÑÜ§¿äöñü")


@pytest.mark.parametrize(
    ("udh", "expected"),
    [
        (b"\x05\x00\x03\x2a\x03\x02", codec.Concat(0x2A, 3, 2)),
        (b"\x06\x08\x04\x01\x02\x02\x01", codec.Concat(0x0102, 2, 1, wide=True)),
        # another IE (port addressing) before the concatenation IE
        (b"\x0b\x05\x04\x0b\x84\x23\xf0\x00\x03\x07\x02\x01", codec.Concat(7, 2, 1)),
        (b"\x05\x00\x03\x2a\x03\x04", None),  # seq > total: nonsense, taken whole
        (b"\x09\x00\x03", None),  # header longer than the message
    ],
)
def test_parse_udh(udh: bytes, expected: codec.Concat | None) -> None:
    concat, _ = codec.parse_udh(udh + b"text")
    assert concat == expected


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("id:1A2B sub:001 dlvrd:001 submit date:2411261200 done date:2411261201 "
         "stat:DELIVRD err:000 text:hi", DeliveryState.DELIVERED),
        ("id:77 sub:001 dlvrd:000 stat:UNDELIV err:001", DeliveryState.FAILED),
        ("id:77 stat:EXPIRED", DeliveryState.EXPIRED),
        ("id:77 stat:REJECTD", DeliveryState.FAILED),
        ("id:77 stat:DELETED", DeliveryState.FAILED),
        ("id:77 stat:UNKNOWN", DeliveryState.FAILED),
        ("id:77 stat:ACCEPTD", DeliveryState.PENDING),
        ("id:77 stat:ENROUTE", DeliveryState.PENDING),
        ("ID:77 STAT:delivered", DeliveryState.DELIVERED),  # full word, other case
        ("id:77 stat:WHATEVER", None),  # unknown: logged and ignored by the channel
    ],
)
def test_receipt_text(text: str, state: DeliveryState | None) -> None:
    parsed = codec.parse_receipt_text(text)
    assert parsed is not None
    assert parsed.id in ("1A2B", "77")
    assert codec.receipt_state(parsed.stat) == state


def test_receipt_text_absent() -> None:
    assert codec.parse_receipt_text("Здравствуйте, показания 4521") is None


def test_worst_state() -> None:
    states = [DeliveryState.DELIVERED, DeliveryState.EXPIRED, DeliveryState.PENDING]
    assert codec.worst_state(states) is DeliveryState.EXPIRED


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (0x58, SendErrorKind.THROTTLED),
        (0x14, SendErrorKind.TEMPORARY),
        (0x08, SendErrorKind.TEMPORARY),
        (0x0B, SendErrorKind.INVALID_ADDRESS),
        (0x45, SendErrorKind.TEMPORARY),
        (0x0A, SendErrorKind.REJECTED),
        (0x62, SendErrorKind.REJECTED),
    ],
)
def test_status_kind(status: int, kind: SendErrorKind) -> None:
    assert codec.status_kind(status) is kind


def test_absolute_time() -> None:
    moscow = timezone(timedelta(hours=3))
    when = datetime(2026, 11, 26, 18, 0, 5, tzinfo=moscow)
    assert codec.absolute_time(when) == "261126150005000+"
    with pytest.raises(ValueError, match="aware"):
        codec.absolute_time(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    assert codec.absolute_time(datetime(2026, 1, 1, tzinfo=UTC)).endswith("000+")


def test_fast_submit_sm_matches_smpplib() -> None:
    """The hand-written encoder produces smpplib's octets for the same fields."""
    sm = ShortMessage(
        source="7555",
        source_ton=0,
        source_npi=1,
        destination="79121234567",
        dest_ton=1,
        dest_npi=1,
        esm_class=0x40,
        data_coding=8,
        registered_delivery=1,
        validity_period="261126150005000+",
        short_message=b"\x05\x00\x03\x01\x02\x01" + "тест".encode("utf-16-be"),
    )
    counter = SequenceCounter()
    reference = smpp.make_pdu(
        "submit_sm",
        client=counter,
        source_addr=sm.source,
        source_addr_ton=0,
        source_addr_npi=1,
        destination_addr=sm.destination,
        dest_addr_ton=1,
        dest_addr_npi=1,
        esm_class=0x40,
        data_coding=8,
        registered_delivery=1,
        validity_period=sm.validity_period,
        short_message=sm.short_message,
        service_type="",
        protocol_id=0,
        priority_flag=0,
        schedule_delivery_time="",
        replace_if_present_flag=0,
        sm_default_msg_id=0,
    )
    assert encode_sm(SUBMIT_SM, reference.sequence, sm) == reference.generate()


def test_fast_parse_matches_smpplib() -> None:
    sm = ShortMessage(
        source="79121234567",
        source_ton=1,
        destination="7555",
        esm_class=4,
        short_message=b"id:1 stat:DELIVRD",
        tlvs={TLV_RECEIPTED_MESSAGE_ID: b"1\0"},
    )
    data = encode_sm(DELIVER_SM, 9, sm)
    reference = smpp.parse_pdu(data, client=SequenceCounter())
    parsed = parse_sm(data[16:])
    assert parsed.source.encode() == reference.source_addr
    assert parsed.short_message == reference.short_message
    assert parsed.tlv_str(TLV_RECEIPTED_MESSAGE_ID) == reference.receipted_message_id.decode()
    assert parsed.esm_class == reference.esm_class


def test_framer_splits_and_rejects() -> None:
    framer = Framer()
    one = encode_sm(SUBMIT_SM, 1, ShortMessage(short_message=b"a"))
    two = encode_sm(SUBMIT_SM, 2, ShortMessage(short_message=b"b"))
    stream = one + two
    assert framer.feed(stream[:10]) == []
    frames = framer.feed(stream[10:])
    assert [frame[2] for frame in frames] == [1, 2]
    with pytest.raises(FrameError):
        framer.feed(b"\x00\x00\x00\x05\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x07")
