"""The MAX channel against the fake MAX Bot API (tests/bot/fake_max.py) on loopback:
update → envelope mapping, unknown fields, the polling marker confirmed only after the
journal, webhook secret and malformed bodies, declared send outcomes, the token never in
logs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.core import Button, ChannelName, Inbound, Outbound, SendErrorKind
from bot.max import MaxChannel, MaxUpdate, contact_phone, inbound_from_update
from bot.settings import MaxSettings, SettingsError
from tests.bot.fake_max import (
    TOKEN,
    FakeMax,
    bot_started,
    callback_update,
    contact_update,
    text_update,
)

SECRET = "hook-Secret-42"


def settings(mx: FakeMax, **extra: Any) -> MaxSettings:
    return MaxSettings(enabled=True, token=SecretStr(TOKEN), api_base=mx.base_url, **extra)


class Journal:
    """`on_inbound`: keeps envelopes; fails the next `fail` calls like a broken store."""

    def __init__(self) -> None:
        self.got: list[Inbound] = []
        self.fail = 0
        self.changed = asyncio.Event()

    async def __call__(self, inbound: Inbound) -> bool:
        if self.fail:
            self.fail -= 1
            raise OSError("disk I/O error")
        new = inbound.external_id not in {i.external_id for i in self.got}
        if new:
            self.got.append(inbound)
        self.changed.set()
        return new


async def _no_reports(report: object) -> None:
    del report


@pytest.fixture
async def mx() -> AsyncIterator[FakeMax]:
    async with FakeMax() as fake:
        yield fake


# --------------------------------------------------------------------------- mapping


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        (text_update(11, "день 4500"), ("11", "день 4500", None, False, {})),
        (bot_started(12), ("12", "/start", None, False, {})),
        (callback_update(13, "ДА", callback_id="cb1"), ("13", "ДА", None, True, {})),
        (contact_update(14, "+79121234567", owner_id=14),
         ("14", "", ("+79121234567", 14), False, {})),
        # someone else's contact: max_info names another user
        (contact_update(15, "79121234567", owner_id=99),
         ("15", "", ("+79121234567", 99), False, {})),
        # a contact from the address book, not a MAX user: no owner at all
        (contact_update(16, "+79121234567", owner_id=None),
         ("16", "", ("+79121234567", None), False, {})),
    ],
)
def test_updates_map_to_envelopes(
    update: dict[str, Any], expected: tuple[str, str, Any, bool, dict[str, str]]
) -> None:
    inbound = inbound_from_update(MaxUpdate.model_validate(update))
    assert inbound is not None
    address, text, contact, callback, meta = expected
    assert inbound.channel is ChannelName.MAX
    assert (inbound.address, inbound.text, inbound.is_callback, inbound.meta) == (
        address, text, callback, meta)
    assert inbound.user_id == int(address)
    shared = (inbound.contact.phone, inbound.contact.user_id) if inbound.contact else None
    assert shared == contact
    assert inbound.received_at.tzinfo is not None


def test_unknown_fields_and_kinds_are_tolerated() -> None:
    update = text_update(21, "баланс")
    update["brand_new_field"] = {"x": [1, 2]}
    update["message"]["body"]["reactions"] = ["👍"]
    update["message"]["sender"]["premium"] = True
    inbound = inbound_from_update(MaxUpdate.model_validate(update))
    assert inbound is not None
    assert inbound.text == "баланс"
    # An update kind we never asked for is no message for the engine.
    odd = MaxUpdate.model_validate({"update_type": "chat_title_changed", "timestamp": 1,
                                    "title": "x"})
    assert inbound_from_update(odd) is None


def test_group_messages_and_media_only() -> None:
    assert inbound_from_update(MaxUpdate.model_validate(
        text_update(22, "привет", chat_type="chat"))) is None
    photo = text_update(23, "")
    photo["message"]["body"]["attachments"] = [{"type": "image", "payload": {"url": "u"}}]
    inbound = inbound_from_update(MaxUpdate.model_validate(photo))
    assert inbound is not None
    assert inbound.meta == {"media": "image"}
    photo["message"]["body"]["text"] = "показания на фото"
    captioned = inbound_from_update(MaxUpdate.model_validate(photo))
    assert captioned is not None
    assert captioned.meta == {"caption": "1"}


@pytest.mark.parametrize(
    ("vcf", "phone"),
    [
        ("BEGIN:VCARD\nTEL;TYPE=cell:+7 912 123-45-67\nEND:VCARD", "+79121234567"),
        ("BEGIN:VCARD\r\nTEL:79121234567\r\nEND:VCARD", "+79121234567"),
        ("BEGIN:VCARD\nTEL:8 912 123 45 67\nEND:VCARD", "8 912 123 45 67"),
        ("BEGIN:VCARD\nFN:Иван\nEND:VCARD", None),
        (None, None),
    ],
)
def test_contact_phone_from_vcard(vcf: str | None, phone: str | None) -> None:
    assert contact_phone(vcf) == phone


def test_settings_refuse_missing_token_and_half_webhook() -> None:
    with pytest.raises(SettingsError, match="GATEWAY__MAX__TOKEN"):
        MaxChannel(MaxSettings(enabled=True))
    with pytest.raises(SettingsError, match="webhook"):
        MaxChannel(MaxSettings(enabled=True, token=SecretStr(TOKEN), mode="webhook"))


# --------------------------------------------------------------------------- polling


async def test_polling_confirms_the_marker_only_after_the_journal(mx: FakeMax) -> None:
    mx.subscriptions = [{"url": "https://old.example/hook"}]  # left from a webhook setup
    journal = Journal()
    journal.fail = 1  # the store fails once: the batch must come again
    first = mx.push_update(text_update(31, "раз"))
    mx.push_update(text_update(31, "два"))
    async with MaxChannel(settings(mx), poll_timeout=1, retry_delay=0.05) as channel:
        await channel.start(journal, _no_reports)
        await mx.wait_until(lambda: len(journal.got) == 2)
        assert [i.text for i in journal.got] == ["раз", "два"]
        assert mx.subscriptions == []  # polling removed the webhook, or MAX answers 405
        # The failed batch was fetched again without a marker (nothing confirmed yet).
        markers = [c.query.get("marker") for c in mx.calls_of("GET", "/updates")]
        assert markers[:2] == [None, None], markers
        await mx.wait_until(lambda: not mx.pending)
        assert str(first + 1) in [c.query.get("marker") for c in mx.calls_of("GET", "/updates")]
        assert channel.is_up()


async def test_a_pressed_button_is_answered_and_its_keyboard_removed(mx: FakeMax) -> None:
    journal = Journal()
    mx.push_update(callback_update(32, "ДА", callback_id="cb-32"))
    async with MaxChannel(settings(mx), poll_timeout=1) as channel:
        await channel.start(journal, _no_reports)
        await mx.wait_until(lambda: bool(mx.calls_of("POST", "/answers")))
    [answer] = mx.calls_of("POST", "/answers")
    assert answer.query == {"callback_id": "cb-32"}
    assert answer.body["message"]["attachments"] == []
    assert journal.got[0].is_callback


async def test_an_unreadable_update_is_skipped_and_the_rest_flows(mx: FakeMax) -> None:
    journal = Journal()
    mx.push_update({"update_type": "message_created", "timestamp": 1, "message": "junk"})
    mx.push_update(text_update(33, "после"))
    async with MaxChannel(settings(mx), poll_timeout=1) as channel:
        await channel.start(journal, _no_reports)
        await mx.wait_until(lambda: bool(journal.got))
    assert [i.text for i in journal.got] == ["после"]


# --------------------------------------------------------------------------- webhook


async def _webhook_server(channel: MaxChannel) -> tuple[web.AppRunner, str]:
    app = web.Application()
    channel.add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/max/webhook"


@pytest.mark.parametrize(
    ("headers", "body", "status", "recorded"),
    [
        ({}, text_update(41, "баланс"), 401, 0),  # no secret
        ({"X-Max-Bot-Api-Secret": "wrong-secret"}, text_update(41, "баланс"), 401, 0),
        ({"X-Max-Bot-Api-Secret": SECRET}, "{not json", 400, 0),
        ({"X-Max-Bot-Api-Secret": SECRET}, {"update_type": "message_created"}, 400, 0),
        ({"X-Max-Bot-Api-Secret": SECRET}, [1, 2], 400, 0),
        ({"X-Max-Bot-Api-Secret": SECRET}, {**text_update(41, "баланс"), "new": 1}, 200, 1),
        ({"X-Max-Bot-Api-Secret": SECRET}, {"update_type": "dialog_muted",
                                            "timestamp": 1, "chat_id": 5}, 200, 0),
    ],
)
async def test_webhook_checks_the_secret_and_the_body(
    mx: FakeMax, headers: dict[str, str], body: Any, status: int, recorded: int
) -> None:
    journal = Journal()
    channel = MaxChannel(settings(
        mx, mode="webhook", webhook_url="https://bot.example.org/max/webhook",
        webhook_secret=SecretStr(SECRET)))
    runner, url = await _webhook_server(channel)
    try:
        await channel.start(journal, _no_reports)
        assert mx.subscriptions[0]["secret"] == SECRET
        assert mx.subscriptions[0]["url"] == "https://bot.example.org/max/webhook"
        async with aiohttp.ClientSession() as http:
            kwargs: dict[str, Any] = (
                {"data": body} if isinstance(body, str) else {"json": body})
            async with http.post(url, headers=headers, **kwargs) as resp:
                assert resp.status == status
    finally:
        await channel.stop()
        await runner.cleanup()
    assert len(journal.got) == recorded


async def test_webhook_answers_500_when_the_journal_fails(mx: FakeMax) -> None:
    journal = Journal()
    journal.fail = 1
    channel = MaxChannel(settings(
        mx, mode="webhook", webhook_url="https://bot.example.org/max/webhook",
        webhook_secret=SecretStr(SECRET)))
    runner, url = await _webhook_server(channel)
    headers = {"X-Max-Bot-Api-Secret": SECRET}
    update = text_update(42, "день 100")
    try:
        await channel.start(journal, _no_reports)
        async with aiohttp.ClientSession() as http:
            async with http.post(url, headers=headers, json=update) as resp:
                assert resp.status == 500  # MAX delivers it again
            async with http.post(url, headers=headers, json=update) as resp:
                assert resp.status == 200
    finally:
        await channel.stop()
        await runner.cleanup()
    assert [i.text for i in journal.got] == ["день 100"]


class GatedJournal:
    """`on_inbound` that keeps each update inside until `let_one_through`, and counts how
    many were inside at once."""

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.inside = 0
        self.most_inside = 0
        self._gate = asyncio.Semaphore(0)

    async def __call__(self, inbound: Inbound) -> bool:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        self.entered.append(inbound.text)
        try:
            await self._gate.acquire()
        finally:
            self.inside -= 1
        return True

    def let_one_through(self) -> None:
        self._gate.release()


async def _until(predicate: Any) -> None:
    # The channel's lock has no event to wait on: look again, a bounded number of times.
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_webhook_keeps_one_users_updates_one_at_a_time(mx: FakeMax) -> None:
    # MAX may post one user's updates in parallel. Once this let a third update overtake
    # the second: the first's lock was dropped while the second still waited on it.
    journal = GatedJournal()
    channel = MaxChannel(settings(
        mx, mode="webhook", webhook_url="https://bot.example.org/max/webhook",
        webhook_secret=SecretStr(SECRET)))
    runner, url = await _webhook_server(channel)
    headers = {"X-Max-Bot-Api-Secret": SECRET}

    def waiting() -> int:
        entry = channel._chat_locks.get("43")
        return 0 if entry is None else entry.users - 1

    try:
        await channel.start(journal, _no_reports)
        async with aiohttp.ClientSession() as http:

            async def post(text: str) -> int:
                async with http.post(url, headers=headers,
                                     json=text_update(43, text)) as resp:
                    return resp.status

            first = asyncio.create_task(post("первое"))
            await _until(lambda: journal.entered == ["первое"])
            second = asyncio.create_task(post("второе"))
            await _until(lambda: waiting() == 1)
            journal.let_one_through()
            await _until(lambda: journal.entered == ["первое", "второе"])
            third = asyncio.create_task(post("третье"))
            await _until(lambda: waiting() == 1)  # behind the second, not beside it
            assert journal.entered == ["первое", "второе"]
            journal.let_one_through()
            journal.let_one_through()
            statuses = await asyncio.gather(first, second, third)
    finally:
        await channel.stop()
        await runner.cleanup()
    assert statuses == [200, 200, 200]
    assert journal.entered == ["первое", "второе", "третье"]
    assert journal.most_inside == 1
    assert channel._chat_locks == {}


# --------------------------------------------------------------------------- sending


@pytest.mark.parametrize(
    ("status", "code", "kind", "retryable"),
    [
        (429, "too.many.requests", SendErrorKind.THROTTLED, True),
        (403, "chat.denied", SendErrorKind.BLOCKED, False),
        (400, "dialog.suspended", SendErrorKind.BLOCKED, False),
        (404, "not.found", SendErrorKind.INVALID_ADDRESS, False),
        (400, "proto.payload", SendErrorKind.REJECTED, False),
        (401, "verify.token", SendErrorKind.CONNECTION, True),
        (500, "internal", SendErrorKind.TEMPORARY, True),
        (503, "", SendErrorKind.TEMPORARY, True),
    ],
)
async def test_send_outcomes_are_declared(
    mx: FakeMax, status: int, code: str, kind: SendErrorKind, retryable: bool
) -> None:
    mx.fail_next("/messages", status, code, retry_after=3 if status == 429 else None)
    async with MaxChannel(settings(mx)) as channel:
        result = await channel.send(Outbound(channel=ChannelName.MAX, address="51", text="x"))
    assert result.error is not None
    assert (result.error.kind, result.error.retryable) == (kind, retryable)
    if status == 429:
        assert result.error.retry_after == 3


async def test_send_with_buttons_contact_request_and_long_text(mx: FakeMax) -> None:
    outbound = Outbound(
        channel=ChannelName.MAX, address="52", text="абв " * 1500,
        buttons=((Button(text="Да", data="ДА"), Button(text="Нет", data="НЕТ")),),
        request_contact=True,
    )
    async with MaxChannel(settings(mx)) as channel:
        result = await channel.send(outbound)
    assert result.ok
    assert result.parts == 2
    first, last = mx.sent
    assert first["attachments"] == []
    assert "format" not in first
    assert len(first["text"]) <= 4000
    assert len(last["text"]) <= 4000
    [keyboard] = last["attachments"]
    rows = keyboard["payload"]["buttons"]
    assert keyboard["type"] == "inline_keyboard"
    assert rows[0] == [{"type": "callback", "text": "Да", "payload": "ДА"},
                       {"type": "callback", "text": "Нет", "payload": "НЕТ"}]
    assert rows[1][0]["type"] == "request_contact"


@pytest.mark.parametrize(
    ("address", "text", "kind"),
    [
        ("+79121234567", "x", SendErrorKind.INVALID_ADDRESS),
        ("user", "x", SendErrorKind.INVALID_ADDRESS),
        ("53", "   ", SendErrorKind.REJECTED),
    ],
)
async def test_bad_outbound_is_refused_without_a_call(
    mx: FakeMax, address: str, text: str, kind: SendErrorKind
) -> None:
    async with MaxChannel(settings(mx)) as channel:
        result = await channel.send(Outbound(channel=ChannelName.MAX, address=address,
                                             text=text))
    assert result.error is not None
    assert result.error.kind is kind
    assert not mx.calls_of("POST", "/messages")


async def test_the_token_is_never_logged(
    mx: FakeMax, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    journal = Journal()
    mx.fail_next("/me", 401, "verify.token", f"bad token {TOKEN}")
    mx.fail_next("/updates", 500, "internal", f"oops for {TOKEN}")
    mx.fail_send_throttled()
    async with MaxChannel(settings(mx), poll_timeout=1, retry_delay=0.05) as channel:
        await channel.start(journal, _no_reports)
        result = await channel.send(Outbound(channel=ChannelName.MAX, address="54", text="x"))
        await mx.wait_until(lambda: len(mx.calls_of("GET", "/updates")) >= 2)
    assert result.error is not None
    assert TOKEN not in result.error.detail
    assert "max: start failed" in caplog.text
    assert TOKEN not in caplog.text
    # the token travelled in the header only, never in a URL
    assert all(TOKEN not in str(c.query) for c in mx.calls)


async def test_a_dead_api_is_survived(caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens there: start logs and returns, send reports a connection error.
    dead = MaxSettings(enabled=True, token=SecretStr(TOKEN), api_base="http://127.0.0.1:9")
    async with MaxChannel(dead, retry_delay=0.05) as channel:
        await channel.start(Journal(), _no_reports)
        result = await channel.send(Outbound(channel=ChannelName.MAX, address="55", text="x"))
        assert not channel.is_up()
    assert result.error is not None
    assert result.error.kind is SendErrorKind.CONNECTION
    assert TOKEN not in caplog.text


# --------------------------------------------------------------------------- leadership


async def test_only_the_leader_polls_max(mx: FakeMax) -> None:
    """docs/interfaces.md §13: a follower's MAX channel checks the token and may send,
    but leaves updates and subscriptions alone until it leads; losing the lead stops
    its polling with the last batch confirmed."""
    mx.subscriptions = [{"url": "https://old.example/hook"}]
    journal = Journal()
    first = mx.push_update(text_update(41, "раз"))
    async with MaxChannel(settings(mx), poll_timeout=1, retry_delay=0.05) as channel:
        channel.receiving = False
        await channel.start(journal, _no_reports)
        assert channel.is_up()
        assert [(c.method, c.path) for c in mx.calls] == [("GET", "/me")]
        assert mx.subscriptions == [{"url": "https://old.example/hook"}]
        await channel.set_receiving(True)
        await mx.wait_until(lambda: len(journal.got) == 1)
        assert mx.subscriptions == []
        await channel.set_receiving(False)
        markers = [c.query.get("marker") for c in mx.calls_of("GET", "/updates")]
        assert markers[-1] == str(first)  # confirmed on the way out
        assert not mx.pending
        polls = len(markers)
        mx.push_update(text_update(41, "два"))
        assert channel._task is not None
        await asyncio.wait_for(channel._task, 5)
        assert len(mx.calls_of("GET", "/updates")) == polls
    assert [i.text for i in journal.got] == ["раз"]
