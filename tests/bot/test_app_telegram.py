"""The whole gateway with Telegram on: aiogram's real HTTP client polls a fake Bot API
server on loopback (tests/bot/fake_telegram.py). The scenarios of issue 5's outside
checks: /start offers contact sharing, the own contact links and the balance follows,
someone else's contact reveals nothing, readings by account number reach the export,
two 429 answers in a row are survived, an outage appeal gets a ticket number; and a
staff command from an allow-listed id starts a broadcast."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Gateway
from bot.settings import load_settings
from storage.export import export_readings
from tests.bot.fake_telegram import (
    TOKEN,
    FakeTelegram,
    callback_update,
    contact_update,
    text_update,
)

STAFF = 900


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Gateway, FakeTelegram]]:
    async with FakeTelegram() as tg:
        cfg = tmp_path / "s.toml"
        cfg.write_text(
            f'[storage]\npath = "{tmp_path / "g.db"}"\n'
            "[smpp]\nport = 0\n[api]\nport = 0\n"
            f'[telegram]\nenabled = true\napi_base = "{tg.base_url}"\n'
            f"staff_ids = [{STAFF}]\n",
            encoding="utf-8",
        )
        settings = load_settings(cfg)
        settings.telegram.token = type(settings.telegram.token)(TOKEN)
        async with Gateway(settings) as gw:
            yield gw, tg


def texts_to(tg: FakeTelegram, chat: int) -> list[str]:
    return [str(m["text"]) for m in tg.sent if str(m["chat_id"]) == str(chat)]


async def say(tg: FakeTelegram, update: dict[str, Any], chat: int, replies: int = 1) -> str:
    before = len(texts_to(tg, chat))
    tg.push_update(update)
    await tg.wait_until(lambda: len(texts_to(tg, chat)) >= before + replies)
    return "\n".join(texts_to(tg, chat)[before:])


async def test_start_offers_contact_and_own_contact_links(
    world: tuple[Gateway, FakeTelegram],
) -> None:
    _, tg = world
    await say(tg, text_update(501, "/start"), 501)
    markup = tg.sent[-1].get("reply_markup")
    markup = json.loads(markup) if isinstance(markup, str) else markup
    assert markup is not None
    assert any(b.get("request_contact") for row in markup["keyboard"] for b in row)
    await say(tg, contact_update(501, "+79121234567", contact_user_id=501), 501)
    balance = await say(tg, text_update(501, "баланс"), 501)
    assert "задолженность 1\u00a0234,56 руб." in balance, balance


async def test_someone_elses_contact_reveals_nothing(
    world: tuple[Gateway, FakeTelegram],
) -> None:
    _, tg = world
    answer = await say(tg, contact_update(502, "+79121234567", contact_user_id=777), 502)
    balance = await say(tg, text_update(502, "баланс"), 502)
    for secret in ("1234", "Иванов", "4390"):
        assert secret not in answer
        assert secret not in balance


async def test_readings_by_account_reach_the_export_despite_two_429(
    world: tuple[Gateway, FakeTelegram],
) -> None:
    gw, tg = world
    tg.fail_send_throttled(times=2, retry_after=1)
    reply = await say(tg, text_update(503, "ЛС 0012345678 день 4500 ночь 1800"), 503)
    assert "получены" in reply  # a user not linked to the account: nothing compared aloud
    assert gw.store is not None
    out = io.StringIO()
    await export_readings(gw.store.db, period=None, fmt="jsonl", include_console=False,
                          out=out, tz=gw.settings.service.tz)
    rows = {(r["account"], r["zone"], r["value"], r["sender"])
            for r in map(json.loads, out.getvalue().splitlines())}
    assert rows == {("0012345678", "T1", "4500", "telegram:503"),
                    ("0012345678", "T2", "1800", "telegram:503")}


async def test_outage_appeal_gets_a_ticket(world: tuple[Gateway, FakeTelegram]) -> None:
    _, tg = world
    reply = await say(tg, text_update(504, "Нет света на ул. Ленина 31 с утра"), 504)
    assert "№" in reply
    assert any(ch.isdigit() for ch in reply)


async def test_staff_command_broadcasts_and_customers_cannot(
    world: tuple[Gateway, FakeTelegram],
) -> None:
    gw, tg = world
    command = ("/outage Сыктывкар; Коммунистическая; 10; ремонт линии; "
               "2026-11-26 10:00; 2099-11-26 18:00")
    staff_reply = await say(tg, text_update(STAFF, command), STAFF)
    assert gw.store is not None
    assert await gw.store.db.fetchval("SELECT count(*) FROM outages") == 1, staff_reply
    await say(tg, text_update(505, command), 505)
    assert await gw.store.db.fetchval("SELECT count(*) FROM outages") == 1


async def test_webhook_mode_through_the_admin_api_server(tmp_path: Path) -> None:
    """Webhook mode: the route lives on the admin API's server and checks the secret."""
    import aiohttp

    async with FakeTelegram() as tg:
        cfg = tmp_path / "s.toml"
        cfg.write_text(
            f'[storage]\npath = "{tmp_path / "g.db"}"\n'
            "[smpp]\nenabled = false\n[api]\nport = 0\n"
            f'[telegram]\nenabled = true\napi_base = "{tg.base_url}"\nmode = "webhook"\n'
            'webhook_url = "https://bot.example.org/telegram/webhook"\n',
            encoding="utf-8",
        )
        settings = load_settings(cfg)
        settings.telegram.token = type(settings.telegram.token)(TOKEN)
        settings.telegram.webhook_secret = type(settings.telegram.webhook_secret)("s3cret-hook")
        async with Gateway(settings) as gw:
            assert gw.api is not None
            url = f"http://127.0.0.1:{gw.api.port}/telegram/webhook"
            update = {"update_id": 77, **text_update(601, "помощь")}
            async with aiohttp.ClientSession() as http:
                async with http.post(url, json=update) as resp:
                    assert resp.status == 401
                headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-hook"}
                async with http.post(url, json=update, headers=headers) as resp:
                    assert resp.status == 200
            await tg.wait_until(lambda: bool(texts_to(tg, 601)))
            assert tg.webhook_url == "https://bot.example.org/telegram/webhook"
            assert tg.webhook_secret == "s3cret-hook"


def _markup(message: dict[str, Any]) -> dict[str, Any] | None:
    markup = message.get("reply_markup")
    return json.loads(markup) if isinstance(markup, str) else markup


async def test_shared_contact_hides_the_keyboard_and_pressed_buttons_go(
    world: tuple[Gateway, FakeTelegram],
) -> None:
    # The share-contact keyboard stayed on screen after the number was shared, and old
    # inline buttons could be pressed again (a held reading confirmed twice).
    _, tg = world
    await say(tg, text_update(506, "/start"), 506)
    await say(tg, contact_update(506, "+79121234567", contact_user_id=506), 506)
    linked = _markup(tg.sent[-1])
    assert linked is not None
    assert linked.get("remove_keyboard") is True
    await say(tg, callback_update(506, "помощь", query_id="cq-506"), 506)
    edits = await tg.wait_for("editMessageReplyMarkup")
    assert [str(c.params.get("chat_id")) for c in edits] == ["506"]
    assert not edits[0].params.get("reply_markup")
