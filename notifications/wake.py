"""Waking the outbox sender from another process (docs/architecture.md, the outbox).

A broadcast started from the CLI queues its rows in the store; the running service's
sender would see them only at its next poll. `WakeSignal` is the port that tells it at
once: `notify()` from the process that queued work, `listen()` in the service. The poll
stays, only as the fallback for a lost signal.

`LocalWake`, the embedded store's implementation, sends one empty datagram to a Unix
socket in Linux's abstract namespace, named by a digest of the store's resolved path:
every process using the same database file meets at the same name, nothing is written
to the file system, and nothing outside this machine can reach it. A store shared by
several machines (PostgreSQL) implements the port with LISTEN/NOTIFY instead: `PgWake`
listens on the channel `gateway_outbox`, which a trigger of the store notifies whenever
a transaction queues outbox work (migration 010), so every instance's sender looks at
once, whichever instance, command or campaign queued it.

Both sides are best effort: a signal nobody listens for, or one that cannot be sent,
is dropped silently (the poll picks the work up), and a datagram carries nothing but
"look now", so a stray one costs one extra look at the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


class WakeSignal(Protocol):
    """Tells the sender of another process that new work is queued."""

    def notify(self) -> None:
        """Best effort, at once: never blocks, never raises."""
        ...

    async def listen(self, on_wake: Callable[[], None]) -> bool:
        """Call `on_wake` for every signal until `close()`. Returns False when this
        process cannot listen (another listener holds the name, or the platform has no
        such socket): the sender then relies on its poll."""
        ...

    async def close(self) -> None:
        """Stop listening."""
        ...


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, on_wake: Callable[[], None]) -> None:
        self.on_wake = on_wake

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.on_wake()


class LocalWake:
    """`WakeSignal` over an abstract Unix datagram socket named after the store file."""

    def __init__(self, store_path: str | Path) -> None:
        digest = hashlib.sha256(str(Path(store_path).resolve()).encode()).hexdigest()[:32]
        self.address = "\0sbyt-gateway-wake-" + digest
        self._transport: asyncio.DatagramTransport | None = None

    @staticmethod
    def supported() -> bool:
        return sys.platform.startswith("linux") and hasattr(socket, "AF_UNIX")

    def notify(self) -> None:
        if not self.supported():
            return
        with (
            contextlib.suppress(OSError),
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
        ):
            sock.setblocking(False)
            sock.sendto(b"", self.address)

    async def listen(self, on_wake: Callable[[], None]) -> bool:
        if not self.supported() or self._transport is not None:
            return self._transport is not None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(self.address)
        except OSError as exc:
            sock.close()
            log.warning("outbox wake-up socket unavailable (%s); the sender polls", exc)
            return False
        sock.setblocking(False)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Receiver(on_wake), sock=sock
        )
        self._transport = transport
        return True

    async def close(self) -> None:
        if self._transport is not None:
            transport, self._transport = self._transport, None
            transport.close()


PG_CHANNEL = "gateway_outbox"  # notified by the trigger of migration 010_outbox_notify


class PgWake:
    """`WakeSignal` over PostgreSQL's LISTEN/NOTIFY, on a connection of its own.

    `notify()` does nothing: the store's trigger notifies at the commit of whatever
    queued the work (the service, the CLI, psql), and a notification sent before that
    commit would only wake senders that find nothing yet. `listen()` keeps listening
    across a lost connection: it connects again every `retry` seconds and then wakes
    the sender once (a notification may have gone while nobody listened)."""

    def __init__(
        self,
        dsn: str,
        *,
        retry: float = 5.0,
        connect: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.dsn = dsn
        self.retry = retry
        self._connect = connect or self._default_connect
        self._conn: Any = None  # asyncpg.Connection
        self._on_wake: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()

    async def _default_connect(self) -> Any:
        import asyncpg

        return await asyncpg.connect(
            self.dsn, timeout=10, server_settings={"application_name": "sbyt-gateway wake"}
        )

    def notify(self) -> None:
        return None

    async def listen(self, on_wake: Callable[[], None]) -> bool:
        if self._task is not None:
            return True
        self._on_wake = on_wake
        try:
            await self._subscribe()
        except Exception as exc:  # asyncpg and OSError: the poll covers until it works
            log.warning("outbox wake-up by NOTIFY unavailable (%s); retrying", exc)
            self._lost.set()
        self._task = asyncio.create_task(self._keep(), name="outbox-wake-listener")
        return True

    async def _subscribe(self) -> None:
        conn = await self._connect()
        self._lost.clear()
        conn.add_termination_listener(lambda _conn: self._lost.set())
        await conn.add_listener(PG_CHANNEL, self._received)
        self._conn = conn

    def _received(self, *_: object) -> None:
        if self._on_wake is not None:
            self._on_wake()

    async def _keep(self) -> None:
        while True:
            await self._lost.wait()
            self._drop()
            await asyncio.sleep(self.retry)
            try:
                await self._subscribe()
            except Exception as exc:
                log.warning("outbox wake-up by NOTIFY unavailable (%s); retrying", exc)
                self._lost.set()
                continue
            log.info("outbox wake-up by NOTIFY listening again")
            self._received()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def close(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close(timeout=5)
            except Exception:  # already gone: nothing to say goodbye to
                conn.terminate()
