"""The Telegram channel's inbound side in polling mode, against the fake Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.core import ChannelName, Inbound, SharedContact
from bot.telegram import ALLOWED_UPDATES, PRIVATE_ONLY_TEXT, TelegramChannel
from tests.bot.fake_telegram import (
    FakeTelegram,
    RecordingJournal,
    callback_update,
    channel_post_update,
    contact_update,
    edited_update,
    group_update,
    no_reports,
    photo_update,
    sticker_update,
    telegram_settings,
    text_update,
    voice_update,
)

USER = 111
OTHER = 222


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def journal() -> RecordingJournal:
    return RecordingJournal()


@pytest.fixture
async def channel(fake: FakeTelegram, journal: RecordingJournal) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(telegram_settings(fake), poll_timeout=1, retry_delay=0.01)
    await channel.start(journal, no_reports)
    yield channel
    await channel.stop()


async def test_start_checks_token_removes_webhook_and_registers_commands(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    await fake.wait_for("getUpdates")
    methods = [call.method for call in fake.calls]
    # getMe before anything; the webhook goes before the first getUpdates (else 409).
    assert methods[:2] == ["getMe", "deleteWebhook"]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    assert channel.is_up()
    assert channel.name is ChannelName.TELEGRAM
    assert [command["command"] for command in fake.commands] == [
        "start", "readings", "balance", "appeal", "status", "offices", "help",
    ]  # fmt: skip
    assert all(command["description"] for command in fake.commands)
    assert fake.calls_of("getUpdates")[0].params["allowed_updates"] == ALLOWED_UPDATES


async def test_polling_starts_even_when_a_webhook_was_left_set(
    fake: FakeTelegram, journal: RecordingJournal
) -> None:
    fake.webhook_url = "https://old.example.ru/hook"
    async with TelegramChannel(telegram_settings(fake), poll_timeout=1) as channel:
        await channel.start(journal, no_reports)
        fake.push_update(text_update(USER, "привет"))
        assert [item.text for item in await journal.wait_for(1)] == ["привет"]


def _expect(text: str = "", **fields: Any) -> dict[str, Any]:
    return {"text": text, "user_id": USER, "address": str(USER), "contact": None,
            "is_callback": False, "meta": {}, **fields}  # fmt: skip


# One row per kind of update Telegram sends to a private chat.
MAPPED = [
    pytest.param(text_update(USER, "показания 4521"), _expect("показания 4521"), id="text"),
    pytest.param(text_update(USER, "/balance"), _expect("/balance"), id="command"),
    # Menu commands in some clients carry the bot's name; the parser sees one spelling.
    pytest.param(
        text_update(USER, "/status@sbyt_test_bot 12345"), _expect("/status 12345"), id="cmd@bot"
    ),
    pytest.param(
        contact_update(USER, "79121234567", contact_user_id=USER),
        _expect(contact=SharedContact(phone="+79121234567", user_id=USER, first_name="Иван")),
        id="own-contact",
    ),
    # Someone else's card: channel reports it as is; the engine refuses to link.
    pytest.param(
        contact_update(USER, "+79127654321", contact_user_id=OTHER, first_name="Пётр"),
        _expect(contact=SharedContact(phone="+79127654321", user_id=OTHER, first_name="Пётр")),
        id="foreign-contact",
    ),
    pytest.param(
        contact_update(USER, "79120000000"),
        _expect(contact=SharedContact(phone="+79120000000", user_id=None, first_name="Иван")),
        id="contact-without-user",
    ),
    pytest.param(
        callback_update(USER, "account:1234567890"),
        _expect("account:1234567890", is_callback=True),
        id="callback",
    ),
    pytest.param(
        photo_update(USER, caption="счётчик 4521"),
        # the file id comes along, so that staff can see the photo in the inbox
        _expect("счётчик 4521", meta={"caption": "1", "file_id": "AgACAgIAAxk"}),
        id="photo-caption",
    ),
    pytest.param(
        photo_update(USER), _expect(meta={"media": "photo", "file_id": "AgACAgIAAxk"}),
        id="photo",
    ),
    pytest.param(sticker_update(USER), _expect(meta={"media": "sticker"}), id="sticker"),
    pytest.param(
        voice_update(USER), _expect(meta={"media": "voice", "file_id": "AwACAgIAAxk"}),
        id="voice",
    ),
]


@pytest.mark.parametrize(("update", "expected"), MAPPED)
async def test_update_becomes_inbound(
    fake: FakeTelegram,
    journal: RecordingJournal,
    channel: TelegramChannel,
    update: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    update_id = fake.push_update(update)
    [inbound] = await journal.wait_for(1)
    assert inbound.channel is ChannelName.TELEGRAM
    assert inbound.external_id == str(update_id)
    assert inbound.received_at.tzinfo is not None
    assert {key: getattr(inbound, key) for key in expected} == expected


async def test_edited_message_is_a_new_message_with_its_own_id(
    fake: FakeTelegram, journal: RecordingJournal, channel: TelegramChannel
) -> None:
    update_id = fake.push_update(edited_update(USER, "день 4521 ночь 1876"))
    [inbound] = await journal.wait_for(1)
    assert inbound.text == "день 4521 ночь 1876"
    assert inbound.meta == {"edited": "1"}
    assert inbound.external_id == f"edit:{update_id}"


async def test_callback_query_is_answered(
    fake: FakeTelegram, journal: RecordingJournal, channel: TelegramChannel
) -> None:
    fake.push_update(callback_update(USER, "yes", query_id="q-77"))
    await journal.wait_for(1)
    [answer] = await fake.wait_for("answerCallbackQuery")
    assert answer.params["callback_query_id"] == "q-77"


async def test_group_and_channel_messages_are_not_journaled_and_told_once(
    fake: FakeTelegram, journal: RecordingJournal, channel: TelegramChannel
) -> None:
    fake.push_update(group_update(USER, -100500, "показания 4521"))
    fake.push_update(group_update(OTHER, -100500, "и мои"))
    fake.push_update(channel_post_update(-100777, "новости"))
    last = fake.push_update(text_update(USER, "в личку"))
    await journal.wait_for(1)
    await fake.wait_until_confirmed(last)
    assert [item.text for item in journal.inbound] == ["в личку"]
    assert [(sent["chat_id"], sent["text"]) for sent in fake.sent] == [
        ("-100500", PRIVATE_ONLY_TEXT),
        ("-100777", PRIVATE_ONLY_TEXT),
    ]


async def test_polite_reply_failure_is_ignored(
    fake: FakeTelegram, journal: RecordingJournal, channel: TelegramChannel
) -> None:
    fake.fail_next("sendMessage", 403, "Forbidden: bot is not a member of the channel chat")
    fake.push_update(channel_post_update(-100777, "новости"))
    last = fake.push_update(text_update(USER, "дальше"))
    await journal.wait_for(1)
    await fake.wait_until_confirmed(last)
    assert channel.is_up()


async def test_offset_is_confirmed_only_past_journaled_updates(
    fake: FakeTelegram, journal: RecordingJournal
) -> None:
    ids = [fake.push_update(text_update(USER, f"сообщение {n}")) for n in range(3)]
    journal.fail_once.add(str(ids[1]))
    confirmed_before_journaling: list[str] = []

    async def on_inbound(inbound: Inbound) -> bool:
        # Journaling an update that Telegram already forgot would mean a crash loses it.
        if int(inbound.external_id) not in {upd["update_id"] for upd in fake.pending_updates}:
            confirmed_before_journaling.append(inbound.external_id)
        return await journal(inbound)

    async with TelegramChannel(telegram_settings(fake), poll_timeout=1, retry_delay=0.01) as tg:
        await tg.start(on_inbound, no_reports)
        await journal.wait_for(3)
        await fake.wait_until_confirmed(ids[2])

    assert confirmed_before_journaling == []
    # The failed update was fetched again from its own id: nothing lost, nothing skipped.
    assert journal.attempts == [str(ids[0]), str(ids[1]), str(ids[1]), str(ids[2])]
    assert ids[1] in fake.offsets
    assert [item.text for item in journal.inbound] == ["сообщение 0", "сообщение 1", "сообщение 2"]


async def test_crash_after_journaling_redelivers_and_the_journal_dedups(
    fake: FakeTelegram, journal: RecordingJournal
) -> None:
    first = fake.push_update(text_update(USER, "раз"))
    second = fake.push_update(text_update(USER, "два"))
    # The second update cannot be stored; then the process "dies" (stop).
    journal.fail_once.add(str(second))
    crashed = TelegramChannel(telegram_settings(fake), poll_timeout=1, retry_delay=30)
    await crashed.start(journal, no_reports)
    await journal.wait_for(1)
    await crashed.stop()
    assert str(second) not in {item.external_id for item in journal.inbound}
    assert second in {upd["update_id"] for upd in fake.pending_updates}

    async with TelegramChannel(telegram_settings(fake), poll_timeout=1) as restarted:
        await restarted.start(journal, no_reports)
        await journal.wait_for(2)
        await fake.wait_until_confirmed(second)
    assert [item.external_id for item in journal.inbound] == [str(first), str(second)]


async def test_network_errors_are_retried_with_backoff(
    fake: FakeTelegram, journal: RecordingJournal, channel: TelegramChannel
) -> None:
    await fake.wait_for("getUpdates")
    fake.fail_next("getUpdates", 502, "Bad Gateway", times=2)
    fake.push_update(text_update(USER, "после сбоя"))
    [inbound] = await journal.wait_for(1)
    assert inbound.text == "после сбоя"
    assert channel.is_up()


async def test_updates_of_one_chat_are_journaled_in_order(
    fake: FakeTelegram, journal: RecordingJournal, channel: TelegramChannel
) -> None:
    texts = [f"{n}" for n in range(20)]
    for text in texts:
        fake.push_update(text_update(USER, text))
    assert [item.text for item in await journal.wait_for(20)] == texts


async def test_stop_ends_a_long_poll_and_confirms_the_last_batch(
    fake: FakeTelegram, journal: RecordingJournal
) -> None:
    # The default long-poll of 10 s: stop() must cancel it rather than wait it out.
    channel = TelegramChannel(telegram_settings(fake))
    await channel.start(journal, no_reports)
    last = fake.push_update(text_update(USER, "последнее"))
    await journal.wait_for(1)
    await fake.wait_for("getUpdates", 2)  # the next long-poll is open
    await channel.stop()
    assert not channel.is_up()
    assert fake.offsets[-1] == last + 1
    assert fake.pending_updates == []


async def test_an_update_aiogram_cannot_read_is_skipped_not_fatal(
    fake: FakeTelegram, journal: RecordingJournal, channel: TelegramChannel
) -> None:
    # Without care, one such update fails every later getUpdates: the bot goes deaf.
    broken = fake.push_update({"message": {"message_id": "not a number", "chat": 5}})
    fake.push_update(text_update(USER, "после битого"))
    [inbound] = await journal.wait_for(1)
    assert inbound.text == "после битого"
    assert str(broken) not in journal.attempts


async def test_proxy_error_page_on_getupdates_is_retried(
    fake: FakeTelegram, journal: RecordingJournal, channel: TelegramChannel
) -> None:
    await fake.wait_for("getUpdates")
    fake.fail_next("getUpdates", 502, "", raw_body="<html>502 Bad Gateway</html>")
    fake.push_update(text_update(USER, "дошло"))
    assert [item.text for item in await journal.wait_for(1)] == ["дошло"]


async def test_staff_chat_is_not_told_private_only(
    fake: FakeTelegram, journal: RecordingJournal
) -> None:
    settings = telegram_settings(fake, staff_chat_id=-100900)
    async with TelegramChannel(settings, poll_timeout=1) as channel:
        await channel.start(journal, no_reports)
        last = fake.push_update(group_update(USER, -100900, "кто дежурит?"))
        await fake.wait_until_confirmed(last)
    assert fake.sent == []
    assert journal.attempts == []
