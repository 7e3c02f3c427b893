"""Only the leader takes Telegram updates (docs/interfaces.md §13): a follower's channel
checks the token and sends, but neither polls nor touches the webhook; leadership gained
starts polling, leadership lost stops it with the last batch confirmed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.core import ChannelName, Outbound
from bot.telegram import TelegramChannel
from tests.bot.fake_telegram import (
    FakeTelegram,
    RecordingJournal,
    no_reports,
    telegram_settings,
    text_update,
)

USER = 111


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def test_a_follower_sends_but_takes_no_updates_until_it_leads(fake: FakeTelegram) -> None:
    journal = RecordingJournal()
    channel = TelegramChannel(telegram_settings(fake), poll_timeout=1, retry_delay=0.01)
    channel.receiving = False
    await channel.start(journal, no_reports)
    try:
        assert channel.is_up()
        result = await channel.send(Outbound(channel=ChannelName.TELEGRAM, address=str(USER),
                                             text="ответ"))
        assert result.ok
        first = fake.push_update(text_update(USER, "привет"))
        # What a follower did: the token check and the send, nothing that takes updates.
        assert [c.method for c in fake.calls] == ["getMe", "sendMessage"]
        await channel.set_receiving(True)
        assert [item.text for item in await journal.wait_for(1)] == ["привет"]
        methods = [c.method for c in fake.calls]
        assert methods.index("deleteWebhook") < methods.index("getUpdates")
        await channel.set_receiving(False)
        # Stopped, the last batch confirmed (its offset is past "привет")...
        assert fake.offsets[-1] == first + 1
        polls = len(fake.calls_of("getUpdates"))
        fake.push_update(text_update(USER, "ещё"))
        # ...and the channel's loop ends after the follower's token check: nothing read.
        assert channel._task is not None
        await asyncio.wait_for(channel._task, 5)
        assert len(fake.calls_of("getUpdates")) == polls
        assert [item.text for item in journal.inbound] == ["привет"]
        assert channel.is_up()
    finally:
        await channel.stop()


async def test_a_follower_in_webhook_mode_leaves_the_webhook_to_the_leader(
    fake: FakeTelegram,
) -> None:
    settings = telegram_settings(
        fake, mode="webhook", webhook_url="https://gw.example.ru/tg", webhook_secret="s3cret"
    )
    channel = TelegramChannel(settings, retry_delay=0.01)
    channel.receiving = False
    await channel.start(RecordingJournal(), no_reports)
    try:
        assert fake.calls_of("setWebhook") == []
        await channel.set_receiving(True)
        assert [c.params["url"] for c in fake.calls_of("setWebhook")] == [
            "https://gw.example.ru/tg"
        ]
    finally:
        await channel.stop()
