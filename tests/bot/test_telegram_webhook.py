"""Webhook mode: Telegram POSTs updates to a route of the service's aiohttp server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.settings import SettingsError
from bot.telegram import ALLOWED_UPDATES, SECRET_HEADER, TelegramChannel
from tests.bot.fake_telegram import (
    FakeTelegram,
    RecordingJournal,
    callback_update,
    no_reports,
    telegram_settings,
    text_update,
)

USER = 111
SECRET = "s3cr3t-webhook-token"
PATH = "/telegram/webhook"
Client: TypeAlias = "TestClient[web.Request, web.Application]"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def journal() -> RecordingJournal:
    return RecordingJournal()


@pytest.fixture
def channel(fake: FakeTelegram) -> TelegramChannel:
    return TelegramChannel(
        telegram_settings(
            fake,
            mode="webhook",
            webhook_url="https://gw.example.ru/telegram/webhook",
            webhook_secret=SecretStr(SECRET),
        )
    )


@pytest.fixture
async def client(channel: TelegramChannel) -> AsyncIterator[Client]:
    # As the app wires it: routes added before its server starts.
    app = web.Application()
    channel.add_routes(app)
    async with TestClient(TestServer(app)) as http:
        yield http
    await channel.stop()


async def _post(client: Client, update: Any, secret: str | None = SECRET) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with client.post(PATH, json=update, headers=headers) as response:
        return response.status


async def test_start_sets_the_webhook_with_the_secret(
    fake: FakeTelegram,
    channel: TelegramChannel,
    journal: RecordingJournal,
    client: Client,
) -> None:
    await channel.start(journal, no_reports)
    assert channel.is_up()
    assert fake.webhook_url == "https://gw.example.ru/telegram/webhook"
    assert fake.webhook_secret == SECRET
    [call] = fake.calls_of("setWebhook")
    assert call.params["allowed_updates"] == ALLOWED_UPDATES
    assert fake.calls_of("getUpdates") == []
    assert fake.calls_of("deleteWebhook") == []
    assert len(fake.commands) == 7


async def test_update_with_the_right_secret_is_journaled(
    channel: TelegramChannel,
    journal: RecordingJournal,
    client: Client,
) -> None:
    await channel.start(journal, no_reports)
    assert await _post(client, {"update_id": 5, **text_update(USER, "баланс")}) == 200
    [inbound] = journal.inbound
    assert (inbound.text, inbound.address, inbound.external_id) == ("баланс", "111", "5")
    # Telegram redelivers when unsure; the journal dedups, the route still says 200.
    assert await _post(client, {"update_id": 5, **text_update(USER, "баланс")}) == 200
    assert len(journal.inbound) == 1


@pytest.mark.parametrize("secret", ["wrong", "", None, SECRET + "x", SECRET[:-1]])
async def test_wrong_or_missing_secret_is_refused(
    channel: TelegramChannel,
    journal: RecordingJournal,
    client: Client,
    secret: str | None,
) -> None:
    await channel.start(journal, no_reports)
    assert await _post(client, {"update_id": 6, **text_update(USER, "баланс")}, secret) == 401
    assert journal.attempts == []


async def test_body_that_is_not_an_update_is_refused(
    channel: TelegramChannel,
    journal: RecordingJournal,
    client: Client,
) -> None:
    await channel.start(journal, no_reports)
    assert await _post(client, {"no": "update_id"}) == 400
    headers = {SECRET_HEADER: SECRET}
    async with client.post(PATH, data=b"{not json", headers=headers) as response:
        assert response.status == 400
    assert journal.attempts == []


async def test_journal_failure_makes_telegram_retry(
    channel: TelegramChannel,
    journal: RecordingJournal,
    client: Client,
) -> None:
    await channel.start(journal, no_reports)
    journal.fail_once.add("7")
    update = {"update_id": 7, **text_update(USER, "показания 4521")}
    assert await _post(client, update) == 500
    assert journal.inbound == []
    assert await _post(client, update) == 200  # Telegram's retry
    assert [item.external_id for item in journal.inbound] == ["7"]


async def test_callback_query_over_webhook_is_answered(
    fake: FakeTelegram,
    channel: TelegramChannel,
    journal: RecordingJournal,
    client: Client,
) -> None:
    await channel.start(journal, no_reports)
    update = {"update_id": 8, **callback_update(USER, "account:1", query_id="q-8")}
    assert await _post(client, update) == 200
    assert journal.inbound[0].is_callback
    [answer] = fake.calls_of("answerCallbackQuery")
    assert answer.params["callback_query_id"] == "q-8"


async def test_route_before_start_asks_telegram_to_retry(
    channel: TelegramChannel, client: Client
) -> None:
    assert await _post(client, {"update_id": 9, **text_update(USER, "рано")}) == 503


def test_webhook_mode_needs_a_secret(fake: FakeTelegram) -> None:
    settings = telegram_settings(fake, mode="webhook", webhook_url="https://gw.example.ru/h")
    with pytest.raises(SettingsError, match="webhook_secret"):
        TelegramChannel(settings)
