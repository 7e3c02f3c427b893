"""Waking the outbox sender from another process (docs/architecture.md, the outbox).

A broadcast started from the CLI queues its rows in the store; the running service's
sender would see them only at its next poll. `WakeSignal` is the port that tells it at
once: `notify()` from the process that queued work, `listen()` in the service. The poll
stays, only as the fallback for a lost signal.

`LocalWake`, the embedded store's implementation, sends one empty datagram to a Unix
socket in Linux's abstract namespace, named by a digest of the store's resolved path:
every process using the same database file meets at the same name, nothing is written
to the file system, and nothing outside this machine can reach it. A store shared by
several machines (PostgreSQL) implements the port with LISTEN/NOTIFY instead.

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
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

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
