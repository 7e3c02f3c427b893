"""Two instances on one PostgreSQL store (docs/interfaces.md §13): each outbox row claimed
by one sender, new work waking every sender, each inbound message handled once, one
conversation at a time, and the singletons on one leader, taken over when it leaves."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.app import Gateway
from bot.core import ChannelName, Inbound, Outbound
from bot.engine import ConversationEngine
from bot.settings import Settings, load_settings
from handlers.base import Context, Outcome
from notifications.sender import OutboxSender
from notifications.wake import PgWake
from parsers.intent import Intent
from storage.cluster import lock_conversation
from storage.db import utcnow
from storage.outbox import PRIORITY_BULK, PRIORITY_REPLY, NewMessage, OutboxRepo
from storage.pg import PgDatabase
from storage.store import Store
from tests.notifications.conftest import T0, FakeChannel

WAIT = 10.0  # seconds: the bound on every wait here
LEASE = timedelta(seconds=60)


@pytest.fixture
async def stores(pg_url: str) -> AsyncIterator[list[Store]]:
    """The stores of two instances: two pools on one database (the first migrates)."""
    opened: list[Store] = []
    try:
        for _ in range(2):
            db = PgDatabase(pg_url)
            await db.open()
            opened.append(Store.over(db))
        yield opened
    finally:
        for store in opened:
            await store.close()


async def until(check: Callable[[], bool], what: str) -> None:
    for _ in range(int(WAIT / 0.01)):  # bounded
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {WAIT:g} s: {what}")


def _message(n: int) -> NewMessage:
    address = f"+7912{n:07d}"
    outbound = Outbound(channel=ChannelName.SMS, address=address, text="x")
    return NewMessage(channel="sms", address=address, payload=outbound.model_dump_json(),
                      idempotency_key=f"m{n}")


async def test_two_senders_never_claim_one_row(stores: list[Store]) -> None:
    """Claims from two instances at once, many rounds: every row claimed, none twice;
    then every lease runs out and both reclaim at once: again each row once."""
    a, b = stores
    for n in range(300):
        await (a if n % 2 else b).outbox.enqueue(_message(n))
    for reclaim in (False, True):
        claimed: list[list[int]] = [[], []]
        for _ in range(200):  # bounded: 300 rows / (2 × 7) a round needs ~22
            now = utcnow() + (LEASE * 2 if reclaim else timedelta(0))
            got = await asyncio.gather(
                a.outbox.claim(now, 7, LEASE), b.outbox.claim(now, 7, LEASE)
            )
            for mine, items in zip(claimed, got, strict=True):
                mine.extend(item.id for item in items)
            if not any(got):
                break
        ids = claimed[0] + claimed[1]
        assert len(ids) == len(set(ids)) == 300
        assert claimed[0]  # both took part
        assert claimed[1]


async def test_work_queued_by_another_instance_wakes_the_sender(
    stores: list[Store], pg_url: str
) -> None:
    """A poll of an hour: only LISTEN/NOTIFY (the trigger of migration 010) can make
    this sender look in time at what the other instance queued."""
    here, there = stores
    sms = FakeChannel(ChannelName.SMS)
    wake = PgWake(pg_url)
    sender = OutboxSender(here.outbox, here.contacts, {"sms": sms}, wake_signal=wake,
                          clock=lambda: T0)
    task = asyncio.create_task(sender.run(poll=3600))
    try:
        await until(lambda: wake._conn is not None, "listening")
        await there.outbox.enqueue(_message(1))
        await until(lambda: len(sms.sent) == 1, "woken by the other instance's commit")
    finally:
        sender.stop()
        await asyncio.wait_for(task, WAIT)


async def test_a_message_journaled_by_both_instances_is_new_once(stores: list[Store]) -> None:
    """A redelivered MO on the other bind, a webhook update posted to two instances:
    the journal keeps the first and says so to the second."""
    a, b = stores
    results = await asyncio.gather(*(
        store.journal.append("sms", f"ext-{n}", "+79120000001", "{}", utcnow())
        for n, store in itertools.product(range(20), (a, b, a, b))
    ))
    by_external: dict[int, list[bool]] = {}
    for (entry_id, new) in results:
        by_external.setdefault(entry_id, []).append(new)
    assert len(by_external) == 20
    assert all(sorted(news) == [False, False, False, True] for news in by_external.values())


async def test_a_conversation_is_held_by_one_instance_at_a_time(
    stores: list[Store], pg_url: str
) -> None:
    a, b = stores
    order: list[str] = []
    held = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with a.db.transaction():
            await lock_conversation(a.db, "sms:+79120000001")
            order.append("a holds")
            held.set()
            await release.wait()
            order.append("a done")

    async def second() -> None:
        await held.wait()
        async with b.db.transaction():
            await lock_conversation(b.db, "sms:+79120000001")
            order.append("b holds")

    async def other_conversation() -> None:
        await held.wait()
        async with b.db.transaction():
            await lock_conversation(b.db, "sms:+79120000002")
            order.append("other holds")

    tasks = [asyncio.create_task(f()) for f in (first, second)]
    await asyncio.wait_for(held.wait(), WAIT)
    await asyncio.wait_for(other_conversation(), WAIT)  # not held up by the first
    # The second instance waits in the store for the conversation's lock.
    conn = await asyncpg.connect(pg_url)
    try:
        waiting = (
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        for _ in range(int(WAIT / 0.01)):  # bounded
            if await conn.fetchval(waiting):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the second instance never waited for the lock")
    finally:
        await conn.close()
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
    assert order == ["a holds", "other holds", "a done", "b holds"]


class CountingHandlers:
    """The use cases as the engine sees them: count the calls, answer «принято»."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, ctx: Context, intent: Intent) -> Outcome:
        self.calls += 1
        await asyncio.sleep(0)
        return Outcome.say("принято")


