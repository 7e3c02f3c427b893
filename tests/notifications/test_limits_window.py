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


@pytest.mark.parametrize("channel", ["telegram", "max"])
@pytest.mark.parametrize("instances", [2, 3])
def test_instances_together_keep_one_bots_limit(channel: str, instances: int) -> None:
    """Several instances (docs/interfaces.md §13), each with its share of the bot's
    limit, greedy on one clock: no second sees more than the bot's rate in all, and
    together they still use most of it."""
    rate = 30.0
    limiters = [
        ChannelLimits.from_rates(sms_tps=100, telegram_rate=rate, telegram_chat_rate=1_000,
                                 max_rate=rate, share=lambda: 1 / instances)
        for _ in range(instances)
    ]
    start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    taken: list[float] = []
    for ms in range(5000):
        now = start + timedelta(milliseconds=ms)
        for limits in limiters:
            while limits.try_acquire(channel, f"chat{len(taken)}", 1, PRIORITY_REPLY, now) == 0:
                taken.append(ms / 1000)
    assert _peak(taken) <= rate
    assert len(taken) >= 0.7 * rate * 5


def test_a_share_that_changes_changes_the_rate_from_then_on() -> None:
    """An instance joins (the share halves), later leaves (it doubles again)."""
    share = [1.0]
    limits = ChannelLimits.from_rates(sms_tps=100, telegram_rate=20, telegram_chat_rate=1_000,
                                      share=lambda: share[0])
    start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    per_second: list[int] = []
    for second in range(9):
        share[0] = 0.5 if 3 <= second < 6 else 1.0
        count = 0
        for ms in range(1000):
            now = start + timedelta(seconds=second, milliseconds=ms)
            while limits.try_acquire("telegram", f"c{second}.{count}", 1, PRIORITY_REPLY,
                                     now) == 0.0:
                count += 1
        per_second.append(count)
    assert max(per_second[:3]) <= 20
    assert max(per_second[4:6]) <= 10  # the first second of a change may mix both
    assert max(per_second[7:]) <= 20
    assert min(per_second[4:6]) >= 7
    assert min(per_second[7:]) >= 14


def test_sms_is_not_shared_by_instances() -> None:
    """`[smpp] tps` is each bind's own grant: a share of the instances does not cut it."""
    now = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    limits = ChannelLimits.from_rates(sms_tps=10, telegram_rate=30, telegram_chat_rate=1,
                                      share=lambda: 0.25)
    assert limits.capacity("sms", now) == 10


def test_instances_together_keep_a_chats_rate_on_average() -> None:
    """One chat's messages from two instances: 1 a second in all over a long run; each
    instance may open with one message at once, so the first second may see two."""
    limiters = [
        ChannelLimits.from_rates(sms_tps=100, telegram_rate=30, telegram_chat_rate=1,
                                 share=lambda: 0.5)
        for _ in range(2)
    ]
    start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    taken: list[float] = []
    for ms in range(20_000):
        now = start + timedelta(milliseconds=ms)
        for limits in limiters:
            if limits.try_acquire("telegram", "chat", 1, PRIORITY_REPLY, now) == 0.0:
                taken.append(ms / 1000)
    assert 18 <= len(taken) <= 20 + 2
    assert _peak(taken) <= 2
