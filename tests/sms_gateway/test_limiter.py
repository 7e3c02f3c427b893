"""`TotalRateLimiter` (`[smpp] tps_total`, docs/interfaces.md §13) as a pure class: a
scripted clock, the delays it hands out, the cluster's `share` hook."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sms_gateway.limiter import MIN_SHARE, TotalRateLimiter


def shares(*values: float) -> Callable[[], float]:
    """A `share` hook answering `values` in turn (the last one from then on)."""
    queue: Iterator[float] = iter(values)
    last = [values[-1]]

    def share() -> float:
        last[0] = next(queue, last[0])
        return last[0]

    return share


@pytest.mark.parametrize(
    ("tps_total", "share", "times", "delays"),
    [
        # 0: no cap, whatever the share says
        (0, shares(1.0), [0, 0, 0, 0], [0, 0, 0, 0]),
        (0, shares(0.0), [0, 0], [0, 0]),
        # evenly spaced: 10/s is one slot every 0.1 s
        (10, shares(1.0), [0, 0, 0], [0, 0.1, 0.2]),
        # a caller that comes after its slot goes at once
        (10, shares(1.0), [0, 0.15, 0.2], [0, 0, 0.05]),
        # time nobody used is not saved up: no burst after a pause
        (10, shares(1.0), [0, 5, 5, 5], [0, 0, 0.1, 0.2]),
        # half the grant (two live instances): one slot every 0.2 s
        (10, shares(0.5), [0, 0, 0], [0, 0.2, 0.4]),
        # the share is read at every slot: a third instance joins after two slots
        (30, shares(0.5, 0.5, 1 / 3), [0, 0, 0, 0], [0, 1 / 15, 2 / 15, 2 / 15 + 0.1]),
        # a share above 1 is the whole grant, never more
        (10, shares(4.0), [0, 0], [0, 0.1]),
        # a share of 0 (or less) would stop the instance for good: the smallest share
        (1000, shares(0.0), [0, 0], [0, 1 / (1000 * MIN_SHARE)]),
        (1000, shares(-1.0), [0, 0], [0, 1 / (1000 * MIN_SHARE)]),
    ],
)
def test_reserve(
    tps_total: float, share: Callable[[], float], times: list[float], delays: list[float]
) -> None:
    limiter = TotalRateLimiter(tps_total, share)
    got = [limiter.reserve(now) for now in times]
    assert got == pytest.approx(delays)
    assert limiter.granted == len(times)


@pytest.mark.parametrize(("tps_total", "share", "expected"), [
    (0, 1.0, None),
    (20, 1.0, 20.0),
    (20, 0.25, 5.0),
    (20, 7.0, 20.0),
])
def test_rate(tps_total: float, share: float, expected: float | None) -> None:
    assert TotalRateLimiter(tps_total, lambda: share).rate() == expected


def test_negative_total_is_refused() -> None:
    with pytest.raises(ValueError, match="tps_total"):
        TotalRateLimiter(-1)


@pytest.mark.parametrize(("tps_total", "callers"), [(5, 23), (50, 200), (7.5, 40)])
def test_no_second_gets_more_than_the_grant(tps_total: float, callers: int) -> None:
    # Everyone asks at once (a campaign on every bind): counted over any one-second
    # window of the granted times, never more than tps_total (+1 for a window that
    # starts exactly on a slot).
    limiter = TotalRateLimiter(tps_total)
    granted = sorted(limiter.reserve(0.0) for _ in range(callers))
    for start in granted:
        in_window = sum(1 for t in granted if start <= t < start + 1.0)
        assert in_window <= tps_total + 1
    assert granted[-1] == pytest.approx((callers - 1) / tps_total)


async def test_acquire_sleeps_for_the_reserved_delay() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = TotalRateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        await limiter.acquire()
    assert slept == pytest.approx([0.25, 0.25])  # the first goes at once
    assert now[0] == pytest.approx(100.5)
