"""The sender as the service runs it: pipelined claims, one log line per message and
per receipt, wake-up from another process, and a stuck sender seen by /healthz."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.app import Gateway
from bot.core import ChannelName, DeliveryReport, DeliveryState, Outbound, SendResult
from bot.settings import load_settings
from notifications.sender import OutboxSender
from notifications.wake import LocalWake
from storage.campaigns import CampaignRepo
from storage.db import to_db, utcnow
from storage.outbox import PRIORITY_BULK, NewMessage
from storage.store import Store
from tests.notifications.conftest import T0, FakeChannel, statuses
from tests.notifications.test_sender import message, sender

WAIT = 10.0  # seconds: the bound on every wait here
PHONE = "+79121234567"
ROOT = Path(__file__).resolve().parents[2]


async def until(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not check():
        assert loop.time() < deadline, f"not within {WAIT:g} s: {what}"
        await asyncio.sleep(0.01)


class BlockingChannel(FakeChannel):
    """Holds sends to one address until released (a submit that takes long)."""

    def __init__(self, slow: str) -> None:
        super().__init__(ChannelName.SMS)
        self.slow = slow
        self.release = asyncio.Event()

    async def send(self, outbound: Outbound) -> SendResult:
        if outbound.address == self.slow:
            await self.release.wait()
        return await super().send(outbound)


async def test_run_claims_ahead_instead_of_waiting_for_a_batch(store: Store) -> None:
    # Batch-and-wait would hold every later message behind the slow one in its batch.
    slow = "+79120000000"
    channel = BlockingChannel(slow)
    for i in range(40):
        await store.outbox.enqueue(message("sms", f"+7912000{i:04d}", "x"))
    s = sender(store, channel, batch_size=5, max_in_flight=20, clock=lambda: T0)
    task = asyncio.create_task(s.run(poll=0.05))
    try:
        await until(lambda: len(channel.sent) == 39, "the others go past the slow one")
        assert slow not in channel.addresses
        channel.release.set()
        await until(lambda: len(channel.sent) == 40, "the slow one goes too")
    finally:
        s.stop()
        await task
    assert set((await statuses(store)).values()) == {"sent"}


async def test_one_address_keeps_its_order_across_batches(store: Store) -> None:
    channel = BlockingChannel(slow="nobody")
    for i in range(12):
        await store.outbox.enqueue(message("sms", PHONE, f"m{i}"))
    s = sender(store, channel, batch_size=2, max_in_flight=12, clock=lambda: T0)
    task = asyncio.create_task(s.run(poll=0.05))
    try:
        await until(lambda: len(channel.sent) == 12, "all sent")
    finally:
        s.stop()
        await task
    assert channel.texts == [f"m{i}" for i in range(12)]


async def test_a_batch_cut_short_leaves_no_address_waiting(store: Store) -> None:
    # A batch takes every address's turn before its workers reach them: cut short (the
    # service stopping), it must give back the turns it never reached, or the next
    # message to such an address would wait for a delivery that never comes.
    slow, other = "+79120000000", "+79120000001"

    class Held(BlockingChannel):
        def __init__(self) -> None:
            super().__init__(slow)
            self.holding = asyncio.Event()

        async def send(self, outbound: Outbound) -> SendResult:
            if outbound.address == slow:
                self.holding.set()
            return await super().send(outbound)

    channel = Held()
    await store.outbox.enqueue(message("sms", slow, "a"))
    await store.outbox.enqueue(message("sms", other, "b"))
    s = sender(store, channel, concurrency=1, clock=lambda: T0)
    step = asyncio.create_task(s.step(T0))
    await asyncio.wait_for(channel.holding.wait(), WAIT)  # the one worker is on `slow`
    step.cancel()
    with pytest.raises(asyncio.CancelledError):
        await step
    channel.release.set()
    await store.outbox.enqueue(message("sms", other, "c"))
    later = T0 + timedelta(minutes=5)  # past the cut batch's leases
    await asyncio.wait_for(s.drain(later), WAIT)
    assert channel.texts.count("b") == channel.texts.count("c") == 1
    assert channel.texts.index("b") < channel.texts.index("c")


async def test_a_sent_message_and_its_receipt_leave_one_masked_line_each(
    store: Store, sms: FakeChannel, caplog: pytest.LogCaptureFixture
) -> None:
    row = await store.outbox.enqueue(message("sms", PHONE, "Счёт готов"))
    s = sender(store, sms)
    with caplog.at_level(logging.INFO, logger="notifications.sender"):
        await s.drain(T0)
        await s.on_report(DeliveryReport(ChannelName.SMS, "sms-1", DeliveryState.DELIVERED, T0))
    records = [r for r in caplog.records if r.name == "notifications.sender"]
    sent = [r for r in records if getattr(r, "event", None) == "sent"]
    receipts = [r for r in records if getattr(r, "event", None) == "receipt"]
    assert len(sent) == len(receipts) == 1
    assert len(records) == 2
    for record, outcome in ((sent[0], "sent"), (receipts[0], "delivered")):
        line = record.getMessage()
        assert PHONE not in line
        assert "+7912***4567" in line
        assert "sms-1" in line
        assert record.__dict__["outbox_id"] == row
        assert record.__dict__["phone"] == "+7912***4567"
        assert record.__dict__["outcome"] == outcome
    assert sent[0].__dict__["parts"] == 1


async def test_a_signal_from_another_process_wakes_the_sender(
    store: Store, sms: FakeChannel, tmp_path: Path
) -> None:
    # A poll of an hour: only the wake-up can make it look in time.
    wake = LocalWake(tmp_path / "g.db")
    s = sender(store, sms, wake_signal=wake, clock=lambda: T0)
    task = asyncio.create_task(s.run(poll=3600))
    try:
        await until(lambda: wake._transport is not None, "listening")
        await store.outbox.enqueue(message("sms", PHONE, "x", priority=PRIORITY_BULK))
        code = (
            "import sys; from notifications.wake import LocalWake;"
            " LocalWake(sys.argv[1]).notify()"
        )
        await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", code, str(tmp_path / "g.db")],
            check=True, timeout=WAIT, cwd=ROOT,
        )
        await until(lambda: len(sms.sent) == 1, "woken by the other process")
    finally:
        s.stop()
        await task


async def test_another_store_does_not_wake_this_sender(tmp_path: Path) -> None:
    woken: list[int] = []
    here = LocalWake(tmp_path / "a.db")
    assert await here.listen(lambda: woken.append(1))
    try:
        assert not await LocalWake(tmp_path / "a.db").listen(lambda: None)  # one listener
        LocalWake(tmp_path / "b.db").notify()
        LocalWake(tmp_path / "a.db").notify()
        await until(lambda: woken == [1], "the same store's signal arrives")
    finally:
        await here.close()


async def test_healthz_sees_a_stuck_sender_and_the_sender_recovers_it(tmp_path: Path) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        f'[storage]\npath = "{tmp_path / "g.db"}"\n[smpp]\nport = 0\n[api]\nport = 0\n',
        encoding="utf-8",
    )
    async with Gateway(load_settings(cfg)) as gw:
        assert gw.store is not None
        assert gw.sender is not None
        gw.sender.stop()  # replies stop: the sender is stuck
        # A reply claimed by it whose lease ran out long ago.
        outbound = Outbound(channel=ChannelName.SMS, address=PHONE, text="Показания приняты")
        row = await gw.store.outbox.enqueue(
            NewMessage("sms", PHONE, outbound.model_dump_json(), status="sending")
        )
        await gw.store.db.execute(
            "UPDATE outbox SET lease_until = ? WHERE id = ?",
            (to_db(utcnow() - timedelta(minutes=5)), row),
        )
        assert gw.api is not None
        url = f"http://127.0.0.1:{gw.api.port}/healthz"
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            body = await resp.json()
        assert resp.status == 503
        assert "sender" in body["down"]

        # A sender running again takes the row over and sends it.
        again = OutboxSender.from_settings(gw.store, gw.settings, gw.channels)
        again.journal = gw.sender.journal
        task = asyncio.create_task(again.run(poll=0.05), name="outbox-sender")
        gw._tasks.append(task)
        simulator = gw.simulator
        assert simulator is not None
        await until(lambda: bool(simulator.messages_to(PHONE)), "the stuck reply is sent")
        healthy, body = await gw.health()
        assert healthy, body
        again.stop()


async def test_campaign_progress_goes_to_the_service_log(
    store: Store, sms: FakeChannel, caplog: pytest.LogCaptureFixture
) -> None:
    campaign = await store.db.fetchval(
        "INSERT INTO campaigns (kind, status, created_at) VALUES ('invoice', 'active', ?)"
        " RETURNING id",
        (to_db(T0),),
    )
    for i in range(3):
        row = message("sms", f"+7912000{i:04d}", "Счёт готов")
        await store.outbox.enqueue(dataclasses.replace(row, campaign_id=campaign))
    s = sender(store, sms, progress=CampaignRepo(store.db), progress_every=0.0,
               clock=lambda: T0)
    with caplog.at_level(logging.INFO, logger="notifications.sender"):
        task = asyncio.create_task(s.run(poll=0.05))
        try:
            def reported_done() -> bool:
                return any(
                    getattr(r, "event", None) == "campaign_progress"
                    and r.__dict__["sent"] == 3
                    for r in caplog.records
                )

            await until(reported_done, "the campaign's last progress line")
        finally:
            s.stop()
            await task
    lines = [r for r in caplog.records if getattr(r, "event", None) == "campaign_progress"]
    assert lines[0].__dict__["campaign"] == campaign
    assert lines[0].__dict__["recipients"] == 3
    assert f"campaign {campaign} (invoice): recipients 3" in lines[-1].getMessage()


async def test_a_message_held_longer_than_its_lease_is_not_taken_over(store: Store) -> None:
    # A slow SMSC: the sender still holds the row when its first lease would run out;
    # renewed, it is not claimed (and sent) a second time meanwhile.
    channel = BlockingChannel(PHONE)
    row = await store.outbox.enqueue(message("sms", PHONE, "x"))
    lease = timedelta(seconds=1.5)
    s = sender(store, channel, lease=lease)
    task = asyncio.create_task(s.run(poll=0.05))
    try:
        await until(lambda: row in s._holding, "the row is held")
        await asyncio.sleep(2 * lease.total_seconds())  # two leases' worth of holding
        assert await store.outbox.claim(utcnow(), 10, lease) == []
        assert await store.outbox.stuck(utcnow()) == 0
        channel.release.set()
        await until(lambda: len(channel.sent) == 1, "sent once")
    finally:
        s.stop()
        await task
    assert (await statuses(store))[row] == "sent"


async def test_the_service_loop_expires_early_receipts(store: Store, sms: FakeChannel) -> None:
    # 20 000 receipts for ids never ours were kept forever (issue 13): now they expire.
    await store.outbox.report("sms", "NEVER-OURS", "delivered", T0 - timedelta(minutes=11))
    await store.outbox.report("sms", "RECENT", "delivered", T0 - timedelta(minutes=1))

    async def kept() -> list[str]:
        rows = await store.db.fetchall("SELECT message_id FROM early_receipts")
        return [r["message_id"] for r in rows]

    s = sender(store, sms, early_receipt_ttl=timedelta(minutes=10), clock=lambda: T0)
    task = asyncio.create_task(s.run(poll=0.05))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while await kept() != ["RECENT"]:
            assert loop.time() < deadline, "the old receipt is not expired"
            await asyncio.sleep(0.01)
    finally:
        s.stop()
        await task
