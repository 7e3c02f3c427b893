"""SmsChannel over loopback against the simulator: MO decoding and reassembly in every
variant, the journal-before-ack rule, redelivery, restarts, receipts, long messages."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core import Channel, ChannelName, DeliveryState, Outbound, SendErrorKind
from sms_gateway import codec
from sms_gateway.channel import SmsChannel
from sms_gateway.fragments import MemoryFragmentStore, SqliteFragmentStore
from sms_gateway.simulator import SmscSimulator

from .conftest import PASSWORD, Journal, smpp_settings

PHONE = "+79121234567"
LONG_RU = "Показания счётчика: день 4521, ночь 1876. Лицевой счёт 1234567890. " * 3
LONG_GSM = "Readings for account 1234567890: day 4521 night 1876 [ok] {fine} ~ " * 4


def out(text: str, address: str = PHONE, **kw: object) -> Outbound:
    return Outbound(channel=ChannelName.SMS, address=address, text=text, **kw)  # type: ignore[arg-type]


def test_is_a_channel(channel: SmsChannel) -> None:
    assert isinstance(channel, Channel)
    assert channel.name is ChannelName.SMS


@pytest.mark.parametrize(
    ("text", "coding", "split"),
    [
        ("ЛС 1234567890 день 4521", "ucs2", "udh"),
        ("LS 1234567890 4521 €", "gsm", "udh"),
        ("cafe 4521", "latin1", "udh"),
        (LONG_RU, "ucs2", "udh"),
        (LONG_RU, "ucs2", "udh16"),
        (LONG_RU, "ucs2", "sar"),
        (LONG_RU, "ucs2", "payload"),
        (LONG_GSM, "gsm", "udh"),
        (LONG_GSM, "gsm", "udh16"),
        (LONG_GSM, "gsm", "sar"),
        (LONG_GSM, "gsm", "payload"),
    ],
)
async def test_mo_variants(  # noqa: PLR0917 - fixtures + parametrized cases
    channel: SmsChannel, smsc: SmscSimulator, journal: Journal, text: str, coding: str, split: str
) -> None:
    statuses = await smsc.inject_mo(PHONE, text, coding=coding, split=split)  # type: ignore[arg-type]
    assert set(statuses) == {0}
    assert [m.text for m in journal.inbound] == [text]
    message = journal.inbound[0]
    assert message.address == PHONE
    assert message.to == "7555"
    assert message.received_at.tzinfo is not None


@pytest.mark.parametrize(("source", "plus", "ton"), [("79121234567", False, 1),
                                                     ("79121234567", True, 1),
                                                     ("79121234567", False, 0),
                                                     ("89121234567", False, 0)])
async def test_source_address_forms(  # noqa: PLR0917 - fixtures + parametrized cases
    channel: SmsChannel, smsc: SmscSimulator, journal: Journal, source: str, plus: bool, ton: int
) -> None:
    await smsc.inject_mo(source, "4521", plus=plus, ton=ton)
    assert journal.inbound[0].address == PHONE


async def test_parts_in_any_order(
    channel: SmsChannel, smsc: SmscSimulator, journal: Journal
) -> None:
    total = len(smsc.build_mo(PHONE, LONG_RU))
    order = list(reversed(range(total)))
    await smsc.inject_mo(PHONE, LONG_RU, order=order)
    assert [m.text for m in journal.inbound] == [LONG_RU]
    assert journal.inbound[0].meta["parts"] == str(total)


async def test_ack_only_after_journal(
    channel: SmsChannel, smsc: SmscSimulator, journal: Journal
) -> None:
    journal.fail_next = 1
    smsc.redeliver_unacked = False
    statuses = await smsc.inject_mo(PHONE, "день 4521")
    assert statuses == [codec.ESME_RX_T_APPN]  # not stored: not acknowledged
    assert journal.inbound == []
    assert await smsc.inject_mo(PHONE, "день 4521") == [0]  # the SMSC retries: stored
    assert len(journal.inbound) == 1


async def test_same_text_twice_is_two_messages(
    channel: SmsChannel, smsc: SmscSimulator, journal: Journal
) -> None:
    await smsc.inject_mo(PHONE, "ДА")
    await smsc.inject_mo(PHONE, "ДА")
    assert len(journal.inbound) == 2


async def test_redelivery_after_lost_ack_is_deduplicated(
    smsc: SmscSimulator, journal: Journal
) -> None:
    sms = SmsChannel(
        smpp_settings(smsc.port), MemoryFragmentStore(), reconnect_min_delay=0.05
    )
    dropped = False

    async def on_inbound_then_cut(message: object) -> bool:
        nonlocal dropped
        stored = await journal.on_inbound(message)  # type: ignore[arg-type]
        if not dropped:
            dropped = True
            await smsc.drop_connections()  # the link dies before deliver_sm_resp
        return stored

    await sms.start(on_inbound_then_cut, journal.on_report)
    try:
        statuses = await smsc.inject_mo(PHONE, "день 4521", wait=10)
    finally:
        await sms.stop()
    assert statuses == [0]  # acknowledged on redelivery
    assert len(journal.ids) == 1  # one external id: the journal saw a duplicate
    assert len(journal.inbound) == 1


async def test_parts_survive_restart(
    tmp_path: Path, smsc: SmscSimulator, journal: Journal
) -> None:
    path = tmp_path / "sms_fragments.db"
    parts = len(smsc.build_mo(PHONE, LONG_RU))
    first = SmsChannel(smpp_settings(smsc.port), path, reconnect_min_delay=0.05)
    await first.start(journal.on_inbound, journal.on_report)
    await smsc.inject_mo(PHONE, LONG_RU, order=range(parts - 1))  # all but the last
    await first.stop()
    assert journal.inbound == []
    # The gateway restarts; the SMSC sends the last part (same reference).
    smsc._mo_ref -= 1  # noqa: SLF001 - reuse the reference, as the handset did
    second = SmsChannel(smpp_settings(smsc.port), path, reconnect_min_delay=0.05)
    await second.start(journal.on_inbound, journal.on_report)
    try:
        await smsc.inject_mo(PHONE, LONG_RU, order=[parts - 1])
    finally:
        await second.stop()
    assert [m.text for m in journal.inbound] == [LONG_RU]


async def test_clock_stamps_received_at(smsc: SmscSimulator, journal: Journal) -> None:
    """The channel's clock (the gateway's hook for replayed conversations) is when an MO
    was received, single or reassembled; its readings period follows from it."""
    at = datetime(2026, 11, 25, 20, 59, tzinfo=UTC)  # 23:59 in Moscow: still November
    sms = SmsChannel(smpp_settings(smsc.port), MemoryFragmentStore(), clock=lambda: at)
    await sms.start(journal.on_inbound, journal.on_report)
    try:
        await smsc.inject_mo(PHONE, "день 4521")
        await smsc.inject_mo(PHONE, LONG_RU)
    finally:
        await sms.stop()
    assert [(m.text, m.received_at) for m in journal.inbound] == [
        ("день 4521", at), (LONG_RU, at)
    ]


async def test_incomplete_message_handled_after_timeout(
    smsc: SmscSimulator, journal: Journal
) -> None:
    sms = SmsChannel(
        smpp_settings(smsc.port, reassembly_timeout=0.3), MemoryFragmentStore()
    )
    await sms.start(journal.on_inbound, journal.on_report)
    try:
        total = len(smsc.build_mo(PHONE, LONG_RU))
        await smsc.inject_mo(PHONE, LONG_RU, order=[0])
        await journal.wait(lambda: journal.inbound, within=10)
    finally:
        await sms.stop()
    message = journal.inbound[0]
    assert LONG_RU.startswith(message.text)
    assert message.meta["partial"] == f"1/{total}"


async def test_redelivered_part_of_handled_message_is_dropped(
    channel: SmsChannel, smsc: SmscSimulator, journal: Journal
) -> None:
    parts = smsc.build_mo(PHONE, LONG_RU)
    for sm in parts:
        assert await smsc.deliver(sm) == 0
    assert await smsc.deliver(parts[-1]) == 0  # the SMSC repeats one part
    await channel.sweep()
    assert len(journal.inbound) == 1


async def test_send_gsm_and_ucs2_and_receipts(
    channel: SmsChannel, smsc: SmscSimulator, journal: Journal
) -> None:
    gsm = await channel.send(out("Your reading 4521 is accepted [ok]"))
    ucs2 = await channel.send(out("Показания 4521 приняты"))
    assert gsm.ok
    assert ucs2.ok
    assert [p.sm.data_coding for p in smsc.submitted] == [codec.DC_DEFAULT, codec.DC_UCS2]
    assert smsc.submitted[0].sm.short_message == codec.gsm_encode(
        "Your reading 4521 is accepted [ok]"
    )
    assert smsc.submitted[0].sm.registered_delivery == 1
    assert smsc.submitted[0].sm.source == "7555"
    await journal.wait(lambda: len(journal.reports) == 2)
    assert {r.message_id for r in journal.reports} == {gsm.message_ids[0], ucs2.message_ids[0]}
    assert all(r.state is DeliveryState.DELIVERED for r in journal.reports)


async def test_reply_from_number_written_to_and_validity(
    channel: SmsChannel, smsc: SmscSimulator
) -> None:
    until = codec.now_utc() + timedelta(hours=2)
    result = await channel.send(out("Свет дадут к 18:00", source="7556", valid_until=until))
    assert result.ok
    sm = smsc.submitted[0].sm
    assert sm.source == "7556"
    assert sm.validity_period == codec.absolute_time(until)
    expired = await channel.send(out("поздно", valid_until=codec.now_utc() - timedelta(1)))
    assert expired.error is not None
    assert expired.error.kind is SendErrorKind.EXPIRED


@pytest.mark.parametrize("use_tlvs", [True, False])
async def test_multipart_status_is_worst_part(
    channel: SmsChannel, smsc: SmscSimulator, journal: Journal, use_tlvs: bool
) -> None:
    smsc.receipt_tlvs = use_tlvs  # receipt text only: "id:… stat:…"
    smsc.receipt_stat = "DELIVRD"
    result = await channel.send(out(LONG_RU))
    assert result.ok
    assert result.parts == len(result.message_ids) > 1
    await journal.wait(lambda: any(r.state is DeliveryState.DELIVERED for r in journal.reports))
    final = journal.reports[-1]
    assert final.message_id == result.message_ids[0]
    assert final.extra["reported"] == str(result.parts)

    journal.reports.clear()
    smsc.receipt_stats = {"79121234568": "UNDELIV"}
    failed = await channel.send(out(LONG_RU, address="+79121234568"))
    await journal.wait(lambda: any(r.state is DeliveryState.FAILED for r in journal.reports))
    assert {r.message_id for r in journal.reports} == {failed.message_ids[0]}
    assert DeliveryState.DELIVERED not in {r.state for r in journal.reports}


async def test_unknown_receipt_state_is_logged_and_ignored(
    channel: SmsChannel, smsc: SmscSimulator, journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    smsc.receipt_stat = "WEIRD"
    smsc.receipt_tlvs = False
    caplog.set_level(logging.WARNING)
    assert (await channel.send(out("hello"))).ok
    await smsc.inject_mo(PHONE, "sync")  # receipts go first on the same link
    assert journal.reports == []
    assert "WEIRD" in caplog.text


async def test_five_thousand_characters(channel: SmsChannel, smsc: SmscSimulator) -> None:
    text = ("Уведомление о плановом отключении электроэнергии. " * 100)[:5000]
    result = await channel.send(out(text))
    assert result.ok
    assert result.parts == 75
    assert await smsc.wait_messages(PHONE, 1, 20) == [text]


async def test_phones_masked_and_password_absent_in_logs(
    smsc: SmscSimulator, journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sms = SmsChannel(smpp_settings(smsc.port), MemoryFragmentStore())
    await sms.start(journal.on_inbound, journal.on_report)
    try:
        await smsc.inject_mo(PHONE, "день 4521")
        await sms.send(out("ok"))
    finally:
        await sms.stop()
    assert PASSWORD not in caplog.text
    assert "79121234567" not in caplog.text
    assert "+7912***4567" in caplog.text


async def test_inject_and_wait_returns_replies(smsc: SmscSimulator, journal: Journal) -> None:
    sms = SmsChannel(smpp_settings(smsc.port), MemoryFragmentStore())

    async def echo(message: object) -> bool:
        stored = await journal.on_inbound(message)  # type: ignore[arg-type]
        inbound = journal.inbound[-1]
        asyncio.get_running_loop().create_task(
            sms.send(out("Принято: " + inbound.text, address=inbound.address, source=inbound.to))
        )
        return stored

    await sms.start(echo, journal.on_report)
    try:
        replies = await smsc.inject_and_wait(PHONE, "7555", "день 4521", timeout=5, quiet=0.2)
    finally:
        await sms.stop()
    assert replies == ["Принято: день 4521"]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_fragment_store_contract(kind: str, tmp_path: Path) -> None:
    from sms_gateway.fragments import Fragment

    store = MemoryFragmentStore() if kind == "memory" else SqliteFragmentStore(tmp_path / "f.db")
    async with store:
        now = codec.now_utc()
        old = Fragment("k", 1, 2, 2, b"b", 8, "+7", "7555", now - timedelta(minutes=10))
        new = Fragment("k", 1, 2, 1, b"a", 8, "+7", "7555", now)
        assert await store.add(old)
        assert not await store.add(old)
        assert await store.add(new)
        assert [f.seq for f in await store.parts("k")] == [1, 2]
        assert await store.expired(now - timedelta(minutes=5)) == ["k"]
        assert await store.expired(now - timedelta(minutes=20)) == []
        await store.delete("k")
        assert await store.parts("k") == []
        assert await store.seen_count("d") == 0
        await store.note_seen(["d"], now)
        await store.note_seen(["d"], now)
        assert await store.seen_count("d") == 2
        assert await store.forget_seen(now + timedelta(seconds=1)) == 1


async def test_retry_of_a_half_sent_multipart_sends_only_the_missing_parts(
    smsc: SmscSimulator, journal: Journal
) -> None:
    # A multipart send that failed after part 1 was accepted was retried whole by the
    # outbox: the phone got part 1 twice and, with a new reference, could not join them.
    # Throttled by count, not by the simulator's wall-clock second (which let part 2
    # through whenever the second rolled over during the send: a flaky test).
    sms = SmsChannel(
        smpp_settings(smsc.port), MemoryFragmentStore(), send_timeout=1.0,
        reconnect_min_delay=0.05,
    )
    await sms.start(journal.on_inbound, journal.on_report)
    try:
        smsc.throttle_after_submits = 1  # part 1 goes, every later submit is throttled
        message = out(LONG_RU, ref="4242")
        first = await sms.send(message)
        assert not first.ok
        assert first.error is not None
        assert first.error.kind is SendErrorKind.THROTTLED
        assert first.error.detail.startswith("part 2/3")
        assert smsc.accepted == 1
        smsc.throttle_after_submits = None
        # The bind's pacer slowed to ~1/s after the throttles: give the retry time for
        # its two parts (with 1 s it ran out before part 3: "SMSC not bound").
        sms.send_timeout = 10
        again = await sms.send(message)
        assert again.ok
        assert again.parts == len(again.message_ids) == 3
        assert smsc.accepted == 3  # no part twice
        assert await smsc.wait_messages(PHONE, 1, 5) == [LONG_RU]
    finally:
        await sms.stop()