async def test_an_entry_processed_by_two_instances_is_handled_once(stores: list[Store]) -> None:
    """The leader's recovery of a dead instance's journal may meet the entry still in
    progress elsewhere: the conversation's lock and the processed mark make it once."""
    from parsers import parse

    handlers = CountingHandlers()
    engines = [ConversationEngine(store, handlers, parse) for store in stores]
    inbound = Inbound(channel=ChannelName.SMS, address="+79120000001", text="помощь",
                      external_id="e1", received_at=utcnow())
    entry_id, new = await stores[0].journal.append(
        "sms", "e1", inbound.address, inbound.model_dump_json(), inbound.received_at
    )
    assert new
    await asyncio.wait_for(
        asyncio.gather(*(engine.process(entry_id, inbound) for engine in engines)), WAIT
    )
    assert handlers.calls == 1
    assert await stores[1].journal.is_processed(entry_id)
    assert await OutboxRepo(stores[1].db).sent_to("sms", "+79120000001") == ["принято"]


def _instance_settings(tmp_path: Path, url: str, name: str) -> Settings:
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(
        f'[service]\ninstance_id = "{name}"\nheartbeat_seconds = 0.2\n'
        f'[storage]\nurl = "{url}"\npath = "{tmp_path / (name + ".db")}"\n'
        '[smpp]\nenabled = false\n[demo]\nenabled = false\n[api]\nport = 0\n',
        encoding="utf-8",
    )
    return load_settings(cfg)


async def test_the_singletons_run_on_one_instance_and_move_when_it_leaves(
    pg_url: str, tmp_path: Path
) -> None:
    first = Gateway(_instance_settings(tmp_path, pg_url, "gw1"))
    second = Gateway(_instance_settings(tmp_path, pg_url, "gw2"))
    first_running = True
    await first.start()
    try:
        await second.start()
        try:
            assert first.cluster is not None
            assert second.cluster is not None
            assert (first.cluster.is_leader, second.cluster.is_leader) == (True, False)
            assert "reminders" in first._singletons
            assert second._singletons == {}
            _, health = await second.health()
            assert (health["leader"], health["standby"][0]) == (False, "reminders")
            await until(lambda: second.cluster is not None
                        and second.cluster.live_count() == 2, "both live")
            # each takes half of [smpp] tps_total and of the messengers' limits
            assert second.smpp_share() == 0.5
            first_running = False
            await first.stop()
            await until(lambda: "reminders" in second._singletons, "taken over")
            _, health = await second.health()
            assert health["leader"] is True
            assert health["instances"] == ["gw2"]
        finally:
            await second.stop()
    finally:
        if first_running:
            await first.stop()


async def test_a_conversations_later_message_waits_for_the_earlier_one(
    stores: list[Store],
) -> None:
    """Two messages of one person journaled by two instances; the later one's instance
    is quicker, and waits until the earlier one is handled."""
    from parsers import parse

    texts: list[str] = []

    class Recording(CountingHandlers):
        async def handle(self, ctx: Context, intent: Intent) -> Outcome:
            texts.append(ctx.text)
            return await super().handle(ctx, intent)

    handlers = Recording()
    engines = [ConversationEngine(store, handlers, parse, order_wait=WAIT) for store in stores]
    inbound = [
        Inbound(channel=ChannelName.SMS, address="+79120000001", text=text,
                external_id=f"o{n}", received_at=utcnow())
        for n, text in enumerate(("первое", "второе"))
    ]
    ids = []
    for store, message in zip(stores, inbound, strict=True):
        entry_id, _ = await store.journal.append(
            "sms", message.external_id, message.address, message.model_dump_json(),
            message.received_at,
        )
        ids.append(entry_id)
    later = asyncio.create_task(engines[1].process(ids[1], inbound[1]))
    await until(lambda: engines[1].order_waits == 1, "the later one waits")
    await asyncio.wait_for(engines[0].process(ids[0], inbound[0]), WAIT)
    await asyncio.wait_for(later, WAIT)
    assert texts == ["первое", "второе"]


