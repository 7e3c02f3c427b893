"""Presence and leadership of instances on one PostgreSQL store (storage/cluster.py,
docs/interfaces.md §13): one leader among live instances, taken over when it dies."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from storage.cluster import LIVE_PERIODS, PgCluster, SoloCluster

BEAT = 0.2  # heartbeat of the tests' instances (seconds)
WITHIN = 10.0  # bound of every wait


class Log:
    """The leadership callbacks an instance got, in order."""

    def __init__(self) -> None:
        self.calls: list[bool] = []
        self.changed = asyncio.Event()

    async def __call__(self, leader: bool) -> None:
        self.calls.append(leader)
        self.changed.set()


async def until(predicate: Any, clusters: list[PgCluster]) -> None:
    """Wait (bounded) for heartbeats until `predicate()` holds."""
    async with asyncio.timeout(WITHIN):
        while not predicate():
            await asyncio.gather(*(c.wait_heartbeats(c.heartbeats + 1) for c in clusters))


def kill(cluster: PgCluster) -> None:
    """What SIGKILL does to an instance: its loop stops and its socket closes, with no
    goodbye (its row stays in `instances`, its lock goes with the connection)."""
    assert cluster._task is not None
    cluster._task.cancel()
    cluster._conn.terminate()


async def test_solo_cluster_is_the_leader_alone() -> None:
    log = Log()
    solo = SoloCluster("gw1")
    await solo.start(log)
    assert solo.is_leader
    assert (solo.live_count(), solo.share()) == (1, 1.0)
    assert [i.id for i in await solo.instances()] == ["gw1"]
    await solo.stop()
    assert not solo.is_leader
    assert log.calls == [True, False]


async def test_one_leader_among_instances_and_each_takes_its_share(pg_dsn: str) -> None:
    logs = [Log() for _ in range(3)]
    clusters = [PgCluster(pg_dsn, f"gw{n}", heartbeat=BEAT) for n in range(3)]
    for cluster, log in zip(clusters, logs, strict=True):
        await cluster.start(log)
    try:
        # The first to start took the lock in its first heartbeat, inside start().
        assert [c.is_leader for c in clusters] == [True, False, False]
        await until(lambda: all(c.live_count() == 3 for c in clusters), clusters)
        assert [c.share() for c in clusters] == [pytest.approx(1 / 3)] * 3
        assert [i.id for i in await clusters[2].instances()] == ["gw0", "gw1", "gw2"]
        # Followers keep trying, and never get it while the leader lives.
        await until(lambda: min(c.heartbeats for c in clusters) >= 5, clusters)
        assert [c.is_leader for c in clusters] == [True, False, False]
        assert [log.calls for log in logs] == [[True], [], []]
    finally:
        for cluster in clusters:
            await cluster.stop()
    assert logs[0].calls == [True, False]


async def test_a_killed_leader_is_taken_over_and_left_out_of_the_count(pg_dsn: str) -> None:
    old, new = PgCluster(pg_dsn, "old", heartbeat=BEAT), PgCluster(pg_dsn, "new", heartbeat=BEAT)
    new_log = Log()
    await old.start()
    await new.start(new_log)
    try:
        assert (old.is_leader, new.is_leader) == (True, False)
        await until(lambda: new.live_count() == 2, [new])
        kill(old)
        # The lock went with the connection: taken at the follower's next try.
        await until(lambda: new.is_leader, [new])
        assert new_log.calls == [True]
        # Its row stays until the heartbeat is LIVE_PERIODS old; then one live.
        await until(lambda: new.live_count() == 1, [new])
        assert [i.id for i in await new.instances()] == ["new"]
    finally:
        await new.stop()


async def test_a_leader_that_loses_its_connection_steps_down(pg_dsn: str) -> None:
    """The server ends the leader's session (a network cut, an administrator): its next
    heartbeat fails, it gives up leadership before knowing who has it, reconnects and
    is a follower or the leader again, never both leaders at once."""
    logs = [Log(), Log()]
    a, b = (PgCluster(pg_dsn, name, heartbeat=BEAT) for name in ("a", "b"))
    await a.start(logs[0])
    await b.start(logs[1])
    try:
        pid = a._conn.get_server_pid()
        admin = await asyncpg.connect(pg_dsn)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        async with asyncio.timeout(WITHIN):
            while logs[0].calls[:2] != [True, False]:
                logs[0].changed.clear()
                await logs[0].changed.wait()
        await until(lambda: a.is_leader or b.is_leader, [a, b])
        assert a.is_leader != b.is_leader
        held = await _lock_holders(pg_dsn)
        assert held == 1
    finally:
        await a.stop()
        await b.stop()


async def test_a_stopped_leader_hands_over_and_leaves_at_once(pg_dsn: str) -> None:
    a, b = PgCluster(pg_dsn, "a", heartbeat=BEAT), PgCluster(pg_dsn, "b", heartbeat=BEAT)
    await a.start()
    await b.start()
    try:
        await until(lambda: b.live_count() == 2, [b])
        await a.stop()
        # Gone from `instances` at once, not after LIVE_PERIODS heartbeats.
        await until(lambda: b.is_leader, [b])
        assert b.heartbeats < 1 + 2 * LIVE_PERIODS + 50
        assert b.live_count() == 1
    finally:
        await b.stop()


async def test_an_unreachable_store_fails_the_start() -> None:
    cluster = PgCluster("postgresql://postgres@127.0.0.1:1/none", "gw", heartbeat=BEAT)
    with pytest.raises(OSError, match="instance gw"):
        await cluster.start()
    assert not cluster.is_leader


async def _lock_holders(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = $1 AND objid = 1 AND objsubid = 2"
                # pg_locks shows every database's locks: other tests' leaders too
                " AND database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database())",
                0x73627974,
            )
        )
    finally:
        await conn.close()
