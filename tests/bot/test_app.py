"""The whole gateway in-process: SMSC simulator on loopback, the SMS channel bound to it
over a real socket, the engine, the sender and the admin API; an MO injected through
`POST /api/dev/sms` gets its reply, and the reading reaches the export."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.app import Gateway
from bot.settings import Settings, load_settings
from storage.export import export_readings


def _settings(tmp_path: Path, token: str = "") -> Settings:
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        f'[storage]\npath = "{tmp_path / "g.db"}"\n'
        '[smpp]\nport = 0\n[api]\nport = 0\n'
        f'token = "{token}"\n',
        encoding="utf-8",
    )
    return load_settings(cfg)


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with Gateway(_settings(tmp_path, token="t0ken-for-tests")) as gw:
        yield gw


async def _post(
    gw: Gateway, path: str, body: object, token: str | None, scheme: str = "Bearer"
) -> tuple[int, object]:
    headers = {"Authorization": f"{scheme} {token}"} if token else {}
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{gw.api.port}{path}"
        async with http.post(url, json=body, headers=headers) as resp:
            return resp.status, await resp.json()


async def test_sms_in_reply_out_and_reading_exported(gateway: Gateway) -> None:
    status, body = await _post(
        gateway, "/api/dev/sms",
        {"from": "+79121234567", "text": "ЛС 1234567890 день 4521 ночь 1876"},
        "t0ken-for-tests",
    )
    assert status == 200
    assert isinstance(body, dict)
    replies = body["replies"]
    assert replies, "the gateway answered nothing"
    assert gateway.store is not None
    out = io.StringIO()
    await export_readings(gateway.store.db, period=None, fmt="jsonl", include_console=False,
                          out=out, tz=gateway.settings.service.tz)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    # the demo registry's last readings for this account are 4390 / 1815
    assert "Приняты" in replies[0], replies
    assert {(r["zone"], r["value"], r["channel"], r["sender"]) for r in rows} == {
        ("T1", "4521", "sms", "+79121234567"), ("T2", "1876", "sms", "+79121234567"),
    }


async def test_api_requires_the_bearer_token(gateway: Gateway) -> None:
    status, _ = await _post(gateway, "/api/dev/sms", {"from": "+79121234567", "text": "x"}, None)
    assert status == 401
    status, _ = await _post(gateway, "/api/dev/sms", {"from": "+7912", "text": "x"}, "wrong")
    assert status == 401


@pytest.mark.parametrize(
    ("scheme", "token", "status"),
    [
        ("Bearer", "t0ken-for-tests", 200),
        # «bearer …» was refused: the scheme is case-insensitive
        ("bearer", "t0ken-for-tests", 200),
        ("BEARER", "t0ken-for-tests", 200),
        ("Basic", "t0ken-for-tests", 401),
        ("Bearer", "t0ken-for-test", 401),
    ],
)
async def test_api_bearer_scheme(gateway: Gateway, scheme: str, token: str, status: int) -> None:
    got, _ = await _post(
        gateway, "/api/dev/sms", {"from": "+79121234567", "text": "помощь"}, token, scheme
    )
    assert got == status


async def test_healthz_names_the_development_mode(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{gateway.api.port}/healthz"
        async with http.get(url) as resp:
            body = await resp.json()
            assert resp.status == 200, body
    assert body["mode"] == {"simulator": True, "demo": True}
    assert "sms" in body["channels"]
    # SQLite: one instance, always the leader (docs/interfaces.md §13)
    assert body["leader"] is True
    assert body["standby"] == []
    assert body["instances"] == [gateway.settings.instance]


async def test_the_only_instance_of_a_sqlite_store_runs_the_singletons(gateway: Gateway) -> None:
    assert gateway.cluster is not None
    assert gateway.cluster.is_leader
    assert sorted(gateway._singletons) == ["reminders"]  # no staff chat: no digest
    assert not any(task.done() for task in gateway._singletons.values())


async def test_dev_sms_reads_the_sender_in_any_notation(gateway: Gateway) -> None:
    # «8908…» and the E.164 reply address are one person (once broke `gateway sms send`)
    status, body = await _post(
        gateway, "/api/dev/sms", {"from": "89085553311", "text": "баланс"}, "t0ken-for-tests"
    )
    assert status == 200
    assert isinstance(body, dict)
    assert body["replies"] == ["ЛС 987654321: задолженность 2\u00a0870,40 руб."]
    status, _ = await _post(
        gateway, "/api/dev/sms", {"from": "not a phone", "text": "x"}, "t0ken-for-tests"
    )
    assert status == 400