async def test_the_leader_handles_what_a_dead_instance_journaled(
    pg_url: str, tmp_path: Path
) -> None:
    """An instance journaled an SMS (and acknowledged it) and died before handling it;
    the SMSC will not send it again. The leader finds it once it is older than an
    instance takes to count as dead, and answers it."""
    gateway = Gateway(_instance_settings(tmp_path, pg_url, "survivor"))
    await gateway.start()
    try:
        assert gateway.store is not None
        inbound = Inbound(channel=ChannelName.SMS, address="+79120000009", text="помощь",
                          external_id="orphan-1", received_at=utcnow() - timedelta(seconds=5))
        entry_id, new = await gateway.store.journal.append(
            "sms", "orphan-1", inbound.address, inbound.model_dump_json(), inbound.received_at
        )
        assert new
        store = gateway.store
        for _ in range(int(WAIT / 0.05)):  # bounded
            if await store.journal.is_processed(entry_id):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the leader never handled the dead instance's message")
        assert len(await OutboxRepo(store.db).sent_to("sms", "+79120000009")) == 1
    finally:
        await gateway.stop()


def _to(address: str, key: str, priority: int = PRIORITY_REPLY) -> NewMessage:
    outbound = Outbound(channel=ChannelName.SMS, address=address, text=key)
    return NewMessage(channel="sms", address=address, payload=outbound.model_dump_json(),
                      idempotency_key=key, priority=priority)


async def test_a_recipients_later_message_waits_while_another_instance_sends_an_earlier(
    stores: list[Store],
) -> None:
    """Two replies to one customer must reach the SMSC in order even when two instances
    send them: the second is not claimed while the first is claimed elsewhere; another
    customer's message is; a bulk notice neither holds a reply back nor is held."""
    a, b = stores
    first = await a.outbox.enqueue(_to("+79120000001", "r1"))
    second = await a.outbox.enqueue(_to("+79120000001", "r2"))
    other = await a.outbox.enqueue(_to("+79120000002", "r3"))
    now = utcnow() + timedelta(seconds=1)  # every row queued above is due
    [taken] = await a.outbox.claim(now, 1, LEASE)
    assert taken.id == first
    got = await b.outbox.claim(now, 10, LEASE)
    assert [i.id for i in got] == [other]  # r2 waits for r1, claimed by instance a
    await a.outbox.mark_sent(first, "sms", ["m1"], 1, now)
    got = await b.outbox.claim(now, 10, LEASE)
    assert [i.id for i in got] == [second]

    # One sender taking both in one batch keeps them (its batch keeps the order).
    x = await a.outbox.enqueue(_to("+79120000003", "r4"))
    y = await a.outbox.enqueue(_to("+79120000003", "r5"))
    now = utcnow() + timedelta(seconds=1)
    got = await b.outbox.claim(now, 10, LEASE)
    assert [i.id for i in got] == [x, y]

    # An earlier bulk notice waiting for a sender does not hold a later reply back.
    bulk = await a.outbox.enqueue(_to("+79120000004", "n1", priority=PRIORITY_BULK))
    reply = await a.outbox.enqueue(_to("+79120000004", "r6"))
    now = utcnow() + timedelta(seconds=1)
    got = await b.outbox.claim(now, 1, LEASE)
    assert [i.id for i in got] == [reply]
    got = await a.outbox.claim(now, 10, LEASE)
    assert [i.id for i in got] == [bulk]

    # A notice after a reply in flight elsewhere is not held (notices are not ordered).
    reply = await a.outbox.enqueue(_to("+79120000005", "r7"))
    notice = await a.outbox.enqueue(_to("+79120000005", "n2", priority=PRIORITY_BULK))
    now = utcnow() + timedelta(seconds=1)
    assert [i.id for i in await a.outbox.claim(now, 1, LEASE)] == [reply]
    assert [i.id for i in await b.outbox.claim(now, 10, LEASE)] == [notice]
