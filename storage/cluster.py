"""Several gateway instances on one store (docs/interfaces.md §13, docs/operations.md
"Several instances").

`Cluster` is the port the app wiring sees: who this instance is, whether it is the
leader (the one instance that runs the singletons: Telegram and MAX polling, the
reminder scheduler, the staff digest, housekeeping), how many instances are live (each
takes its share of the limits counted across instances), and a callback when
leadership comes or goes.

- `SoloCluster`: the embedded SQLite store has one instance by definition: it is always
  the leader and alone.
- `PgCluster`: instances that share a PostgreSQL url find each other through it and
  nothing else. Presence is the table `instances` (migration 009), upserted every
  `[service] heartbeat_seconds`; an instance counts as live while its heartbeat is
  younger than three periods. Leadership is the session advisory lock
  `pg_try_advisory_lock(LOCK_CLASS, LEADER_LOCK)`, taken and held on one dedicated
  connection for the life of the process: PostgreSQL releases it when that connection
  ends, a SIGKILL included, and the followers try for it every period, so a dead
  leader's singletons run elsewhere within one heartbeat period of its connection
  closing (docs/operations.md gives the worst cases). The same connection carries the
  heartbeats; when a heartbeat fails, the instance gives its leadership up at once
  (it can no longer know whether it still holds the lock) and connects again.

`lock_conversation` is the per-conversation order across instances: a transaction
advisory lock on the conversation's key, taken first in the engine's transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from storage.db import Database

log = logging.getLogger(__name__)

# Advisory lock keys (docs/operations.md "Several instances"). The two-key form
# (int4, int4) is a key space apart from the one-bigint form the conversation locks use,
# so a conversation's hash never collides with the leader's lock.
LOCK_CLASS = 0x73627974  # "sbyt"
LEADER_LOCK = 1

LIVE_PERIODS = 3  # a heartbeat younger than this many periods is a live instance

OnLeadership = Callable[[bool], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """One row of `instances` (GET /healthz lists the live ones)."""

    id: str
    started_at: datetime
    heartbeat_at: datetime


class Cluster(Protocol):
    """This instance among the instances of one gateway (docs/interfaces.md §13)."""

    instance_id: str

    @property
    def is_leader(self) -> bool:
        """True while this instance runs the singletons."""
        ...

    def live_count(self) -> int:
        """Live instances at the last heartbeat (at least 1: this one)."""
        ...

    def share(self) -> float:
        """This instance's part of a limit counted across instances: 1 / live_count."""
        ...

    async def start(self, on_leadership: OnLeadership | None = None) -> None:
        """Join; `on_leadership(True)` is awaited when this instance becomes the leader,
        `on_leadership(False)` when it stops being it (lost, or `stop()`)."""
        ...

    async def stop(self) -> None:
        """Leave: give up leadership and remove this instance from the live ones."""
        ...

    async def instances(self) -> list[InstanceInfo]:
        """The live instances, oldest first."""
        ...


class SoloCluster:
    """`Cluster` of the embedded store: one instance, always the leader."""

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        self._leader = False
        self._on_leadership: OnLeadership | None = None
        self._started_at: datetime | None = None

    @property
    def is_leader(self) -> bool:
        return self._leader

    def live_count(self) -> int:
        return 1

    def share(self) -> float:
        return 1.0

    async def start(self, on_leadership: OnLeadership | None = None) -> None:
        from storage.db import utcnow

        self._on_leadership = on_leadership
        self._started_at = utcnow()
        self._leader = True
        if on_leadership is not None:
            await on_leadership(True)

    async def stop(self) -> None:
        if self._leader:
            self._leader = False
            if self._on_leadership is not None:
                await self._on_leadership(False)

    async def instances(self) -> list[InstanceInfo]:
        from storage.db import utcnow

        if self._started_at is None:
            return []
        return [InstanceInfo(self.instance_id, self._started_at, utcnow())]


_HEARTBEAT = (
    "INSERT INTO instances (id, started_at, heartbeat_at) VALUES ($1, now(), now())"
    " ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(),"
    " started_at = CASE WHEN $2 THEN now() ELSE instances.started_at END"
)
_LIVE = (
    "SELECT id, started_at, heartbeat_at FROM instances"
    " WHERE heartbeat_at > now() - make_interval(secs => $1) ORDER BY started_at, id"
)


