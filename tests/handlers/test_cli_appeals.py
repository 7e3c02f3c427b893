"""`gateway appeals list | show | answer` over a real database file."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from storage.store import Store

NOW = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


async def _seed(path: Path) -> None:
    async with await Store.open(path) as store:
        contact = await store.contacts.resolve(
            "sms", "+79121234567", phone="+79121234567", verified_by="sms"
        )
        await store.appeals.create(
            contact_id=contact.id,
            channel="sms",
            address="+79121234567",
            reply_source="7555",
            account=None,
            category="billing",
            text="прошу провести перерасчет",
            created_at=NOW,
            due_at=NOW + timedelta(days=3),
        )


async def _outbox(path: Path) -> list[dict[str, object]]:
    async with await Store.open(path) as store:
        rows = await store.db.fetchall("SELECT payload FROM outbox")
        return [json.loads(r["payload"]) for r in rows]


def test_appeals_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "gateway.db"
    monkeypatch.setenv("GATEWAY__STORAGE__PATH", str(db))
    monkeypatch.chdir(tmp_path)  # no settings.toml here: built-in defaults
    asyncio.run(_seed(db))

    assert main(["appeals", "list", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["id"] for a in listed] == [1]

    assert main(["appeals", "show", "1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["messages"][0]["text"] == "прошу провести перерасчет"

    assert main(["appeals", "answer", "1", "Перерасчёт", "выполнен.", "--staff", "op"]) == 0
    assert main(["appeals", "answer", "1", "Перерасчёт", "выполнен.", "--staff", "op"]) == 0
    sent = asyncio.run(_outbox(db))
    assert len(sent) == 1  # the same answer twice is queued once
    assert sent[0]["text"] == "Ответ на обращение №1: Перерасчёт выполнен."
    assert (sent[0]["channel"], sent[0]["address"], sent[0]["source"]) == (
        "sms",
        "+79121234567",
        "7555",
    )
    assert main(["appeals", "show", "99"]) == 1


async def _seed_two_accounts(path: Path) -> None:
    async with await Store.open(path) as store:
        for number, street in (("2000000001", "Ленина"), ("2000000002", "Мира")):
            await store.db.execute(
                "INSERT INTO accounts (number, holder, settlement, street, house, updated_at)"
                " VALUES (?, 'Петров П. П.', 'Ухта', ?, '10', '2026-01-01')",
                (number, street),
            )
            await store.db.execute(
                "INSERT INTO account_phones (account, phone) VALUES (?, '+79120000003')",
                (number,),
            )
        contact = await store.contacts.resolve(
            "sms", "+79120000003", phone="+79120000003", verified_by="sms"
        )
        await store.appeals.create(
            contact_id=contact.id, channel="sms", address="+79120000003", reply_source="7555",
            account="2000000002", category="meter", text="счётчик сгорел",
            created_at=NOW, due_at=NOW + timedelta(days=3),
        )


def test_appeals_show_for_staff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "gateway.db"
    monkeypatch.setenv("GATEWAY__STORAGE__PATH", str(db))
    monkeypatch.chdir(tmp_path)
    asyncio.run(_seed_two_accounts(db))
    assert main(["appeals", "answer", "1", "Заявка", "передана", "--staff", "anna"]) == 0
    assert "ответ записан" in capsys.readouterr().out
    assert main(["appeals", "answer", "1", "Мастер", "придёт", "завтра", "--staff", "boris"]) == 0
    capsys.readouterr()
    assert main(["appeals", "show", "1"]) == 0
    out = capsys.readouterr().out
    for line in [
        "Обращение №1: ответ отправлен",
        "Тема: счётчик",
        "Поступило: 20.11.2026 10:00, SMS",  # local time, not ISO
        "Написал: +79120000003",  # staff see the phone in full
        "Лицевой счёт 2000000001: Петров П. П., Ухта, Ленина, д. 10",
        "Лицевой счёт 2000000002 (указан в обращении): Петров П. П., Ухта, Мира, д. 10",
        "  [20.11.2026 10:00] счётчик сгорел",
        # every answer is kept, with who and when
        "] anna: Заявка передана",
        "] boris: Мастер придёт завтра",
    ]:
        assert line in out, out
    assert "T" not in out.split("Сообщения:")[0].replace("Telegram", "")  # no ISO dates
    assert main(["appeals", "show", "1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [a["by"] for a in shown["answers"]] == ["anna", "boris"]
    assert shown["author"]["phone"] == "+79120000003"
    assert main(["appeals", "show", "7"]) == 1
    assert "обращение №7 не найдено" in capsys.readouterr().err
