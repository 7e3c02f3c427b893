"""SmppSession against the simulator over loopback: binds, throttling, drops, keepalive,
wrong password, malformed PDUs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.core import SendErrorKind
from sms_gateway import codec
from sms_gateway.pdu import ShortMessage
from sms_gateway.session import SmppSession
from sms_gateway.simulator import SmscSimulator

from .conftest import PASSWORD


def part(dest: str, text: str = "hi") -> ShortMessage:
    return ShortMessage(
        source="7555", destination=dest, dest_ton=1, dest_npi=1, short_message=text.encode()
    )


def session(smsc: SmscSimulator, **kw: float) -> SmppSession:
    options: dict[str, float] = {
        "tps": 10_000,
        "window": 10,
        "response_timeout": 2,
        "reconnect_min_delay": 0.05,
        "reconnect_max_delay": 0.2,
        "auth_retry_delay": 0.2,
    }
    options.update(kw)
    return SmppSession(
        "127.0.0.1",
        smsc.port,
        "gateway",
        PASSWORD,
        tps=options["tps"],
        window=int(options["window"]),
        response_timeout=options["response_timeout"],
        reconnect_min_delay=options["reconnect_min_delay"],
        reconnect_max_delay=options["reconnect_max_delay"],
        auth_retry_delay=options["auth_retry_delay"],
        enquire_link_interval=options.get("enquire_link_interval", 30),
    )


async def test_submit_returns_message_id_and_unbinds(smsc: SmscSimulator) -> None:
    async with session(smsc) as smpp:
        assert await smpp.wait_bound(5)
        outcome = await smpp.submit(part("79120000001"))
        assert outcome.ok
        assert outcome.message_id == smsc.submitted[0].message_id
    assert smsc.bound_count() == 0


async def test_throttled_submits_are_retried_and_pace_adapts(smsc: SmscSimulator) -> None:
    smsc.max_tps = 20
    async with session(smsc, tps=200) as smpp:
        assert await smpp.wait_bound(5)
        outcomes = await asyncio.gather(
            *(smpp.submit(part(f"7912000{i:04d}"), within=30) for i in range(60))
        )
        assert all(o.ok for o in outcomes)
        assert smpp.stats.throttled > 0
        assert smpp.pacer.rate < 200  # adapted down instead of hammering
    assert len({p.destination for p in smsc.submitted}) == 60


async def test_drop_with_submits_in_flight_resends_each(smsc: SmscSimulator) -> None:
    smsc.drop_after_submits = 5
    async with session(smsc, window=10) as smpp:
        assert await smpp.wait_bound(5)
        outcomes = await asyncio.gather(
            *(smpp.submit(part(f"7912100{i:04d}"), within=20) for i in range(30))
        )
        assert all(o.ok for o in outcomes)
        assert smpp.stats.resent_after_drop >= 1
        assert smpp.stats.binds == 2
    got = {p.destination for p in smsc.submitted}
    assert got == {f"7912100{i:04d}" for i in range(30)}  # none lost


async def test_enquire_link_timeout_reconnects(smsc: SmscSimulator) -> None:
    smsc.mute_enquire_link = True
    async with session(smsc, enquire_link_interval=0.1, response_timeout=0.3) as smpp:
        assert await smpp.wait_bound(5)
        for _ in range(200):  # bounded wait for the second bind
            if smsc.binds >= 2:
                break
            await asyncio.sleep(0.05)
        assert smsc.binds >= 2
        smsc.mute_enquire_link = False
        assert await smpp.wait_bound(5)
        assert (await smpp.submit(part("79120000002"))).ok


async def test_wrong_password_is_logged_without_secret(
    smsc: SmscSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrongpw1"
    smpp = SmppSession(
        "127.0.0.1",
        smsc.port,
        "gateway",
        wrong,
        response_timeout=1,
        reconnect_min_delay=0.05,
        auth_retry_delay=0.2,
    )
    async with smpp:
        assert not await smpp.wait_bound(0.7)
        outcome = await smpp.submit(part("79120000003"), within=0.2)
    assert outcome.kind is SendErrorKind.CONNECTION  # retryable: the outbox tries later
    assert 2 <= smsc.bind_attempts <= 6  # slow retries, not a crash loop
    assert "ESME_RINVPASWD" in caplog.text
    assert "password" in caplog.text  # the line says what to check ...
    assert wrong not in caplog.text  # ... but never the secret itself
    assert PASSWORD not in caplog.text


async def test_malformed_pdu_gets_generic_nack_and_session_survives(smsc: SmscSimulator) -> None:
    async with session(smsc) as smpp:
        assert await smpp.wait_bound(5)
        # A well-framed PDU with an unknown command_id (SMPP 3.4 §4.3).
        await smsc.send_raw(b"\x00\x00\x00\x10\x00\x00\x00\x77\x00\x00\x00\x00\x00\x00\x00\x2a")
        for _ in range(100):
            if smsc.generic_nacks_received:
                break
            await asyncio.sleep(0.01)
        assert smsc.generic_nacks_received == 1
        assert smpp.is_up()
        assert (await smpp.submit(part("79120000004"))).ok
        assert smpp.stats.binds == 1


async def test_unframeable_stream_reconnects(smsc: SmscSimulator) -> None:
    async with session(smsc) as smpp:
        assert await smpp.wait_bound(5)
        await smsc.send_raw(b"\x00\x00\x00\x03garbage-garbage!")
        outcome = await smpp.submit(part("79120000005"), within=10)
        assert outcome.ok
        assert smsc.generic_nacks_received == 1


@pytest.mark.parametrize(
    ("status", "kind", "sent"),
    [
        (codec.ESME_RINVDSTADR, SendErrorKind.INVALID_ADDRESS, 1),  # permanent: once
        (0x61, SendErrorKind.REJECTED, 1),  # ESME_RINVSCHED: permanent
        (codec.ESME_RMSGQFUL, SendErrorKind.TEMPORARY, 3),  # retried with backoff
    ],
)
async def test_error_statuses(
    smsc: SmscSimulator, status: int, kind: SendErrorKind, sent: int
) -> None:
    smsc.submit_status = status
    async with session(smsc) as smpp:
        smpp.max_temporary_retries = 2
        assert await smpp.wait_bound(5)
        outcome = await smpp.submit(part("79120000006"), within=10)
        assert outcome.kind is kind
        assert outcome.status == status
        assert smpp.stats.submits_sent == sent