class PgCluster:
    """`Cluster` over PostgreSQL: presence in `instances`, leadership by advisory lock.

    `dsn` is the store's url; the cluster opens its own connection (the lock must live
    exactly as long as this process's connection, never on a pooled one)."""

    def __init__(
        self,
        dsn: str,
        instance_id: str,
        *,
        heartbeat: float = 5.0,
        connect: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        if heartbeat <= 0:
            raise ValueError("heartbeat must be positive")
        self.dsn = dsn
        self.instance_id = instance_id
        self.heartbeat = heartbeat
        self._connect = connect or self._default_connect
        self._conn: Any = None  # asyncpg.Connection
        self._leader = False
        self._live: list[InstanceInfo] = []
        self._on_leadership: OnLeadership | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._first = True
        self._beat_done = asyncio.Event()
        self.heartbeats = 0  # successful heartbeats (tests wait on them)
        # Each statement's bound: a heartbeat that hangs counts as failed (and leadership
        # is given up) within about one period, but never less than 2 s on a busy host.
        self.timeout = max(heartbeat, 2.0)

    async def _default_connect(self) -> Any:
        import asyncpg

        # The server notices a vanished peer (a dead host, not only a killed process,
        # whose socket closes at once) by TCP keepalive within ~15 s and then releases
        # the lock; the application name shows the instance in pg_stat_activity.
        return await asyncpg.connect(
            self.dsn,
            timeout=self.timeout * 2,
            server_settings={
                "application_name": f"sbyt-gateway {self.instance_id}"[:63],
                "tcp_keepalives_idle": "5",
                "tcp_keepalives_interval": "2",
                "tcp_keepalives_count": "3",
            },
        )

    # -- the port ----------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self._leader

    def live_count(self) -> int:
        return max(1, len(self._live))

    def share(self) -> float:
        return 1.0 / self.live_count()

    async def start(self, on_leadership: OnLeadership | None = None) -> None:
        """Join: the first heartbeat (and try for leadership) happens before this
        returns, so the app knows at once whether to start its singletons. A store that
        cannot be reached raises here (the start fails, as for the store itself)."""
        self._on_leadership = on_leadership
        await self._beat()
        if self._conn is None:
            raise OSError(f"cluster: cannot reach the store as instance {self.instance_id}")
        others = [i.id for i in self._live if i.id != self.instance_id]
        log.info(
            "cluster: instance %s joined%s; %s", self.instance_id,
            f" (live: {', '.join(others)})" if others else " (alone)",
            "leader" if self._leader else "follower",
        )
        self._task = asyncio.create_task(self._run(), name="cluster-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self._step_down()
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                # Leave at once: the others count one instance fewer now, not in 15 s.
                await conn.execute(
                    "DELETE FROM instances WHERE id = $1", self.instance_id,
                    timeout=self.timeout,
                )
                await conn.close(timeout=self.timeout)  # releases the leader's lock
            except Exception as exc:  # the store went away: the lock goes with it
                log.warning("cluster: leaving uncleanly (%s)", exc)
                conn.terminate()

    async def instances(self) -> list[InstanceInfo]:
        return list(self._live)

    async def wait_heartbeats(self, count: int) -> None:
        """Until `count` heartbeats succeeded in all (tests; bound it with a timeout)."""
        while self.heartbeats < count:
            self._beat_done.clear()
            await self._beat_done.wait()

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            await self._beat()

    async def _beat(self) -> None:
        """One heartbeat: connect if needed, note presence, try for leadership if not
        the leader, read who is live. Any failure drops the connection and leadership."""
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await self._connect()
                # A connection that ends (the server ended it, the network is gone)
                # ends the leadership at once, not at the next heartbeat.
                self._conn.add_termination_listener(self._terminated)
                self._first = True
            conn = self._conn
            await conn.execute(_HEARTBEAT, self.instance_id, self._first, timeout=self.timeout)
            self._first = False
            if not self._leader:
                got = await conn.fetchval(
                    "SELECT pg_try_advisory_lock($1, $2)", LOCK_CLASS, LEADER_LOCK,
                    timeout=self.timeout,
                )
                if got:
                    self._leader = True
                    log.warning("cluster: instance %s is now the leader", self.instance_id)
                    self._tell_soon(True)
            rows = await conn.fetch(_LIVE, self.heartbeat * LIVE_PERIODS, timeout=self.timeout)
            self._live = [InstanceInfo(r["id"], r["started_at"], r["heartbeat_at"]) for r in rows]
            self.heartbeats += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # OSError, asyncpg errors, timeouts: all mean "lost"
            log.warning("cluster: heartbeat of %s failed (%s)", self.instance_id, exc)
            self._step_down_soon()
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.terminate()
        finally:
            self._beat_done.set()

    def _terminated(self, conn: Any) -> None:
        if conn is self._conn and self._task is not None:
            self._step_down_soon()

    def _step_down_soon(self) -> None:
        if self._leader:
            self._leader = False
            log.warning("cluster: instance %s is no longer the leader", self.instance_id)
            self._tell_soon(False)

    def _tell_soon(self, leader: bool) -> None:
        """The callback in a task of its own: starting a singleton may wait on the network
        (Telegram's setWebhook), and the heartbeats must not wait for it. Each call is
        told in order; the app applies the state current when it runs."""
        task = asyncio.get_running_loop().create_task(self._tell(leader))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _step_down(self) -> None:
        if self._leader:
            self._leader = False
            log.warning("cluster: instance %s is no longer the leader", self.instance_id)
            await self._tell(False)

    async def _tell(self, leader: bool) -> None:
        if self._on_leadership is None:
            return
        try:
            await self._on_leadership(leader)
        except Exception:
            log.exception("cluster: starting/stopping the singletons failed")


async def lock_conversation(db: Database, key: str) -> None:
    """Inside the caller's transaction: hold the conversation `key` until it ends, so
    two instances handle one conversation's messages one at a time (PostgreSQL grants
    waiters in turn). The embedded store needs none: one process, one writer, and the
    engine's own per-conversation lock."""
    if db.dialect == "postgresql":
        await db.fetchval("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))
