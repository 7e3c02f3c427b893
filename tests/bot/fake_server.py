"""What the fake messenger Bot API servers (fake_telegram.py, fake_max.py) share: an
aiohttp server on 127.0.0.1 at an ephemeral port, started with `async with`, and waiting
(bounded by `wait_timeout`) until a condition on what the fake saw holds.

A subclass calls `_init_server()` from its `__post_init__`, adds its routes in
`_routes`, and calls `_notify()` whenever a request arrives or is answered, which wakes
the waiters and its own long polls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Self

from aiohttp import web


class FakeServer:
    """The lifecycle and the waiting of a fake Bot API server."""

    # Upper bound for every wait, so that a broken test fails instead of hanging.
    wait_timeout: float

    def _init_server(self) -> None:
        # Replaced on every change: waiters wait on the current one (see `_notify`).
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    def _routes(self, app: web.Application) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application()
        self._routes(app)
        # No access log: a Bot API's request lines may carry the token (Telegram's path
        # is /bot<token>/...), and tests assert the token never shows in captured logs.
        self._runner = web.AppRunner(app, shutdown_timeout=1, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        # Wake long-polls first, or the runner waits for them on shutdown.
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """What goes into the channel's `api_base` setting."""
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ waiting

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait, bounded by `wait_timeout`, until `predicate()` holds after some call."""
        async with asyncio.timeout(self.wait_timeout):
            await self._wait(predicate)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._changed.wait()
