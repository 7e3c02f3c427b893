"""The inbox end to end (docs/interfaces.md §12): the whole gateway in-process, the
development SMSC on a real socket and aiogram against the fake Bot API server; a
person answers through the JSON API of a CRM, the answer reaches the customer on the
channel they wrote from, and the customer's reply joins the same item."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import Gateway
from bot.settings import Settings, load_settings
from tests.bot.fake_telegram import TOKEN, FakeTelegram, photo_update, text_update

API_TOKEN = "t0ken-for-inbox"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PHONE = "+79121234567"
USER = 4242


def _settings(tmp_path: Path, telegram: str = "") -> Settings:
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        f'[storage]\npath = "{tmp_path / "g.db"}"\n'
        f'[smpp]\nport = 0\n[api]\nport = 0\ntoken = "{API_TOKEN}"\n{telegram}',
        encoding="utf-8",
    )
    return load_settings(cfg)


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with Gateway(_settings(tmp_path)) as gw:
        yield gw


async def call(
    gw: Gateway, method: str, path: str, body: Any = None, *, raw: bytes | None = None
) -> tuple[int, Any]:
    assert gw.api is not None
    url = f"http://127.0.0.1:{gw.api.port}{path}"
    data = None if raw is None else io.BytesIO(raw)
    async with aiohttp.ClientSession() as http, http.request(
        method, url, json=body if raw is None else None, data=data, headers=AUTH
    ) as resp:
        return resp.status, await resp.json()


async def fetch(gw: Gateway, path: str) -> tuple[int, str, bytes]:
    assert gw.api is not None
    url = f"http://127.0.0.1:{gw.api.port}{path}"
    async with aiohttp.ClientSession() as http, http.get(url, headers=AUTH) as resp:
        return resp.status, resp.content_type, await resp.read()


async def sms(gw: Gateway, text: str) -> list[str]:
    assert gw.simulator is not None
    return await gw.simulator.inject_and_wait(PHONE, "7555", text, timeout=10, quiet=0.3)


async def test_over_sms_a_person_answers_and_the_reply_joins_the_item(gateway: Gateway) -> None:
    replies = await sms(gateway, "ывапролд")
    assert len(replies) == 1
    assert "Ваше сообщение передано специалисту, ответ — до" in replies[0]
    status, body = await call(gateway, "GET", "/api/inbox?state=open")
    assert status == 200
    [item] = body["items"]
    assert {k: item[k] for k in ("kind", "channel", "text", "appeal", "state")} == {
        "kind": "unrecognised", "channel": "sms", "text": "ывапролд", "appeal": None,
        "state": "open",
    }
    assert item["due_at"] is not None
    status, thread = await call(gateway, "GET", f"/api/inbox/{item['id']}")
    assert status == 200
    assert thread["customer"]["phone"] == PHONE
    last = thread["messages"][-1]["id"]
    status, body = await call(
        gateway, "POST", f"/api/inbox/{item['id']}/reply",
        {"text": "Здравствуйте! Пришлите показания так: ЛС 1234567890 4521", "after": last,
         "staff": "anna"},
    )
    assert status == 200, body
    assert body["outbox"] > 0
    assert gateway.simulator is not None
    sent = await gateway.simulator.wait_messages(PHONE, 2, within=10)
    assert sent[-1] == "Здравствуйте! Пришлите показания так: ЛС 1234567890 4521"
    # the answer came from the number the customer wrote to
    assert gateway.simulator.submitted[-1].sm.source == "7555"
    # the customer writes back: the same item, open again
    await sms(gateway, "ясно, жду ответа")
    status, thread = await call(gateway, "GET", f"/api/inbox/{item['id']}")
    assert thread["state"] == "open"
    assert [(m["direction"], m["author"]) for m in thread["messages"]] == [
        ("in", "customer"), ("out", "bot"), ("out", "anna"), ("in", "customer"), ("out", "bot"),
    ]
    status, body = await call(gateway, "GET", "/api/inbox")
    assert [i["id"] for i in body["items"]] == [item["id"]]
    assert gateway.store is not None
    [audit] = await gateway.store.audit.recent(f"inbox:{item['id']}")
    assert audit.actor == "anna"


async def test_two_answers_racing_over_the_api(gateway: Gateway) -> None:
    await sms(gateway, "ывапролд")
    _, body = await call(gateway, "GET", "/api/inbox")
    item = body["items"][0]["id"]
    _, thread = await call(gateway, "GET", f"/api/inbox/{item}")
    seen = thread["messages"][-1]["id"]
    first = await call(gateway, "POST", f"/api/inbox/{item}/reply",
                       {"text": "Ответ первый", "after": seen})
    second = await call(gateway, "POST", f"/api/inbox/{item}/reply",
                        {"text": "Ответ второй", "after": seen, "staff": "boris"})
    assert first[0] == 200
    assert second == (409, {"error": "already answered", "by": "api"})
    assert gateway.simulator is not None
    sent = await gateway.simulator.wait_messages(PHONE, 2, within=10)
    assert "Ответ второй" not in sent
    assert sent.count("Ответ первый") == 1


async def test_html_and_long_text_come_back_as_plain_json_text(gateway: Gateway) -> None:
    html = "<script>alert('x')</script> & <b>жирный</b>"
    await sms(gateway, html)
    _, body = await call(gateway, "GET", "/api/inbox")
    assert body["items"][0]["text"] == html
    long_text = "ж" * 5000
    await sms(gateway, long_text)  # joins the item, stored whole
    _, thread = await call(gateway, "GET", f"/api/inbox/{body['items'][0]['id']}")
    assert thread["messages"][-1]["text"] == long_text


@pytest.mark.parametrize(
    ("request_", "status", "field"),
    [
        (("GET", "/api/inbox?state=lost", None), 400, "state"),
        (("GET", "/api/inbox/abc", None), 400, "id"),
        (("GET", "/api/inbox/999", None), 404, None),
        (("POST", "/api/inbox/{id}/reply", {}), 400, "text"),
        (("POST", "/api/inbox/{id}/reply", {"text": ""}), 400, "text"),
        (("POST", "/api/inbox/{id}/reply", {"text": 5}), 400, "text"),
        (("POST", "/api/inbox/{id}/reply", {"text": "x", "after": "7"}), 400, "after"),
        (("POST", "/api/inbox/{id}/reply", {"text": "x", "colour": 1}), 400, "colour"),
        (("POST", "/api/inbox/{id}/reply", {"text": "x", "staff": "a b;"}), 400, "staff"),
        (("POST", "/api/inbox/{id}/reply", [1, 2]), 400, "body"),
        (("POST", "/api/inbox/999/reply", {"text": "x"}), 404, None),
        (("POST", "/api/inbox/{id}/close", {"label": {"intent": "x"}}), 400, "label.intent"),
        (("POST", "/api/inbox/{id}/close", {"label": "appeal"}), 400, "label"),
        (("POST", "/api/inbox/{id}/appeal", {"category": "weather"}), 400, "category"),
        (("POST", "/api/inbox/{id}/reading", {"text": "привет"}), 400, "text"),
        (("POST", "/api/inbox/{id}/reading", {"text": "ЛС 1234567890 1"}), 400, "text"),
    ],
)
async def test_bad_input_is_400_and_changes_nothing(
    gateway: Gateway, request_: tuple[str, str, Any], status: int, field: str | None
) -> None:
    method, path, body = request_
    await sms(gateway, "ывапролд")
    _, items = await call(gateway, "GET", "/api/inbox")
    item = items["items"][0]["id"]
    got, answer = await call(gateway, method, path.format(id=item), body)
    assert got == status, answer
    if field is not None:
        assert answer["field"] == field
    _, after = await call(gateway, "GET", f"/api/inbox/{item}")
    assert after["state"] == "open"
    assert [m["author"] for m in after["messages"]] == ["customer", "bot"]


async def test_not_json_and_too_large(gateway: Gateway) -> None:
    await sms(gateway, "ывапролд")
    _, items = await call(gateway, "GET", "/api/inbox")
    item = items["items"][0]["id"]
    got, body = await call(gateway, "POST", f"/api/inbox/{item}/reply", raw=b"{not json")
    assert (got, body["field"]) == (400, "body")
    huge = b'{"text": "' + b"x" * (1 << 20) + b'"}'
    got, _ = await call(gateway, "POST", f"/api/inbox/{item}/reply", raw=huge)
    assert got == 413


async def test_close_with_a_label_and_turn_into_an_appeal(gateway: Gateway) -> None:
    await sms(gateway, "сщётчег зглючило")
    _, items = await call(gateway, "GET", "/api/inbox")
    item = items["items"][0]["id"]
    got, body = await call(gateway, "POST", f"/api/inbox/{item}/appeal",
                           {"category": "meter", "staff": "anna"})
    assert got == 200, body
    appeal = body["appeal"]
    got, body = await call(gateway, "POST", f"/api/inbox/{item}/close",
                           {"label": {"intent": "appeal", "appeal_category": "meter"}})
    assert got == 200
    assert (body["state"], body["appeal"], body["label"]["appeal_category"]) == (
        "closed", appeal, "meter"
    )
    got, body = await call(gateway, "POST", f"/api/inbox/{item}/close", {})
    assert got == 400  # closed already
    _, closed = await call(gateway, "GET", "/api/inbox?state=closed")
    assert [i["id"] for i in closed["items"]] == [item]


async def test_the_api_needs_the_token(gateway: Gateway) -> None:
    assert gateway.api is not None
    async with aiohttp.ClientSession() as http, http.get(
        f"http://127.0.0.1:{gateway.api.port}/api/inbox"
    ) as resp:
        assert resp.status == 401


def _texts_to(tg: FakeTelegram, chat: int) -> list[str]:
    return [str(m["text"]) for m in tg.sent if str(m["chat_id"]) == str(chat)]


async def test_over_telegram_a_person_answers_and_the_reply_joins_the_item(
    tmp_path: Path,
) -> None:
    async with FakeTelegram() as tg:
        settings = _settings(
            tmp_path, f'[telegram]\nenabled = true\napi_base = "{tg.base_url}"\n'
        )
        settings.telegram.token = type(settings.telegram.token)(TOKEN)
        async with Gateway(settings) as gw:
            tg.push_update(photo_update(USER))
            await tg.wait_until(lambda: len(_texts_to(tg, USER)) >= 1)
            assert "передано специалисту, ответ — до" in _texts_to(tg, USER)[0]
            _, body = await call(gw, "GET", "/api/inbox")
            [item] = body["items"]
            assert (item["channel"], item["kind"]) == ("telegram", "unrecognised")
            _, thread = await call(gw, "GET", f"/api/inbox/{item['id']}")
            assert thread["messages"][0]["attachment"] == {
                "kind": "photo", "file_id": "AgACAgIAAxk"
            }
            # Staff see the photo: fetched from Telegram the first time, then kept.
            photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
            tg.files["AgACAgIAAxk"] = photo
            where = f"/api/inbox/{item['id']}/attachments/{thread['messages'][0]['id']}"
            assert await fetch(gw, where) == (200, "image/jpeg", photo)
            del tg.files["AgACAgIAAxk"]
            assert await fetch(gw, where) == (200, "image/jpeg", photo)
            bot_reply = thread["messages"][1]["id"]
            got, _ = await call(gw, "GET", f"/api/inbox/{item['id']}/attachments/{bot_reply}")
            assert got == 404
            got, _ = await call(gw, "GET", f"/api/inbox/{item['id'] + 1}/attachments/1")
            assert got == 404
            got, _ = await call(gw, "POST", f"/api/inbox/{item['id']}/reply",
                                {"text": "Фото получили, показания приняты."})
            assert got == 200
            await tg.wait_until(lambda: len(_texts_to(tg, USER)) >= 2)
            assert _texts_to(tg, USER)[1] == "Фото получили, показания приняты."
            tg.push_update(text_update(USER, "а когда?"))
            await tg.wait_until(lambda: len(_texts_to(tg, USER)) >= 3)
            _, thread = await call(gw, "GET", f"/api/inbox/{item['id']}")
            assert thread["state"] == "open"
            assert [m["text"] for m in thread["messages"] if m["direction"] == "in"] == [
                "", "а когда?"
            ]


async def test_a_reading_entered_over_the_api(gateway: Gateway) -> None:
    await sms(gateway, "ывапролд")
    _, items = await call(gateway, "GET", "/api/inbox")
    item = items["items"][0]["id"]
    got, body = await call(gateway, "POST", f"/api/inbox/{item}/reading",
                           {"text": "ЛС 1234567890 день 4521 ночь 1876", "staff": "anna"})
    assert got == 200, body
    assert body["reply"].startswith("Приняты показания ЛС 1234567890")
    assert gateway.simulator is not None
    sent = await gateway.simulator.wait_messages(PHONE, 2, within=10)
    assert sent[-1] == body["reply"]


async def test_staff_answer_from_telegram(tmp_path: Path) -> None:
    staff = 900
    async with FakeTelegram() as tg:
        settings = _settings(
            tmp_path,
            f'[telegram]\nenabled = true\napi_base = "{tg.base_url}"\nstaff_ids = [{staff}]\n',
        )
        settings.telegram.token = type(settings.telegram.token)(TOKEN)
        async with Gateway(settings) as gw:
            tg.push_update(text_update(USER, "ывапролд"))
            await tg.wait_until(lambda: len(_texts_to(tg, USER)) >= 1)
            tg.push_update(text_update(staff, "/inbox"))
            await tg.wait_until(lambda: len(_texts_to(tg, staff)) >= 1)
            assert "№1 до" in _texts_to(tg, staff)[0]
            assert "ывапролд" in _texts_to(tg, staff)[0]
            tg.push_update(text_update(staff, "/reply 1 Здравствуйте, чем помочь?"))
            await tg.wait_until(lambda: len(_texts_to(tg, USER)) >= 2)
            assert _texts_to(tg, USER)[1] == "Здравствуйте, чем помочь?"
            await tg.wait_until(lambda: len(_texts_to(tg, staff)) >= 2)
            assert _texts_to(tg, staff)[1] == "Ответ на №1 отправлен."
            for command, expected in [
                ("/reply 1", "Нужно: /reply N текст ответа"),
                ("/close 9", "Входящее №9 не найдено."),
                ("/close 1", "Входящее №1 закрыто."),
                ("/close 1", "Не сделано: входящее уже закрыто"),
            ]:
                before = len(_texts_to(tg, staff))
                tg.push_update(text_update(staff, command))
                await tg.wait_until(lambda n=before: len(_texts_to(tg, staff)) > n)
                assert _texts_to(tg, staff)[-1] == expected
            assert gw.store is not None
            actors = {e.actor for e in await gw.store.audit.recent("inbox:1")}
            assert actors == {f"telegram:{staff}"}


async def test_an_attachment_over_the_limit_is_not_kept(tmp_path: Path) -> None:
    async with FakeTelegram() as tg:
        settings = _settings(
            tmp_path,
            f'[telegram]\nenabled = true\napi_base = "{tg.base_url}"\n'
            "[staff]\nattachment_max_mb = 1\n",
        )
        settings.telegram.token = type(settings.telegram.token)(TOKEN)
        tg.files["AgACAgIAAxk"] = b"x" * (1024 * 1024 + 1)
        async with Gateway(settings) as gw:
            tg.push_update(photo_update(USER))
            await tg.wait_until(lambda: len(_texts_to(tg, USER)) >= 1)
            _, body = await call(gw, "GET", "/api/inbox")
            item = body["items"][0]["id"]
            _, thread = await call(gw, "GET", f"/api/inbox/{item}")
            got, answer = await call(
                gw, "GET", f"/api/inbox/{item}/attachments/{thread['messages'][0]['id']}"
            )
            assert got == 410
            assert "over 1 MB" in answer["error"]
