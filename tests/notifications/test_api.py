"""The admin API routes of notifications, through the real `AdminApi` application
(bearer middleware included) and aiohttp's test client over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.api import AdminApi
from bot.settings import ApiSettings, NotificationsSettings, Settings
from storage.store import Store
from tests.notifications.conftest import add_account

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OUTAGE = {
    "settlement": "Сыктывкар", "street": "Комарова", "houses": "1-3", "reason": "ремонт",
    "start": "2030-11-26 10:00", "until": "2030-11-26 18:00", "planned": False,
    "dry_run": False, "yes": False,
}


@pytest.fixture
async def client(store: Store) -> AsyncIterator[TestClient[object, object]]:
    for house in range(1, 4):
        await add_account(store, f"100000000{house}", [f"+7912000000{house}"], house=str(house))
    settings = Settings(
        api=ApiSettings(token=SecretStr(TOKEN)),
        notifications=NotificationsSettings(confirm_above=2),
    )
    woken: list[int] = []
    sender = SimpleNamespace(wake=lambda: woken.append(1))
    gateway = SimpleNamespace(settings=settings, store=store, sender=sender, channels={})
    api = AdminApi(gateway)  # type: ignore[arg-type]
    async with TestClient(TestServer(api.app)) as test_client:
        yield test_client


async def test_token_is_required(client: TestClient[object, object]) -> None:
    response = await client.get("/api/campaigns/1")
    assert response.status == 401


async def test_outage_confirm_restore_progress_cancel(
    client: TestClient[object, object],
) -> None:
    response = await client.post("/api/outages", json={**OUTAGE, "dry_run": True}, headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert body["campaign"] is None
    assert body["recipients"] == 3
    response = await client.post("/api/outages", json=OUTAGE, headers=AUTH)
    assert response.status == 409  # 3 > confirm_above = 2
    response = await client.post("/api/outages", json={**OUTAGE, "yes": True}, headers=AUTH)
    body = await response.json()
    assert (body["campaign"], body["outage"], body["by_channel"]) == (1, 1, {"sms": 3,
                                                                           "telegram": 0})
    response = await client.get("/api/campaigns/1", headers=AUTH)
    assert await response.json() == {
        "campaign": 1, "kind": "outage", "recipients": 3, "queued": 3, "sent": 0,
        "delivered": 0, "failed": 0, "deferred": 0, "cancelled": 0, "possible_duplicates": 0,
    }
    response = await client.post("/api/outages/1/restored", headers=AUTH)
    assert (await response.json())["campaign"] == 2
    response = await client.post("/api/campaigns/2/cancel", headers=AUTH)
    assert await response.json() == {"campaign": 2, "cancelled": 3}
    response = await client.get("/api/campaigns/2/undelivered", headers=AUTH)
    assert len((await response.text()).splitlines()) == 4
    assert (await client.get("/api/campaigns/99", headers=AUTH)).status == 404
    assert (await client.post("/api/outages/99/restored", headers=AUTH)).status == 404


@pytest.mark.parametrize(
    "change",
    [{"until": "2030-11-26 09:00"}, {"start": "вчера"}, {"reason": ""}, {"yes": "да"}],
)
async def test_bad_outage_is_400(client: TestClient[object, object], change: dict[str, object]
                                 ) -> None:
    response = await client.post("/api/outages", json={**OUTAGE, **change}, headers=AUTH)
    assert response.status == 400
    assert "error" in await response.json()


async def test_billing_upload(client: TestClient[object, object]) -> None:
    csv = "account;period;amount;due_date\n1000000001;2030-11;10;2030-12-10\nx;y;z;w\n"
    response = await client.post(
        "/api/campaigns/invoices", data=csv.encode(),
        headers={**AUTH, "Content-Type": "text/csv"},
    )
    body = await response.json()
    assert body["campaign"] == 1
    assert body["accepted"] == 1
    assert [r["line"] for r in body["rejected"]] == [3]
    response = await client.post(
        "/api/campaigns/debts", data=b"nonsense\n", headers={**AUTH, "Content-Type": "text/csv"}
    )
    assert response.status == 400
