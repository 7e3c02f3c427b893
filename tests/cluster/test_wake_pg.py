"""LISTEN/NOTIFY wake-up of the outbox senders (notifications/wake.py: PgWake, migration
010_outbox_notify): work queued through any connection wakes every listening instance."""

from __future__ import annotations

import asyncio
from importlib import resources

import asyncpg
import pytest

from notifications.wake import PgWake

WITHIN = 10.0


@pytest.fixture
async def outbox_dsn(pg_dsn: str) -> str:
    """A stand-in `outbox` with the column the trigger watches, and the trigger."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute("CREATE TABLE outbox (id BIGSERIAL PRIMARY KEY, status TEXT NOT NULL)")
        sql = (resources.files("storage") / "migrations" / "010_outbox_notify.pg.sql").read_text()
        await conn.execute(sql)
    finally:
        await conn.close()
    return pg_dsn


class Wakes:
    def __init__(self) -> None:
        self.count = 0
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self.event.set()

    async def next(self) -> None:
        await asyncio.wait_for(self.event.wait(), WITHIN)
        self.event.clear()


@pytest.mark.parametrize(
    ("statement", "wakes"),
    [
        ("INSERT INTO outbox (status) VALUES ('queued')", True),
        ("INSERT INTO outbox (status) SELECT 'queued' FROM generate_series(1, 500)", True),
        ("UPDATE outbox SET status = 'queued' WHERE status = 'held'", True),  # approved
        ("UPDATE outbox SET status = 'sending' WHERE status = 'queued'", False),  # a claim
        ("UPDATE outbox SET status = 'sent' WHERE status = 'sending'", False),
        ("DELETE FROM outbox", False),
    ],
)
async def test_queued_work_wakes_every_listener(
    outbox_dsn: str, statement: str, wakes: bool
) -> None:
    writer = await asyncpg.connect(outbox_dsn)
    await writer.execute(
        "INSERT INTO outbox (status) VALUES ('held'), ('queued'), ('sending')"
    )
    listeners = [PgWake(outbox_dsn), PgWake(outbox_dsn)]
    seen = [Wakes(), Wakes()]
    try:
        for wake, got in zip(listeners, seen, strict=True):
            assert await wake.listen(got)
        await writer.execute(statement)
        # A marker after it: once each listener has the marker's wake, it would have had
        # the statement's too (notifications arrive in commit order).
        await writer.execute("INSERT INTO outbox (status) VALUES ('marker')")
        for got in seen:
            await got.next()
            if wakes:
                # One wake per transaction, however many rows (NOTIFY folds duplicates);
                # the marker's may have come in the same delivery or after.
                assert got.count in (1, 2)
                if got.count == 1:
                    await got.next()
                assert got.count == 2
            else:
                assert got.count == 1
    finally:
        for wake in listeners:
            await wake.close()
        await writer.close()


async def test_a_listener_that_lost_its_connection_listens_again(outbox_dsn: str) -> None:
    wake, got = PgWake(outbox_dsn, retry=0.05), Wakes()
    writer = await asyncpg.connect(outbox_dsn)
    try:
        assert await wake.listen(got)
        pid = wake._conn.get_server_pid()
        assert await writer.fetchval("SELECT pg_terminate_backend($1)", pid)
        await got.next()  # the wake after listening again (something may have been missed)
        await writer.execute("INSERT INTO outbox (status) VALUES ('queued')")
        await got.next()
        assert got.count == 2
    finally:
        await wake.close()
        await writer.close()
