"""`TotalRateLimiter`: `[smpp] tps_total` over every bind of an instance
(docs/interfaces.md §13).

`[smpp] tps` is each bind's own pace (`session.AdaptivePacer`); the operator's grant for
the whole account is `tps_total`, shared by all binds and all instances. This limiter is
the instance's part of it: a next-slot limiter (no burst: operators count per second and
reject what goes above) at `tps_total * share()` submits per second. `share` is the
cluster's hook: 1.0 for one instance; the cluster sets it to this instance's share of
the grant (e.g. 1 / live instances), read again at every slot so a change takes effect
at once. `tps_total = 0` means no cap.

The arithmetic is the pure `reserve(now)`; `acquire()` only sleeps for what it says.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

MIN_SHARE = 0.001  # a share of 0 (or less) would stop sending for good


class SubmitGate(Protocol):
    """What `SmsChannel` awaits before each submit_sm of any of its binds: this module's
    limiter, or one shared by the instances (e.g. kept in PostgreSQL)."""

    @property
    def enabled(self) -> bool:
        """False: no cap, and the channel does not await `acquire` at all."""
        ...

    async def acquire(self) -> None:
        """Return when the next submit_sm may go."""
        ...


def whole_share() -> float:
    """The default `share`: this instance has the whole grant."""
    return 1.0


class TotalRateLimiter:
    """At most `tps_total * share()` grants per second, evenly spaced."""

    def __init__(
        self,
        tps_total: float,
        share: Callable[[], float] = whole_share,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if tps_total < 0:
            raise ValueError("tps_total must be >= 0 (0: no cap)")
        self.tps_total = tps_total
        self.share = share
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self.granted = 0

    @property
    def enabled(self) -> bool:
        return self.tps_total > 0

    def rate(self) -> float | None:
        """Submits per second this instance may send now; None: no cap."""
        if not self.enabled:
            return None
        share = min(1.0, max(MIN_SHARE, float(self.share())))
        return self.tps_total * share

    def reserve(self, now: float) -> float:
        """Take the next slot at or after `now`; returns how long to wait for it (0:
        go now). Slots are 1/rate apart; time nobody used is not saved up (no burst)."""
        rate = self.rate()
        self.granted += 1
        if rate is None:
            return 0.0
        slot = max(self._next, now)
        self._next = slot + 1.0 / rate
        return slot - now

    async def acquire(self) -> None:
        """Wait for this instance's next slot."""
        delay = self.reserve(self._clock())
        if delay > 0:
            await self._sleep(delay)
