"""Rate limits of the channels, with priority (docs/architecture.md «Limits»).

Telegram takes about 30 messages a second overall and 1 a second per chat (429 with
`retry_after` beyond); an SMSC grants a TPS per bind and counts one unit per part of a
concatenated SMS. The SMS channel also paces inside its SMPP session; this limiter sits
before it so that bulk notices never fill the channel's queue ahead of replies.

Why priority lives here (the idea of python-telegram-bot's `BaseRateLimiter`): a bulk
campaign could otherwise take every token of a second, and a customer's answer would
wait behind 100 000 notices. Each channel's bucket keeps a reserve that only replies
(`PRIORITY_REPLY`) may spend, and the sender claims rows best-priority first, so a reply
goes out within one refill however large the campaign.

Time is passed in (`now`), never read here: tests count tokens with a fake clock.

Several instances (docs/interfaces.md §13) send through one Telegram bot and one MAX
bot, whose limits count every instance's requests together. Each instance takes its
share of them: `ChannelLimits.share` (the cluster's `1 / live instances`) scales the
rates of the channels in `SHARED` (the bot-wide rate and the per-chat rate alike), so N
instances together never exceed one bot's limit, whichever instance sends to a chat. A
change of the count takes effect at the next call. SMS is not scaled here: `[smpp] tps`
is what the operator grants each bind, and the cap across binds and instances is
`[smpp] tps_total`'s, which the SMS channel divides by the same share (bot/app.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from storage.outbox import PRIORITY_REPLY

# Share of a channel's bucket that only replies may spend.
REPLY_RESERVE = 0.2
# Per-chat buckets kept before idle (full) ones are forgotten.
_MAX_CHAT_BUCKETS = 10_000
# Channels whose limits belong to the bot, not to an instance (shared by instances).
SHARED = frozenset({"telegram", "max"})


class RateLimiter(Protocol):
    """Decides whether one message may go now. Implementations keep their own state;
    the sender calls them from one task, so no locking is needed."""

    def try_acquire(
        self, channel: str, address: str, cost: int, priority: int, now: datetime
    ) -> float:
        """Take `cost` tokens (SMS parts; 1 for Telegram) for a message of `priority`
        to `address`. Returns 0.0 when granted, else the seconds until it could be
        (nothing is taken then)."""
        ...

    def capacity(self, channel: str, now: datetime) -> int:
        """Whole messages the channel could take now at the best priority (how many rows
        the sender should claim)."""
        ...

    def next_ready(self, channel: str, now: datetime) -> float:
        """Seconds until the channel has a token again (0.0 when it has one now)."""
        ...


@dataclass(slots=True)
class TokenBucket:
    """`rate` tokens a second up to `capacity`, starting full."""

    rate: float
    capacity: float
    tokens: float = -1.0
    stamp: float | None = None

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def refill(self, at: float) -> None:
        if self.stamp is not None and at > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (at - self.stamp) * self.rate)
        if self.stamp is None or at > self.stamp:
            self.stamp = at

    def wait(self, cost: float, floor: float = 0.0) -> float:
        """Seconds until `cost` tokens can be taken leaving `floor`; a cost above the
        capacity waits for a full bucket (and then drives it negative)."""
        need = min(cost + floor, self.capacity)
        if self.tokens >= need:
            return 0.0
        return (need - self.tokens) / self.rate

    def take(self, cost: float) -> None:
        self.tokens -= cost

    @property
    def full(self) -> bool:
        return self.tokens >= self.capacity


@dataclass(frozen=True, slots=True)
class ChannelLimit:
    """Limits of one channel: messages (or SMS parts) a second, and per chat."""

    rate: float
    per_chat: float | None = None
    burst: float | None = None  # bucket size; default one second's worth (at least 1)

    @classmethod
    def windowed(cls, rate: float, per_chat: float | None = None) -> ChannelLimit:
        """A limit that no one-second window exceeds: the messengers' limits are counted
        per second (Telegram about 30 messages, MAX about 30 requests; beyond, 429). A
        bucket holding a second's worth lets a second see its burst plus its refill,
        twice the rate; this one holds a quarter and refills at three quarters, so any
        second sees at most `rate`. (A quarter, not less: a smaller bucket overflows,
        its tokens unused, in the gaps between a channel's claims on a loaded box;
        bench/bench_mixed.py.) The window holds on the wire as long as the sends start
        right after their tokens are taken: the sender takes them at the clock's time
        after the claim, and a channel's sends never wait for another channel's
        (`notifications.sender`)."""
        return cls(rate * 0.75, per_chat=per_chat, burst=max(1.0, rate * 0.25))


class ChannelLimits:
    """Token buckets per channel (and per chat where the channel has a chat limit).
    Channels without a limit are not limited (console, API)."""

    def __init__(
        self,
        limits: Mapping[str, ChannelLimit],
        reserve: float = REPLY_RESERVE,
        *,
        share: Callable[[], float] | None = None,
    ):
        self._limits = dict(limits)
        self._reserve = reserve
        self._buckets = {
            name: TokenBucket(limit.rate, max(1.0, limit.burst or limit.rate))
            for name, limit in self._limits.items()
        }
        self._chats: dict[str, dict[str, TokenBucket]] = {name: {} for name in self._limits}
        # This instance's part of the `SHARED` channels' limits (None: all of them).
        self.share = share
        self._applied = 1.0

    def _rescale(self, at: float) -> None:
        """Apply the current share to the shared channels' buckets (when it changed):
        what they earned until `at` at the old rate is kept, the new rate runs after."""
        if self.share is None:
            return
        share = min(1.0, max(0.0, float(self.share())))
        if share <= 0 or share == self._applied:
            return
        self._applied = share
        for name in SHARED & self._buckets.keys():
            limit = self._limits[name]
            bucket = self._buckets[name]
            bucket.refill(at)
            bucket.rate = limit.rate * share
            # The burst shrinks with the rate (at least one message, or nothing goes).
            bucket.capacity = max(1.0, (limit.burst or limit.rate) * share)
            bucket.tokens = min(bucket.tokens, bucket.capacity)
            if limit.per_chat is not None:
                for chat in self._chats[name].values():
                    chat.refill(at)
                    chat.rate = limit.per_chat * share

    @classmethod
    def from_rates(
        cls,
        *,
        sms_tps: float,
        telegram_rate: float,
        telegram_chat_rate: float,
        max_rate: float = 30,
        email_rate: float | None = None,
        share: Callable[[], float] | None = None,
    ) -> ChannelLimits:
        """The limits of docs/architecture.md from settings: `[smpp] tps`, `[notifications]
        telegram_rate`, `telegram_chat_rate`, `max_rate` (MAX Bot API requests a second),
        `[email] rate` (the e-mail channel paces itself too; limited here, the sender
        claims only what it can take, and a slow relay does not hold up the others);
        `share`: this instance's part of the bots' limits (the cluster's)."""
        limits = {
            "sms": ChannelLimit(sms_tps),
            "telegram": ChannelLimit.windowed(telegram_rate, per_chat=telegram_chat_rate),
            "max": ChannelLimit.windowed(max_rate),
        }
        if email_rate is not None:
            limits["email"] = ChannelLimit(email_rate)
        return cls(limits, share=share)

    def _floor(self, channel: str, priority: int) -> float:
        if priority <= PRIORITY_REPLY:
            return 0.0
        return self._buckets[channel].capacity * self._reserve

    def _chat(self, channel: str, address: str, at: float) -> TokenBucket | None:
        per_chat = self._limits[channel].per_chat
        if per_chat is None:
            return None
        if channel in SHARED:
            per_chat *= self._applied
        chats = self._chats[channel]
        bucket = chats.get(address)
        if bucket is None:
            if len(chats) >= _MAX_CHAT_BUCKETS:
                for key, old in list(chats.items()):
                    old.refill(at)
                    if old.full:
                        del chats[key]
            bucket = chats[address] = TokenBucket(per_chat, 1.0)
        bucket.refill(at)
        return bucket

    def try_acquire(
        self, channel: str, address: str, cost: int, priority: int, now: datetime
    ) -> float:
        bucket = self._buckets.get(channel)
        if bucket is None:
            return 0.0
        at = now.timestamp()
        self._rescale(at)
        bucket.refill(at)
        wait = bucket.wait(cost, self._floor(channel, priority))
        chat = self._chat(channel, address, at)
        if chat is not None:
            wait = max(wait, chat.wait(1))
        if wait > 0:
            return wait
        bucket.take(cost)
        if chat is not None:
            chat.take(1)
        return 0.0

    def capacity(self, channel: str, now: datetime) -> int:
        bucket = self._buckets.get(channel)
        if bucket is None:
            return 1 << 30
        self._rescale(now.timestamp())
        bucket.refill(now.timestamp())
        return max(0, int(bucket.tokens))

    def next_ready(self, channel: str, now: datetime) -> float:
        bucket = self._buckets.get(channel)
        if bucket is None:
            return 0.0
        self._rescale(now.timestamp())
        bucket.refill(now.timestamp())
        return bucket.wait(1)
