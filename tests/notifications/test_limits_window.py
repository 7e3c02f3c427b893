"""The messengers' limits hold in every one-second window (docs/interfaces.md §13, §14:
Telegram about 30 messages a second, MAX about 30 requests): a greedy sender on a fake
clock never gets more than the rate in any second, and still gets most of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notifications.limits import ChannelLimits
from storage.outbox import PRIORITY_BULK, PRIORITY_REPLY


def _greedy(limits: ChannelLimits, channel: str, seconds: int, priority: int) -> list[float]:
    """Take a token whenever one is there, checking every millisecond; the times taken."""
    start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    taken: list[float] = []
    for ms in range(seconds * 1000):
        now = start + timedelta(milliseconds=ms)
        # a distinct chat each time: the overall limit is what is measured
        while limits.try_acquire(channel, f"chat{len(taken)}", 1, priority, now) == 0.0:
            taken.append(ms / 1000)
    return taken


def _peak(times: list[float]) -> int:
    best, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


@pytest.mark.parametrize("channel", ["telegram", "max"])
@pytest.mark.parametrize("priority", [PRIORITY_REPLY, PRIORITY_BULK])
@pytest.mark.parametrize("rate", [30.0, 10.0, 2.0])
def test_no_second_sees_more_than_the_rate(channel: str, priority: int, rate: float) -> None:
    limits = ChannelLimits.from_rates(
        sms_tps=100, telegram_rate=rate, telegram_chat_rate=1_000, max_rate=rate)
    taken = _greedy(limits, channel, 5, priority)
    assert _peak(taken) <= rate
    assert len(taken) >= 0.7 * rate * 5  # most of the rate is still used


def test_email_is_limited_only_when_its_rate_is_given() -> None:
    now = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    free = ChannelLimits.from_rates(sms_tps=1, telegram_rate=1, telegram_chat_rate=1)
    assert all(free.try_acquire("email", "a", 1, PRIORITY_BULK, now) == 0.0 for _ in range(50))
    paced = ChannelLimits.from_rates(sms_tps=1, telegram_rate=1, telegram_chat_rate=1,
                                     email_rate=5)
    granted = sum(paced.try_acquire("email", "a", 1, PRIORITY_REPLY, now) == 0.0
                  for _ in range(50))
    assert granted == 5
