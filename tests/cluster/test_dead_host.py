"""A leader whose HOST dies, not its process (storage/cluster.py, docs/operations.md
"Several instances"): no FIN reaches the server, yet the server ends its session and
another instance leads within the contract's 30 s (docs/interfaces.md §13), and the old
leader steps down before that, so two leaders never run at once."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from storage.cluster import (
    FENCE_MARGIN,
    MAX_HEARTBEAT,
    TAKEOVER_WITHIN,
    LeaderBounds,
    PgCluster,
)
from tests.cluster.proxy import FreezingProxy, through
from tests.cluster.test_cluster import _lock_holders

BEAT = 1.0  # heartbeat of the tests' instances (seconds)


@pytest.mark.parametrize("heartbeat", [0.2, 1.0, 2.0, 5.0, 7.25, 7.5, 9.9, 10.0])
def test_the_bounds_order_step_down_before_takeover_within_the_contract(
    heartbeat: float,
) -> None:
    bounds = LeaderBounds.of(heartbeat)
    # The server may end a silent session only FENCE_MARGIN after the lease ended.
    assert bounds.session - bounds.lease == FENCE_MARGIN
    # A live leader is silent between heartbeats for one period; its event loop may be
    # late by seconds more before it steps down, and more still before the server acts.
    assert bounds.lease - heartbeat >= 4
    assert bounds.session - heartbeat >= 9
    # Session ended, then a follower's next try: within the contract.
    assert bounds.session + heartbeat <= TAKEOVER_WITHIN - 1
    # The keepalives end the connection no earlier than `session`, and at most 1 s after.
    keep = {key: int(value) for key, value in bounds.keepalives().items()}
    dead_after = keep["tcp_keepalives_idle"] + (
        keep["tcp_keepalives_interval"] * keep["tcp_keepalives_count"]
    )
    assert bounds.session <= dead_after < bounds.session + 1
    assert keep["tcp_keepalives_idle"] >= 1
    assert bounds.session_ms >= bounds.session * 1000


@pytest.mark.parametrize("heartbeat", [0.0, -1.0, MAX_HEARTBEAT + 0.1])
def test_a_heartbeat_outside_the_bounds_is_refused(heartbeat: float) -> None:
    with pytest.raises(ValueError, match="heartbeat must be in"):
        PgCluster("postgresql://postgres@127.0.0.1:1/none", "gw", heartbeat=heartbeat)


class Transitions:
    """Leadership callbacks of several instances, stamped with time.monotonic()."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str, bool]] = []
        self.changed = asyncio.Event()

    def of(self, name: str) -> Any:
        async def told(leader: bool) -> None:
            self.seen.append((time.monotonic(), name, leader))
            self.changed.set()

        return told

    def first(self, name: str, leader: bool) -> float | None:
        return next((t for t, n, lead in self.seen if n == name and lead == leader), None)

    async def until(self, name: str, leader: bool) -> float:
        while (at := self.first(name, leader)) is None:
            self.changed.clear()
            await self.changed.wait()
        return at


async def _sessions_of(dsn: str, instance: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                f"sbyt-gateway {instance}",
            )
        )
    finally:
        await conn.close()


async def test_a_silent_leader_host_steps_down_before_another_takes_over(pg_dsn: str) -> None:
    proxy = FreezingProxy(urlsplit(pg_dsn).hostname or "127.0.0.1", urlsplit(pg_dsn).port or 5432)
    port = await proxy.start()
    told = Transitions()
    old = PgCluster(through(pg_dsn, port), "old", heartbeat=BEAT)
    new = PgCluster(pg_dsn, "new", heartbeat=BEAT)
    try:
        await old.start(told.of("old"))
        await new.start(told.of("new"))
        async with asyncio.timeout(TAKEOVER_WITHIN):
            await told.until("old", leader=True)
            await new.wait_heartbeats(new.heartbeats + 2)
        assert (old.is_leader, new.is_leader) == (True, False)

        # The old leader's host goes silent: nothing in or out, no socket closed.
        proxy.freeze()
        async with asyncio.timeout(TAKEOVER_WITHIN):
            took_over = await told.until("new", leader=True)
        stepped_down = told.first("old", leader=False)

        assert new.is_leader
        assert not old.is_leader
        assert stepped_down is not None, "the frozen leader never stepped down"
        assert stepped_down < took_over, "two leaders at once"
        # The server ended the old leader's session itself (the proxy closed nothing)
        # and the lock is held once: by the new leader.
        assert await _sessions_of(pg_dsn, "old") == 0
        assert await _lock_holders(pg_dsn) == 1
        assert [lead for _, name, lead in told.seen if name == "old"] == [True, False]
    finally:
        await old.stop()
        await new.stop()
        await proxy.close()


async def test_the_lock_session_is_bounded_by_the_server(pg_dsn: str) -> None:
    """PostgreSQL 14+ (the test server): the leader's session carries the bounds."""
    cluster = PgCluster(pg_dsn, "gw", heartbeat=BEAT)
    await cluster.start()
    try:
        settings = dict(
            await cluster._conn.fetch(
                "SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])",
                ["idle_session_timeout", "tcp_user_timeout", "tcp_keepalives_idle"],
            )
        )
    finally:
        await cluster.stop()
    bounds = cluster.bounds
    assert settings == {
        "idle_session_timeout": str(bounds.session_ms),
        "tcp_user_timeout": str(bounds.session_ms),
        "tcp_keepalives_idle": bounds.keepalives()["tcp_keepalives_idle"],
    }


class Pg13Connection:
    """A real connection that says its server is PostgreSQL 13 (no idle_session_timeout)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    def get_server_version(self) -> Any:
        return self._conn.get_server_version()._replace(major=13)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


async def test_an_older_server_keeps_the_keepalives_and_says_so(
    pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def connect() -> Pg13Connection:
        return Pg13Connection(await cluster._default_connect())

    cluster = PgCluster(pg_dsn, "gw", heartbeat=BEAT, connect=connect)
    with caplog.at_level(logging.INFO, logger="storage.cluster"):
        await cluster.start()
    try:
        assert cluster.is_leader
        idle = await cluster._conn.fetchval("SHOW idle_session_timeout")
        user_timeout = await cluster._conn.fetchval(
            "SELECT setting FROM pg_settings WHERE name = 'tcp_user_timeout'"
        )
    finally:
        await cluster.stop()
    assert idle == "0"  # not set on a server said to be 13
    assert user_timeout == str(cluster.bounds.session_ms)
    [line] = [r.getMessage() for r in caplog.records if "idle_session_timeout" in r.getMessage()]
    assert "PostgreSQL 13 has no idle_session_timeout" in line
    assert "keepalives, tcp_user_timeout" in line
