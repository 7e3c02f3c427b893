"""Each channel at its own pace: a slow channel (SMS at the SMSC's TPS, e-mail at a few a
second, a messenger answering slowly) holds up no other channel's sends, in the service
loop (`run`) nor in a drain round (`step`). The slow channel here holds every send until
released, so «not held up» is shown by counts, not by timing."""

from __future__ import annotations

import asyncio

import pytest

from bot.core import ChannelName, Outbound, SendResult
from storage.store import Store
from tests.notifications.conftest import T0, FakeChannel, statuses
from tests.notifications.test_sender import message, sender
from tests.notifications.test_sender_service import WAIT, until

ROWS = 30  # per channel: several batches and more than a channel's room


def address(channel: ChannelName, i: int) -> str:
    return {
        ChannelName.SMS: f"+7912000{i:04d}",
        ChannelName.TELEGRAM: f"{100_000 + i}",
        ChannelName.MAX: f"{200_000 + i}",
        ChannelName.EMAIL: f"p{i}@mail.example",
    }[channel]


class HeldChannel(FakeChannel):
    """Holds every send until released; counts the sends waiting at the channel."""

    def __init__(self, name: ChannelName) -> None:
        super().__init__(name)
        self.release = asyncio.Event()
        self.waiting = 0

    async def send(self, outbound: Outbound) -> SendResult:
        self.waiting += 1
        await self.release.wait()
        self.waiting -= 1
        return await super().send(outbound)


# The slow channel comes first in the sender's channels: claimed first, it used to
# fill the shared room and the shared send slots, and a round waited for its batch.
PAIRS = [
    (ChannelName.SMS, ChannelName.TELEGRAM),  # an SMSC at its TPS, a messenger
    (ChannelName.TELEGRAM, ChannelName.MAX),  # one messenger answering slowly
    (ChannelName.EMAIL, ChannelName.SMS),  # a slow relay
]


@pytest.fixture(params=PAIRS, ids=lambda pair: f"{pair[0].value}-held-{pair[1].value}")
async def pair(request: pytest.FixtureRequest, store: Store) -> tuple[HeldChannel, FakeChannel]:
    """The held (slow) channel and the other one, with `ROWS` rows queued for each."""
    slow, fast = request.param
    for channel in (slow, fast):
        for i in range(ROWS):
            await store.outbox.enqueue(message(channel.value, address(channel, i), "x"))
    return HeldChannel(slow), FakeChannel(fast)


async def test_the_service_loop_sends_one_channel_in_full_while_another_is_held(
    store: Store, pair: tuple[HeldChannel, FakeChannel]
) -> None:
    held, other = pair
    slow, fast = held.name, other.name
    s = sender(
        store, held, other, batch_size=5, max_in_flight=10, concurrency=4, clock=lambda: T0
    )
    task = asyncio.create_task(s.run(poll=0.05))
    try:
        await until(lambda: len(other.sent) == ROWS, f"all {fast.value} rows sent")
        # Meanwhile the slow channel has sent nothing; it holds its own room and slots.
        assert held.sent == []
        assert held.waiting == 4  # its `concurrency`, not more
        assert s._in_flight[slow.value] == 10  # its `max_in_flight`
        held.release.set()
        await until(lambda: len(held.sent) == ROWS, f"the {slow.value} rows go too")
    finally:
        held.release.set()
        s.stop()
        await task
    assert sorted(o.address for o in other.sent) == sorted(address(fast, i) for i in range(ROWS))
    assert list((await statuses(store)).values()) == ["sent"] * (2 * ROWS)


async def test_a_drain_round_sends_each_channel_side_by_side(
    store: Store, pair: tuple[HeldChannel, FakeChannel]
) -> None:
    held, other = pair
    s = sender(store, held, other, batch_size=5, concurrency=4, clock=lambda: T0)
    step = asyncio.create_task(s.step(T0))
    try:
        # The round claimed a batch of each; the fast one's goes out in full while the
        # slow one's waits at its channel (the round used to wait for it first).
        await until(lambda: len(other.sent) == 5, f"the {other.name.value} batch sent")
        assert held.sent == []
        assert not step.done()
    finally:
        held.release.set()
        handled = await asyncio.wait_for(step, WAIT)
    assert handled == 10
    assert len(held.sent) == 5
    # And `drain` sends the rest, as before.
    assert await asyncio.wait_for(s.drain(T0), WAIT) == 2 * ROWS - 10
    assert list((await statuses(store)).values()) == ["sent"] * (2 * ROWS)
