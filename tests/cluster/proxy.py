"""A TCP proxy on 127.0.0.1 in front of one server that can FREEZE: stop forwarding in
both directions without closing either socket. To the server, the client's host went
silent (a power cut, a cable, a partition); to the client, the server did. Neither side
gets a FIN or an RST, and the proxy's kernel still acknowledges what it is sent, so
keepalives are answered: only a timer in the server (or the client) notices.

Used by tests/cluster/test_dead_host.py and bench/bench_cluster.py (`partition`).
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit


def through(dsn: str, port: int) -> str:
    """The PostgreSQL url `dsn` pointed at 127.0.0.1:`port` (a proxy) instead."""
    parts = urlsplit(dsn)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}"))


class FreezingProxy:
    """`await start()` returns the port to connect to instead of `host:port`; `freeze()`
    stops every connection, present and future (a new one is accepted but never reaches
    the server); `close()` closes them all."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def frozen(self) -> bool:
        return not self._flowing.is_set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def freeze(self) -> None:
        self._flowing.clear()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()  # no new connections
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if self._server is not None:
            await self._server.wait_closed()  # (3.12+ waits for the connections too)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._flowing.wait()  # accepted while frozen: never gets further
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
            self._writers.append(up_writer)
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        except OSError:
            pass  # a side went away while flowing: the other is closed by close()
        except asyncio.CancelledError:
            # close(): end quietly (asyncio logs a handler task that ends cancelled).
            return
        finally:
            self._tasks.discard(task)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await self._flowing.wait()
            data = await reader.read(65536)
            # Read before the freeze: held, like everything after it (an end included).
            await self._flowing.wait()
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()
