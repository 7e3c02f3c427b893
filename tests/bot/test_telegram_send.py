"""The Telegram channel's outbound side: sendMessage shapes, splitting, the error table."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.core import Button, ChannelName, Outbound, SendErrorKind
from bot.telegram import CONTACT_BUTTON_TEXT, TelegramChannel, normalize_command
from tests.bot.fake_telegram import FakeTelegram, telegram_settings

USER = "111"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def channel(fake: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    # Sending needs no start(): the outbox may send while polling reconnects.
    async with TelegramChannel(telegram_settings(fake)) as channel:
        yield channel


def _out(text: str, **fields: object) -> Outbound:
    return Outbound(channel=ChannelName.TELEGRAM, address=USER, text=text, **fields)


async def test_send_plain_text(fake: FakeTelegram, channel: TelegramChannel) -> None:
    result = await channel.send(_out("Показания приняты."))
    assert result.ok
    assert result.message_ids == ("1",)
    assert result.parts == 1
    [sent] = fake.sent
    assert sent["chat_id"] == USER
    assert sent["text"] == "Показания приняты."


@pytest.mark.parametrize(
    "text",
    [
        "<b>Долг</b> & пени > 0",
        "Счёт <1234567890>: оплатите до 25.12",
        "a &amp; b",  # already looks escaped: must still reach the customer verbatim
        "*жирный* _курсив_ [ссылка](http://x)",
    ],
)
async def test_markup_characters_reach_the_customer_verbatim(
    fake: FakeTelegram, channel: TelegramChannel, text: str
) -> None:
    # Outbound text is plain: sent with no parse mode, so nothing is taken for markup
    # (and a stray "<" cannot make Telegram refuse the message).
    assert (await channel.send(_out(text))).ok
    [sent] = fake.sent
    assert sent["text"] == text
    assert "parse_mode" not in sent


async def test_long_text_is_split_on_paragraphs(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    paragraphs = [f"Абзац {n}. " + "слово " * 250 for n in range(3)]
    paragraphs = [p.strip() for p in paragraphs]
    result = await channel.send(_out("\n\n".join(paragraphs)))
    assert result.ok
    assert result.parts == 2
    assert result.message_ids == ("1", "2")
    texts = [sent["text"] for sent in fake.sent]
    assert all(len(text) <= 4096 for text in texts)
    assert texts == ["\n\n".join(paragraphs[:2]), paragraphs[2]]


async def test_inline_buttons_go_with_the_last_part(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    buttons = ((Button(text="Да", data="confirm:yes"), Button(text="Нет", data="confirm:no")),)
    long_text = "строка\n" * 700
    result = await channel.send(_out(long_text, buttons=buttons))
    assert result.ok
    first, last = fake.sent
    assert "reply_markup" not in first
    assert last["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "Да", "callback_data": "confirm:yes"},
                {"text": "Нет", "callback_data": "confirm:no"},
            ]
        ]
    }


async def test_request_contact_shows_the_share_phone_keyboard(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    assert (await channel.send(_out("Поделитесь номером", request_contact=True))).ok
    [sent] = fake.sent
    assert sent["reply_markup"] == {
        "keyboard": [[{"text": CONTACT_BUTTON_TEXT, "request_contact": True}]],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }


async def test_button_data_over_64_bytes_is_refused_without_a_call(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    buttons = ((Button(text="Счёт", data="я" * 33),),)  # 66 bytes in UTF-8
    result = await channel.send(_out("Выберите", buttons=buttons))
    assert result.error is not None
    assert result.error.kind is SendErrorKind.REJECTED
    assert fake.calls_of("sendMessage") == []


@pytest.mark.parametrize(
    ("status", "description", "expected"),
    [
        # (error kind, retryable): the outbox retries or falls back to SMS on these.
        (429, "Too Many Requests: retry after 1", (SendErrorKind.THROTTLED, True)),
        (403, "Forbidden: bot was blocked by the user", (SendErrorKind.BLOCKED, False)),
        (403, "Forbidden: user is deactivated", (SendErrorKind.BLOCKED, False)),
        (400, "Bad Request: chat not found", (SendErrorKind.INVALID_ADDRESS, False)),
        (400, "Bad Request: message text is empty", (SendErrorKind.REJECTED, False)),
        (500, "Internal Server Error", (SendErrorKind.TEMPORARY, True)),
        (502, "Bad Gateway", (SendErrorKind.TEMPORARY, True)),
        (401, "Unauthorized", (SendErrorKind.CONNECTION, True)),
    ],
)
async def test_errors_are_declared_outcomes(
    fake: FakeTelegram,
    channel: TelegramChannel,
    status: int,
    description: str,
    expected: tuple[SendErrorKind, bool],
) -> None:
    retry_after = 1 if status == 429 else None
    fake.fail_next("sendMessage", status, description, retry_after=retry_after)
    result = await channel.send(_out("Текст"))
    assert not result.ok
    assert result.error is not None
    assert (result.error.kind, result.error.retryable) == expected
    assert description in result.error.detail
    assert result.message_ids == ()
    if status == 429:
        assert result.error.retry_after == 1.0


async def test_throttled_twice_reports_retry_after_each_time(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    fake.fail_send_throttled(times=2, retry_after=1)
    results = [await channel.send(_out("Текст")) for _ in range(3)]
    # The channel reports; waiting and retrying is the outbox's job.
    assert [r.error.kind if r.error else None for r in results] == [
        SendErrorKind.THROTTLED, SendErrorKind.THROTTLED, None,
    ]  # fmt: skip
    assert [r.error.retry_after if r.error else None for r in results] == [1.0, 1.0, None]
    assert len(fake.sent) == 1


async def test_shortcut_failures(fake: FakeTelegram, channel: TelegramChannel) -> None:
    fake.fail_send_blocked()
    fake.fail_send_chat_not_found()
    first = await channel.send(_out("раз"))
    second = await channel.send(_out("два"))
    assert first.error is not None
    assert first.error.kind is SendErrorKind.BLOCKED
    assert second.error is not None
    assert second.error.kind is SendErrorKind.INVALID_ADDRESS


async def test_failure_after_some_parts_reports_the_sent_ones(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3, after=1)
    result = await channel.send(_out("абзац\n\n" * 1000))
    assert result.message_ids == ("1",)
    assert result.parts == 1
    assert result.error is not None
    assert result.error.kind is SendErrorKind.THROTTLED
    assert result.error.retry_after == 3.0


async def test_unreachable_server_is_a_connection_error() -> None:
    async with FakeTelegram() as fake:
        settings = telegram_settings(fake)
    # The fake is closed: nothing listens on its port any more.
    async with TelegramChannel(settings, session_timeout=5) as channel:
        result = await channel.send(_out("Текст"))
    assert result.error is not None
    assert result.error.kind is SendErrorKind.CONNECTION


@pytest.mark.parametrize("address", ["+79121234567", "", "abc"])
async def test_address_that_is_not_a_chat_id(channel: TelegramChannel, address: str) -> None:
    result = await channel.send(
        Outbound(channel=ChannelName.TELEGRAM, address=address, text="Текст")
    )
    assert result.error is not None
    assert result.error.kind is SendErrorKind.INVALID_ADDRESS


async def test_send_after_stop_is_refused(fake: FakeTelegram) -> None:
    channel = TelegramChannel(telegram_settings(fake))
    await channel.stop()
    result = await channel.send(_out("Текст"))
    assert result.error is not None
    assert result.error.kind is SendErrorKind.CONNECTION
    assert fake.calls == []


# --------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/balance", "/balance"),
        ("/balance@sbyt_test_bot", "/balance"),
        ("/status@SbytBot 12345", "/status 12345"),
        ("/start abc@def", "/start abc@def"),  # the payload is left alone
        ("почта me@example.ru", "почта me@example.ru"),
        ("/@bot", "/@bot"),
        ("показания 4521", "показания 4521"),
    ],
)
def test_normalize_command(text: str, expected: str) -> None:
    assert normalize_command(text) == expected
