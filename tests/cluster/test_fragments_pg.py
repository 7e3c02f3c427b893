"""MO parts shared by instances (sms_gateway/fragments_pg.py, docs/interfaces.md §13): a
long SMS whose parts arrive on two binds, at two instances, is handled once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta

import asyncpg
import pytest

from sms_gateway import codec
from sms_gateway.channel import SmsChannel
from sms_gateway.fragments import Fragment, FragmentStore
from sms_gateway.fragments_pg import PgFragmentStore
from sms_gateway.simulator import SmscSimulator
from tests.sms_gateway.conftest import PASSWORD, Journal, smpp_settings

PHONE = "+79120000001"
LONG_RU = (
    "Здравствуйте, передаю показания счётчика по лицевому счёту 1234567890: день 4521, "
    "ночь 1876. Прошу проверить начисление за прошлый месяц, оно кажется завышенным."
)


@contextlib.asynccontextmanager
async def two_instances(
    stores: Sequence[FragmentStore], journal: Journal
) -> AsyncIterator[tuple[SmscSimulator, SmscSimulator]]:
    """Two SMSCs, each connected to a channel of its own with the store given: two
    instances on one database, both writing to `journal`."""
    async with SmscSimulator(password=PASSWORD) as one, SmscSimulator(password=PASSWORD) as two:
        channels = [
            SmsChannel(smpp_settings(smsc.port), store, reconnect_min_delay=0.05)
            for smsc, store in zip((one, two), stores, strict=True)
        ]
        for channel in channels:
            await channel.start(journal.on_inbound, journal.on_report)
        try:
            yield one, two
        finally:
            for channel in channels:
                await channel.stop()


@pytest.fixture
async def pools(pg_dsn: str) -> AsyncIterator[list[asyncpg.Pool]]:
    """Two pools on one database: the stores of two instances."""
    opened = [await asyncpg.create_pool(pg_dsn, min_size=1, max_size=4) for _ in range(2)]
    try:
        yield opened
    finally:
        for pool in opened:
            await pool.close()


async def test_pg_fragment_store_keeps_the_contract(pools: list[asyncpg.Pool]) -> None:
    """The same contract as tests/sms_gateway/test_channel.py's, and what one instance
    stores the other reads."""
    store: FragmentStore = PgFragmentStore(pools[0])
    other: FragmentStore = PgFragmentStore(pools[1])
    now = codec.now_utc()
    old = Fragment("k", 1, 2, 2, b"b\x00", 8, "+7", "7555", now - timedelta(minutes=10))
    new = Fragment("k", 1, 2, 1, b"a", 8, "+7", "7555", now)
    assert await store.add(old)
    assert not await other.add(old)
    assert await other.add(new)
    assert [(f.seq, f.data) for f in await store.parts("k")] == [(1, b"a"), (2, b"b\x00")]
    assert (await store.parts("k"))[1] == old
    assert await other.expired(now - timedelta(minutes=5)) == ["k"]
    assert await other.expired(now - timedelta(minutes=20)) == []
    await other.delete("k")
    assert await store.parts("k") == []
    assert await store.seen_count("d") == 0
    await store.note_seen(["d"], now)
    await other.note_seen(["d", "e", "d"], now)
    assert (await store.seen_count("d"), await other.seen_count("e")) == (3, 1)
    assert await other.forget_seen(now + timedelta(seconds=1)) == 2
    assert await store.seen_count("d") == 0


@pytest.mark.parametrize("last_at", ["second", "both"])
async def test_a_long_sms_split_over_two_instances_is_handled_once(
    pools: list[asyncpg.Pool], last_at: str
) -> None:
    """Parts come over two SMSC connections to two channels with their own stores on one
    database; the instance that gets the last part hands the message over. With `both`
    the SMSC sends the last part to each instance at once (a redelivery racing the
    first): both may find it complete, and hand over the same external id."""
    journal = Journal()  # de-duplicates on external_id, as the shared journal does
    deleted = asyncio.Event()

    class Store(PgFragmentStore):
        async def delete(self, key: str) -> None:
            await super().delete(key)
            deleted.set()

    stores = [Store(pool) for pool in pools]
    async with two_instances(stores, journal) as (one, two):
        parts = one.build_mo(PHONE, LONG_RU)
        assert len(parts) >= 2
        first = [one.deliver(sm, 10) for sm in parts[:-1]]
        assert await asyncio.gather(*first) == [0] * (len(parts) - 1)
        assert journal.inbound == []
        last = [two.deliver(parts[-1], 10)]
        if last_at == "both":
            last.append(one.deliver(parts[-1], 10))
        assert set(await asyncio.gather(*last)) == {0}
        await journal.wait(lambda: len(journal.inbound) == 1)
        # The parts are deleted once the deliver_sm_resp is out: nothing is left
        # for a sweeper to hand over as a partial message later.
        await asyncio.wait_for(deleted.wait(), 10)
        assert await stores[0].expired(codec.now_utc() + timedelta(days=1)) == []
    assert [m.text for m in journal.inbound] == [LONG_RU]
    assert journal.inbound[0].meta == {"parts": str(len(parts))}


async def test_a_long_sms_found_complete_by_a_late_instance_is_handled_once(
    pools: list[asyncpg.Pool],
) -> None:
    """The race of the two-instance end-to-end test, made to happen every time: the last
    part reaches instance A, and again instance B (a redelivery); both find the message
    complete, and B looks only after A has journaled, acknowledged and counted it. B
    must still hand over the same external id, so the journal keeps one message."""
    journal = Journal()
    a_stored, b_complete, a_counted = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def until(event: asyncio.Event) -> None:
        # Bounded: on a timeout the test goes on and fails by its assertions.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), 10)

    class StoreA(PgFragmentStore):
        async def add(self, fragment: Fragment) -> bool:
            added = await super().add(fragment)
            if fragment.seq == fragment.total:
                a_stored.set()
            return added

        async def note_seen(self, digests: Sequence[str], at: datetime) -> None:
            await super().note_seen(digests, at)
            a_counted.set()  # A acknowledged the message and noted what it had seen

        async def delete(self, key: str) -> None:
            await until(b_complete)  # B has read every part by now
            await super().delete(key)

    class StoreB(PgFragmentStore):
        async def parts(self, key: str) -> list[Fragment]:
            found = await super().parts(key)
            if found and len({f.seq for f in found}) == found[0].total:
                b_complete.set()
            return found

        async def seen_count(self, digest: str) -> int:
            if digest.startswith("mo:"):
                await until(a_counted)  # B is late: A has acknowledged and counted it
            return await super().seen_count(digest)

    async with two_instances([StoreA(pools[0]), StoreB(pools[1])], journal) as (one, two):
        parts = one.build_mo(PHONE, LONG_RU)
        first = [one.deliver(sm, 10) for sm in parts[:-1]]
        assert await asyncio.gather(*first) == [0] * (len(parts) - 1)
        to_a = asyncio.create_task(one.deliver(parts[-1], 10))
        await until(a_stored)
        to_b = asyncio.create_task(two.deliver(parts[-1], 10))
        assert await asyncio.gather(to_a, to_b) == [0, 0]
        assert b_complete.is_set()
        await until(a_counted)  # A's count follows its deliver_sm_resp
        assert a_counted.is_set()
    assert [m.text for m in journal.inbound] == [LONG_RU]
