"""`gateway inbox list | show | reply | close` and `gateway export labelled` over a real
database file, the items made by the real engine."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.core import ChannelName, Inbound
from bot.engine import ConversationEngine
from handlers.base import HandlerConfig
from handlers.dispatch import Handlers
from parsers import parse
from storage.store import Store
from tests.handlers.conftest import IN_WINDOW, load_registry

PHONE = "+79121234567"


async def _seed(path: Path) -> None:
    async with await Store.open(path) as store:
        await load_registry(store)
        engine = ConversationEngine(store, Handlers(store, HandlerConfig()), parse)
        for n, text in enumerate(["Иванов звонил, тел. 89121234567, сщётчег зглючило", "ау"]):
            await engine.accept(Inbound(
                channel=ChannelName.SMS, address=PHONE, text=text, external_id=f"s{n}",
                received_at=IN_WINDOW, to="7555",
            ))
            await engine.drain(10)
        await engine.close()


async def _outbox(path: Path) -> list[str]:
    async with await Store.open(path) as store:
        return await store.outbox.sent_to("sms", PHONE)


def test_inbox_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "gateway.db"
    monkeypatch.setenv("GATEWAY__STORAGE__PATH", str(db))
    monkeypatch.chdir(tmp_path)
    asyncio.run(_seed(db))

    assert main(["inbox", "list"]) == 0
    out = capsys.readouterr().out
    assert "№1" in out
    assert "ждёт ответа" in out
    assert "до 20.11.2026 14:00" in out
    assert main(["inbox", "list", "--json"]) == 0
    [item] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (item["id"], item["kind"], item["text"]) == (1, "unrecognised", "ау")

    assert main(["inbox", "show", "1"]) == 0
    out = capsys.readouterr().out
    assert f"Телефон: {PHONE}" in out
    assert "Лицевой счёт 1234567890" in out
    assert "клиент: ау" in out
    assert main(["inbox", "show", "1", "--json"]) == 0
    seen = json.loads(capsys.readouterr().out)["messages"][-1]["id"]

    assert main(["inbox", "reply", "1", "Уточните,", "пожалуйста", "--staff", "anna",
                 "--after", str(seen)]) == 0
    assert "ответ поставлен в очередь" in capsys.readouterr().out
    # a second operator who saw the same message is told, and nothing is sent
    assert main(["inbox", "reply", "1", "Другой", "ответ", "--staff", "boris",
                 "--after", str(seen)]) == 3
    assert "уже ответил(а) anna" in capsys.readouterr().err
    sent = asyncio.run(_outbox(db))
    assert sent[-1] == "Уточните, пожалуйста"
    assert "Другой ответ" not in sent

    assert main(["inbox", "close", "1", "--label", '{"intent": "nonsense"}']) == 2
    assert "label.intent" in capsys.readouterr().err
    assert main(["inbox", "close", "1", "--label", "[1]"]) == 2
    label = '{"intent": "appeal", "appeal_category": "meter"}'
    assert main(["inbox", "close", "1", "--label", label, "--staff", "anna"]) == 0
    assert "закрыто с разметкой" in capsys.readouterr().out
    assert main(["inbox", "show", "9"]) == 1

    assert main(["export", "labelled"]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row == {
        "text": "Иванов звонил, тел. 89121234567, сщётчег зглючило", "intent": "appeal",
        "account": None, "readings": [], "command": None, "ticket": None,
        "appeal_category": "meter",
    }
    assert main(["export", "labelled", "--mask"]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["text"] == "Фамилия1 звонил, тел. +79000000001, сщётчег зглючило"
