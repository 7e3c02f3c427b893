"""The bot token is in every Bot API URL; it must never reach logs, output or results."""

from __future__ import annotations

import logging
import socket

import pytest
from pydantic import SecretStr

from bot.core import ChannelName, Outbound, SendErrorKind, SendResult
from bot.settings import SettingsError, TelegramSettings
from bot.telegram import TelegramChannel
from tests.bot.fake_telegram import (
    TOKEN,
    FakeTelegram,
    RecordingJournal,
    no_reports,
    telegram_settings,
)

OUT = Outbound(channel=ChannelName.TELEGRAM, address="111", text="Текст")


def _free_port() -> int:
    # Bound and closed at once: nothing listens there, so connecting is refused.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _assert_no_token(
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    results: list[SendResult],
) -> None:
    captured = capsys.readouterr()
    assert caplog.records, "the failures should have been logged"
    # Each record's formatted text and its arguments (a handler may format them later).
    assert TOKEN not in caplog.text
    assert all(TOKEN not in repr(record.args) for record in caplog.records)
    assert TOKEN not in captured.out
    assert TOKEN not in captured.err
    for result in results:
        assert result.error is not None
        assert TOKEN not in result.error.detail


async def test_connection_refused(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeTelegram() as fake:
        settings = telegram_settings(fake, api_base=f"http://127.0.0.1:{_free_port()}")
    async with TelegramChannel(settings, retry_delay=0.01) as channel:
        await channel.start(RecordingJournal(), no_reports)
        assert not channel.is_up()
        result = await channel.send(OUT)
    assert result.error is not None
    assert result.error.kind is SendErrorKind.CONNECTION
    _assert_no_token(caplog, capsys, [result])


async def test_unauthorized(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    # The fake knows another token: ours gets 401 Unauthorized everywhere.
    async with FakeTelegram(token="987654321:AAOtherTokenOtherTokenOtherToken000") as fake:
        settings = telegram_settings(fake, token=SecretStr(TOKEN))
        async with TelegramChannel(settings, retry_delay=0.01) as channel:
            await channel.start(RecordingJournal(), no_reports)
            assert not channel.is_up()
            result = await channel.send(OUT)
    assert result.error is not None
    assert result.error.kind is SendErrorKind.CONNECTION
    _assert_no_token(caplog, capsys, [result])


async def test_errors_that_echo_the_url(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeTelegram() as fake, TelegramChannel(telegram_settings(fake)) as channel:
        # A proxy or a local Bot API server that quotes the request path back.
        fake.fail_next("sendMessage", 404, f"Not Found: /bot{TOKEN}/sendMessage")
        fake.fail_next("sendMessage", 502, "", raw_body=f"<h1>502</h1> upstream /bot{TOKEN}/")
        fake.fail_next("getMe", 500, f"Internal: /bot{TOKEN}/getMe")
        results = [await channel.send(OUT), await channel.send(OUT)]
        await channel.start(RecordingJournal(), no_reports)
        await fake.wait_for("getUpdates")
    assert [r.error.kind if r.error else None for r in results] == [
        SendErrorKind.INVALID_ADDRESS,
        SendErrorKind.TEMPORARY,
    ]
    _assert_no_token(caplog, capsys, results)


@pytest.mark.parametrize("token", ["", "no-colon-token", "123456:with space"])
def test_bad_token_is_a_settings_error_that_does_not_quote_it(token: str) -> None:
    settings = TelegramSettings(enabled=True, token=SecretStr(token))
    with pytest.raises(SettingsError, match=r"telegram\.token") as caught:
        TelegramChannel(settings)
    assert not token or token not in str(caught.value)
