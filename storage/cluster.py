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
  connection for the life of the process: PostgreSQL releases it when that session
  ends, and the followers try for it every period, so a dead leader's singletons run
  elsewhere within one heartbeat period of its session ending. The same connection
  carries the heartbeats; when a heartbeat fails, the instance gives its leadership up
  at once (it can no longer know whether it still holds the lock) and connects again.

When the leader's session ends, and why two leaders never run at once
(`LeaderBounds`, all derived from the heartbeat period H, at most MAX_HEARTBEAT):

- A killed process (SIGKILL, OOM): its kernel closes the socket, the server ends the
  session and releases the lock at once; a follower leads within H.
- A dead host (power, cable, partition) sends nothing, not even a FIN. The server ends
  a session that has been silent for `session` = LIVE_PERIODS × H (the time the dead
  instance takes to drop out of the live ones), at least 15 s, at most 29 s − H, by
  whichever fires first of `idle_session_timeout` (PostgreSQL 14+: a timer in the
  server, independent of TCP, which fires even while the peer's kernel still answers,
  as for a stopped or hung process), `tcp_user_timeout` (12+: data the server sent
  stays unacknowledged; on Linux this also makes the keepalives wait that long) and the
  TCP keepalives (probes after `session` − 6 s of silence, 2 s apart, 3 of them: dead
  at `session`). Each of these clocks starts no earlier than the moment the leader
  *sent* its last statement that succeeded: the server received it after that, ran it,
  and was silent from then on. A live leader's heartbeat runs on that connection every
  H, so it is silent for about H, and the server ends it only when its event loop (or
  the server) is late by `session` − H (10 s by default, 9 s at the least).
- Fencing: the leader leads only until `lease` = `session` − FENCE_MARGIN after sending
  its last statement that succeeded. Each statement on the lock connection is bounded
  by what is left of the lease, so a heartbeat that cannot reach the server fails at
  the latest when the lease ends, and the instance steps down there; `is_leader` turns
  False at that very moment, even if a busy event loop runs the step-down later.
- Ordering: the old leader steps down at `lease`; the server can end its session (and
  free the lock) at `session` at the earliest, and a follower leads at its next try
  after that (0 … H later). So the old leader has FENCE_MARGIN (5 s) at the least to
  stop its singletons, and two Telegram pollers never run at once (409 Conflict), as
  long as the stop and the event loop's lateness stay under it. A leader whose loop is
  blocked for longer than `lease` − H (5 s by default, 4 s at the least) steps down.
- The bound: a dead host's singletons run elsewhere within `session` + H after it went
  silent: 20 s by default, 29 s at H = 10 (docs/operations.md), the contract being 30 s
  (docs/interfaces.md §13). A SIGKILL is as fast as before: within H.
- A PostgreSQL older than 14 has no `idle_session_timeout`: the keepalives and
  `tcp_user_timeout` alone notice a dead host after about `session`, and cannot while
  the host's TCP stack still answers; this is logged once.

`lock_conversation` is the per-conversation order across instances: a transaction
advisory lock on the conversation's key, taken first in the engine's transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
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

MAX_HEARTBEAT = 10.0  # `[service] heartbeat_seconds` at most (the bounds below need it)
TAKEOVER_WITHIN = 30.0  # the contract: a dead leader's singletons run elsewhere (§13)
# A dead host's lock session ends after this much silence at the least (a live leader's
# event loop may be late by `session` - H before the server ends its session).
MIN_SESSION = 15.0
# Seconds between the old leader's step-down and the earliest moment the server may end
# its session (and a follower take the lock): time to stop the singletons.
FENCE_MARGIN = 5.0
# The keepalive probes before a silent peer counts as dead, and their spacing (s).
KEEPALIVE_COUNT = 3
KEEPALIVE_INTERVAL = 2

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


