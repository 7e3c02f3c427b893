"""Inbox pages over real HTTP against the whole gateway: an unrecognised SMS injected
through the development SMSC becomes an item, a person answers it from the page and the
answer reaches the SMSC; races, labels, appeals, due-time colours, the audit page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import aiohttp
import pytest

from bot.app import Gateway
from staff.inbox import answer_templates, balance_text, label_of, urgency
from storage.db import utcnow
from storage.inbox import NewInboxMessage
from tests.staff.conftest import StaffClient

PHONE = "+79121234567"  # the demo registry's ЛС 1234567890, Иванов


async def _unrecognised(gw: Gateway, text: str, phone: str = PHONE) -> list[str]:
    assert gw.simulator is not None
    return await gw.simulator.inject_and_wait(phone, None, text, timeout=10, quiet=0.3)


async def _item_id(client: StaffClient) -> int:
    _, page = await client.get("/inbox")
    found = re.findall(r'href="/staff/inbox/(\d+)"', page)
    assert found, "the inbox is empty"
    return int(found[0])


async def test_an_unrecognised_sms_is_answered_from_the_page(
    gateway: Gateway, client: StaffClient
) -> None:
    told = await _unrecognised(gateway, "ывапролд <b>жирный</b>")
    assert any("передано специалисту" in t for t in told), told
    await client.login("olga")
    item = await _item_id(client)
    status, page = await client.get(f"/inbox/{item}")
    assert status == 200
    # the whole conversation (the bot's answer too), the customer's account and address
    assert "ывапролд &lt;b&gt;жирный&lt;/b&gt;" in page
    assert "передано специалисту" in page
    assert "ЛС <strong>1234567890</strong>" in page
    assert "Коммунистическая" in page
    status, page, url = await client.post(
        f"/inbox/{item}/reply", {"text": "Здравствуйте! Уточните, пожалуйста, вопрос.",
                                 "after": re.search(r'name="after" value="(\d+)"', page)[1]},
    )
    assert (status, url.endswith(f"/staff/inbox/{item}?sent=1")) == (200, True)
    assert "olga ·" in page  # the answer is in the conversation under its author
    assert gateway.simulator is not None
    got = await gateway.simulator.wait_messages(PHONE, len(told) + 1, within=10)
    assert got[-1] == "Здравствуйте! Уточните, пожалуйста, вопрос."


async def test_two_people_answer_one_item_the_second_sees_who_won(
    gateway: Gateway, client: StaffClient, http: aiohttp.ClientSession
) -> None:
    await _unrecognised(gateway, "ывапролд")
    await client.login("olga")
    item = await _item_id(client)
    _, page = await client.get(f"/inbox/{item}")
    seen = re.search(r'name="after" value="(\d+)"', page)
    assert seen
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other_http:
        sveta = StaffClient(gateway, other_http)
        await sveta.login("sveta")
        await sveta.get(f"/inbox/{item}")
        status, _, _ = await sveta.post(
            f"/inbox/{item}/reply", {"text": "Ответ Светы", "after": seen[1]}
        )
        assert status == 200
    status, page, _ = await client.post(
        f"/inbox/{item}/reply", {"text": "Ответ Ольги", "after": seen[1]}
    )
    assert status == 409
    assert "Уже ответил sveta" in page
    assert ">Ответ Ольги</textarea>" in page  # the draft is kept, not lost
    assert gateway.store is not None
    outs = [m.text for m in await gateway.store.inbox.messages(item) if m.author != "bot"
            and m.direction == "out"]
    assert outs == ["Ответ Светы"]


async def test_an_empty_answer_is_refused_with_the_count_shown(
    gateway: Gateway, client: StaffClient
) -> None:
    await _unrecognised(gateway, "ывапролд")
    await client.login("olga")
    item = await _item_id(client)
    await client.get(f"/inbox/{item}")
    status, page, _ = await client.post(f"/inbox/{item}/reply", {"text": "   "})
    assert status == 400
    assert "Ответ пустой." in page
    assert "частей SMS: 1" in page


async def test_close_with_a_reading_label_and_turn_into_an_appeal(
    gateway: Gateway, client: StaffClient
) -> None:
    assert gateway.store is not None
    await _unrecognised(gateway, "ывапролд")
    await client.login("olga")
    item = await _item_id(client)
    await client.get(f"/inbox/{item}")
    status, page, _ = await client.post(
        f"/inbox/{item}/close", {"label": "readings", "account": "1234567890", "t1": "abc"}
    )
    assert status == 400
    assert "Показание T1: число" in page
    status, page, url = await client.post(f"/inbox/{item}/appeal", {"category": "billing"})
    assert url.endswith(f"/staff/inbox/{item}")
    assert "обращение № 1" in page
    assert "зарегистрировано под №1" in page
    status, page, url = await client.post(
        f"/inbox/{item}/close", {"label": "readings", "account": "1234567890", "t1": "4521,5"}
    )
    assert url.endswith("/staff/inbox")
    thread = await gateway.store.inbox.get(item)
    assert thread is not None
    assert thread.state == "closed"
    assert thread.label == {
        "intent": "readings", "account": "1234567890",
        "readings": [{"meter": None, "zone": "T1", "value": "4521.5"}],
        "command": None, "ticket": None, "appeal_category": None, "notify_channel": None,
    }


async def test_filters_and_the_audit_page(gateway: Gateway, client: StaffClient) -> None:
    await _unrecognised(gateway, "ывапролд")
    await client.login("sveta")
    _, page = await client.get("/inbox?channel=telegram")
    assert "Здесь пусто." in page
    _, page = await client.get("/inbox?channel=sms&state=all&kind=unrecognised")
    assert "ывапролд" in page
    _, page = await client.get("/inbox?state=bogus&category=nonsense")  # ignored, not 500
    assert "ывапролд" in page
    item = await _item_id(client)
    await client.get(f"/inbox/{item}")
    await client.post(f"/inbox/{item}/reply", {"text": "Ответ"})
    status, page = await client.get(f"/audit?subject=inbox:{item}")
    assert status == 200
    assert "inbox.reply" in page
    assert "sveta" in page


async def test_the_audit_page_is_for_supervisors_only(client: StaffClient) -> None:
    await client.login("olga")
    status, _ = await client.get("/audit")
    assert status == 403
    await client.post("/logout")
    await client.login("sveta")
    _, page = await client.get("/audit")
    assert "denied:GET /staff/audit" in page


NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
NON_NEGATIVE = "неотрицательное число, например 4521."


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (None, ""),
        (NOW - timedelta(minutes=1), "overdue"),
        (NOW, "overdue"),
        (NOW + timedelta(minutes=59), "soon"),
        (NOW + timedelta(hours=1), "soon"),
        (NOW + timedelta(hours=1, minutes=1), ""),
    ],
)
def test_urgency_colours(due: datetime | None, expected: str) -> None:
    assert urgency(due, NOW) == expected


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"label": "none"}, {"intent": "unknown"}),
        ({}, {"intent": "unknown"}),
        ({"label": "appeal:meter"}, {"intent": "appeal", "appeal_category": "meter"}),
        ({"label": "command:balance"}, {"intent": "command", "command": "balance"}),
        ({"label": "appeal:nonsense"}, "Выберите метку из списка."),
        ({"label": "readings"}, "Для метки «показания» впишите хотя бы одно значение."),
        ({"label": "readings", "t2": "-5"}, f"Показание T2: {NON_NEGATIVE}"),
        ({"label": "readings", "t1": "NaN"}, f"Показание T1: {NON_NEGATIVE}"),
        ({"label": "readings", "t1": "1", "account": "12ab"}, "Лицевой счёт: только цифры."),
        ({"label": "readings", "t1": "4521", "t2": "1876"},
         {"intent": "readings", "account": None, "readings": [
             {"meter": None, "zone": "T1", "value": "4521"},
             {"meter": None, "zone": "T2", "value": "1876"}]}),
    ],
)
def test_labels_from_the_close_form(form: dict[str, str], expected: object) -> None:
    assert label_of(form) == expected


def test_answer_templates_shipped_and_a_broken_file(tmp_path: object) -> None:
    shipped = answer_templates(None)
    assert shipped
    assert all(a["title"] and a["text"] for a in shipped)
    from pathlib import Path

    broken = Path(str(tmp_path)) / "answers.toml"
    broken.write_text("[[answer]\n", encoding="utf-8")
    assert answer_templates(broken) == []
    assert answer_templates(Path(str(tmp_path)) / "missing.toml") == []


@pytest.mark.parametrize(
    ("reading", "status", "shown"),
    [
        # the bot's rules decide, and their words are shown
        ("ЛС 1234567890 день 100 ночь 50", 400, "меньше предыдущего (4390)"),
        ("привет", 400, "в тексте нет показаний"),
        ("ЛС 1234567890 день 4521 ночь 1876", 200, "Приняты показания ЛС 1234567890"),
    ],
)
async def test_a_reading_typed_for_the_customer(
    gateway: Gateway, client: StaffClient, reading: str, status: int, shown: str
) -> None:
    assert gateway.store is not None
    told = await _unrecognised(gateway, "ывапролд")
    await client.login("olga")
    item = await _item_id(client)
    await client.get(f"/inbox/{item}")
    got, page, _ = await client.post(f"/inbox/{item}/reading", {"reading": reading})
    assert got == status
    assert shown in page
    accepted = await gateway.store.db.fetchall(
        "SELECT value FROM readings WHERE status = 'accepted' ORDER BY zone"
    )
    if status == 200:
        assert [r["value"] for r in accepted] == ["4521", "1876"]
        assert gateway.simulator is not None
        sent = await gateway.simulator.wait_messages(PHONE, len(told) + 1, within=10)
        assert sent[-1].startswith("Приняты показания ЛС 1234567890")
    else:
        assert accepted == []
        assert f'value="{reading}"' in page  # typed text kept for correction


@pytest.mark.parametrize(
    ("balance", "text"),
    [("1234.56", "долг 1234,56 ₽"), ("-1000", "переплата 1000,00 ₽"), ("0", "долга нет")],
)
def test_balance_as_staff_say_it(balance: str, text: str) -> None:
    assert balance_text(Decimal(balance)) == text


async def test_attachments_are_linked_and_served_safely(
    gateway: Gateway, client: StaffClient
) -> None:
    """A photo is shown in place; an HTML file is only downloaded (it must not run in a
    staff browser); one over the size limit is gone. The bytes are kept as the channel
    gave them (here stored directly, as the Telegram adapter's fetch would)."""
    assert gateway.store is not None
    await _unrecognised(gateway, "ывапролд")
    await client.login("olga")
    item = await _item_id(client)
    store = gateway.store
    ids = []
    for meta, data in (
        ({"kind": "photo", "file_id": "f1", "size": 3}, b"\xff\xd8\xff"),
        ({"kind": "document", "file_id": "f2", "file_name": "x.html",
          "mime_type": "text/html", "size": 20}, b"<script>alert(1)</script>"),
        ({"kind": "document", "file_id": "f3", "size": 99 << 20, "too_large": True}, None),
    ):
        message = await store.inbox.add_message(item, NewInboxMessage(
            direction="in", author="customer", text="", at=utcnow(), handled=False,
            attachment=meta,
        ))
        if data is not None:
            await store.inbox.keep_attachment(message, data)
        ids.append(message)
    _, page = await client.get(f"/inbox/{item}")
    assert f'href="/staff/inbox/{item}/attachments/{ids[0]}">вложение</a> (фото)' in page
    assert "x.html" in page
    assert "больше допустимого размера" in page
    async with client.http.get(f"{client.base}/inbox/{item}/attachments/{ids[0]}") as resp:
        assert (resp.status, resp.content_type) == (200, "image/jpeg")
        assert "Content-Disposition" not in resp.headers
        assert await resp.read() == b"\xff\xd8\xff"
    async with client.http.get(f"{client.base}/inbox/{item}/attachments/{ids[1]}") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Disposition"] == "attachment"
    async with client.http.get(f"{client.base}/inbox/{item}/attachments/{ids[2]}") as resp:
        assert resp.status == 410
        assert "больше" in await resp.text()
    first = re.search(r'id="m(\d+)"', page)
    assert first
    async with client.http.get(f"{client.base}/inbox/{item}/attachments/{first[1]}") as resp:
        assert resp.status == 404  # a message without an attachment


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/inbox/999"), ("POST", "/inbox/999/reply"), ("POST", "/inbox/999/close"),
     ("POST", "/inbox/999/appeal"), ("POST", "/inbox/999/reading"),
     ("GET", "/inbox/999/attachments/1")],
)
async def test_an_unknown_item_is_404(client: StaffClient, method: str, path: str) -> None:
    await client.login("olga")
    form = {"text": "x", "label": "none", "category": "billing", "reading": "ЛС 1234567890 1"}
    if method == "GET":
        status, _ = await client.get(path)
    else:
        status, _, _ = await client.post(path, form)
    assert status == 404