@dataclass(frozen=True, slots=True)
class LeaderBounds:
    """The times that keep one leader at a time (seconds; the module docstring says why
    they are ordered so): `timeout` bounds each statement on the lock connection, the
    leader leads until `lease` after sending its last statement that succeeded, the
    server ends a session silent for `session`."""

    heartbeat: float
    timeout: float
    lease: float
    session: float

    @classmethod
    def of(cls, heartbeat: float) -> LeaderBounds:
        if not 0 < heartbeat <= MAX_HEARTBEAT:
            raise ValueError(f"heartbeat must be in (0, {MAX_HEARTBEAT:g}] s")
        # A statement of the heartbeat is a one-row upsert: one that takes more than a
        # period (and at least 2 s on a busy host) counts as failed; the leader's are
        # bounded by its lease too.
        timeout = max(heartbeat, 2.0)
        session = min(
            max(LIVE_PERIODS * heartbeat, MIN_SESSION), TAKEOVER_WITHIN - 1 - heartbeat
        )
        return cls(heartbeat, timeout, session - FENCE_MARGIN, session)

    @property
    def session_ms(self) -> int:
        """`session` for the server's millisecond settings, never shorter."""
        return math.ceil(self.session * 1000)

    def keepalives(self) -> dict[str, str]:
        """Server settings of the lock connection's TCP keepalives: the last of
        KEEPALIVE_COUNT unanswered probes at `session` after the peer went silent (with
        `tcp_user_timeout` set, Linux ends the connection at the first probe past it)."""
        idle = max(1, math.ceil(self.session) - KEEPALIVE_COUNT * KEEPALIVE_INTERVAL)
        return {
            "tcp_keepalives_idle": str(idle),
            "tcp_keepalives_interval": str(KEEPALIVE_INTERVAL),
            "tcp_keepalives_count": str(KEEPALIVE_COUNT),
        }


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
        self.bounds = LeaderBounds.of(heartbeat)  # ValueError outside (0, MAX_HEARTBEAT]
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
        self.timeout = self.bounds.timeout
        # time.monotonic() at which the leadership ends unless a statement succeeds.
        self._lease_until = 0.0
        self._told_session = False  # the session bounds were logged (once a process)

    async def _default_connect(self) -> Any:
        import asyncpg

        # The keepalives are one of the ways the server notices a vanished peer (the
        # module docstring; `_bound_session` sets the others, which need a version
        # check); the application name shows the instance in pg_stat_activity.
        return await asyncpg.connect(
            self.dsn,
            timeout=self.timeout * 2,
            server_settings={
                "application_name": f"sbyt-gateway {self.instance_id}"[:63],
                **self.bounds.keepalives(),
            },
        )

    async def _bound_session(self, conn: Any) -> None:
        """Have the server end this session once it has been silent for
        `bounds.session`, whatever TCP says (the module docstring: a dead host)."""
        major = conn.get_server_version().major
        names = [
            *(["idle_session_timeout"] if major >= 14 else []),
            *(["tcp_user_timeout"] if major >= 12 else []),
        ]
        if names:
            await conn.execute(
                "SELECT " + ", ".join(f"set_config('{name}', $1, false)" for name in names),
                str(self.bounds.session_ms), timeout=self.timeout,
            )
        if self._told_session:
            return
        self._told_session = True
        session, lease = self.bounds.session, self.bounds.lease
        if major >= 14:
            log.info(
                "cluster: the server ends the lock session of %s once silent for %.1f s "
                "(idle_session_timeout); as the leader it steps down after %.1f s "
                "without an answer", self.instance_id, session, lease,
            )
        else:
            log.warning(
                "cluster: PostgreSQL %d has no idle_session_timeout (14+): a dead leader "
                "host is noticed by TCP alone (keepalives%s, about %.0f s), and not at all "
                "while that host's network stack still answers", major,
                ", tcp_user_timeout" if major >= 12 else "", session,
            )

    # -- the port ----------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        # False from the moment the lease ends, even before the heartbeat loop (late on
        # a busy event loop) has stepped down: the server may end the session soon.
        return self._leader and time.monotonic() < self._lease_until

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
                await self._bound_session(self._conn)
            conn = self._conn
            await self._ask(conn.execute, _HEARTBEAT, self.instance_id, self._first)
            self._first = False
            if not self._leader:
                sent = time.monotonic()
                got = await conn.fetchval(
                    "SELECT pg_try_advisory_lock($1, $2)", LOCK_CLASS, LEADER_LOCK,
                    timeout=self.timeout,
                )
                if got:
                    self._leader = True
                    self._lease_until = sent + self.bounds.lease
                    log.warning("cluster: instance %s is now the leader", self.instance_id)
                    self._tell_soon(True)
            rows = await self._ask(conn.fetch, _LIVE, self.heartbeat * LIVE_PERIODS)
            self._live = [InstanceInfo(r["id"], r["started_at"], r["heartbeat_at"]) for r in rows]
            self.heartbeats += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # OSError, asyncpg errors, timeouts: all mean "lost"
            log.warning(
                "cluster: heartbeat of %s failed (%s)", self.instance_id,
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
            )
            self._step_down_soon()
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.terminate()
        finally:
            self._beat_done.set()

    async def _ask(self, call: Callable[..., Awaitable[Any]], query: str, *args: Any) -> Any:
        """One statement on the lock connection. The leader's is bounded by what is left
        of its lease (it fails when the lease ends, and the leader steps down then);
        one that succeeds extends the lease from the moment it was sent, the earliest
        moment the server can count its session's silence from."""
        bound = self.timeout
        if self._leader:
            left = self._lease_until - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the leader's lease ({self.bounds.lease:g} s) ran out")
            bound = min(bound, left)
        sent = time.monotonic()
        result = await call(query, *args, timeout=bound)
        self._lease_until = max(self._lease_until, sent + self.bounds.lease)
        return result

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
