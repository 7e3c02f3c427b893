"""The admin API under a red team's inputs (docs/interfaces.md §11), against the running
gateway over real sockets: the demo registry, the development SMSC, the sender and the
API on loopback. Every bad request is a row: it gets a 4xx with a JSON error naming the
field, never a 500, and `/healthz` still answers 200 afterwards. Long inputs, a slow
client and 20 concurrent broadcasts run while `/healthz` is polled."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from bot.app import Gateway
from bot.settings import load_settings
from notifications.api import (
    BroadcastOut,
    CampaignsOut,
    ImportOut,
    OutagesOut,
    ProgressOut,
)

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OUTAGE: dict[str, Any] = {
    "settlement": "Сыктывкар", "street": "Комарова", "houses": "все", "reason": "ремонт",
    "start": "2030-11-26 10:00", "until": "26.11.2030 18:00", "yes": True,
}


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        f'[storage]\npath = "{tmp_path / "g.db"}"\n'
        f'[smpp]\nport = 0\n[api]\nport = 0\ntoken = "{TOKEN}"\n',
        encoding="utf-8",
    )
    async with Gateway(load_settings(cfg)) as gw:
        yield gw


def _base(gw: Gateway) -> str:
    assert gw.api is not None
    return f"http://127.0.0.1:{gw.api.port}"


async def _call(
    gw: Gateway, method: str, path: str, *, body: Any = None, raw: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    payload = io.BytesIO(data) if data is not None and len(data) > 1 << 16 else data
    headers = {**AUTH, "Content-Type": content_type}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, _base(gw) + path, data=payload, headers=headers) as resp,
    ):
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


async def _healthy(gw: Gateway) -> bool:
    async with aiohttp.ClientSession() as http, http.get(_base(gw) + "/healthz") as resp:
        return resp.status == 200


# Each row: a request the red team sent (most gave a 500 with a traceback, NaN never
# returned) → the status and the field the error names.
BAD = [
    ("POST", "/api/outages", b"[]", 400, ""),  # a JSON array as the body
    ("POST", "/api/outages", b"null", 400, ""),  # null as the body
    ("POST", "/api/outages", b"{", 400, ""),
    ("POST", "/api/outages", b"\xff\xfe", 400, ""),
    ("POST", "/api/outages", b"", 400, ""),
    ("POST", "/api/dev/sms", b'{"from": "+79121234567", "text": "x", "timeout": "abc"}',
     400, "timeout"),
    ("POST", "/api/dev/sms", b'{"from": "+79121234567", "text": "x", "timeout": NaN}',
     400, "timeout"),
    ("POST", "/api/dev/sms", b'{"from": "+79121234567", "text": "x", "timeout": 1e999}',
     400, "timeout"),
    ("POST", "/api/dev/sms", b'{"from": "+79121234567", "text": "x", "timeout": -1}',
     400, "timeout"),
    ("POST", "/api/dev/sms", b'{"from": "not a phone", "text": "x"}', 400, "from"),
    ("POST", "/api/dev/sms", b'{"from": "+79121234567"}', 400, "text"),
    ("POST", "/api/dev/sms", json.dumps({"from": "+79121234567", "text": "x" * 6000}).encode(),
     400, "text"),
    # a lone surrogate, escaped and as raw UTF-8-like bytes
    ("POST", "/api/outages", json.dumps({**OUTAGE, "reason": "\ud800"}).encode(), 400, ""),
    ("POST", "/api/outages", json.dumps({**OUTAGE, "reason": "a\udfffb"}).encode(), 400, ""),
    ("POST", "/api/outages", '{"reason": "\udc80"}'.encode("utf-8", "surrogatepass"), 400, ""),
    ("GET", "/api/campaigns/9223372036854775808", None, 400, "campaign"),  # 2^63
    ("GET", "/api/campaigns/99999999999999999999999999", None, 400, "campaign"),
    ("GET", "/api/campaigns/0", None, 400, "campaign"),
    ("GET", "/api/campaigns/١٢", None, 400, "campaign"),  # Arabic-Indic digits
    ("POST", "/api/outages/9223372036854775808/restored", None, 400, "outage"),
    ("POST", "/api/outages/18446744073709551616/cancel", None, 400, "outage"),
    ("POST", "/api/campaigns/9223372036854775808/cancel", None, 400, "campaign"),
    ("GET", "/api/campaigns/9223372036854775807", None, 404, None),  # the largest id: none
    ("POST", "/api/outages", json.dumps({**OUTAGE, "reason": "р" * 501}).encode(), 400,
     "reason"),
    ("POST", "/api/outages", json.dumps({**OUTAGE, "houses": "1," * 1001}).encode(), 400,
     "houses"),
    ("POST", "/api/outages", json.dumps({**OUTAGE, "houses": ",".join(
        str(n) for n in range(100_000))}).encode(), 400, "houses"),
    ("POST", "/api/outages", json.dumps({**OUTAGE, "planned": "yes"}).encode(), 400, "planned"),
    ("POST", "/api/outages", json.dumps({**OUTAGE, "yes": 1}).encode(), 400, "yes"),
    ("POST", "/api/outages", json.dumps({**OUTAGE, "settlement": 5}).encode(), 400,
     "settlement"),
    ("POST", "/api/outages", json.dumps({**OUTAGE, "street": ["a"]}).encode(), 400, "street"),
    ("POST", "/api/outages", json.dumps({**OUTAGE, "dry_rn": True}).encode(), 400, "dry_rn"),
    ("POST", "/api/outages", json.dumps({k: v for k, v in OUTAGE.items()
                                         if k != "reason"}).encode(), 400, "reason"),
    ("POST", "/api/outages", json.dumps({**OUTAGE, "start": "31.02.2030 10:00"}).encode(),
     400, "start"),
    ("POST", "/api/outages", json.dumps({**OUTAGE, "until": "завтра"}).encode(), 400, "until"),
    ("POST", "/api/outages", json.dumps({**OUTAGE, "until": "2030-11-26 09:00"}).encode(),
     400, "until"),
    ("POST", "/api/outages/1/extend", b'{"until": "2030-13-01 10:00"}', 400, "until"),
    ("POST", "/api/outages/1/extend", b'{"until": 5}', 400, "until"),
    ("POST", "/api/outages/1/extend", b"{}", 400, "until"),
    ("POST", "/api/outages/1/extend", b'{"until": "2030-11-27 10:00"}', 404, None),
    ("GET", "/api/outages?active=maybe", None, 400, "active"),
    ("GET", "/api/outages?limit=0", None, 400, "limit"),
    ("GET", "/api/campaigns?limit=99999999999999999999", None, 400, "limit"),
    ("GET", "/api/campaigns?limit=-1", None, 400, "limit"),
    ("GET", "/api/no-such-route", None, 404, None),
    ("DELETE", "/api/outages", None, 405, None),
    ("POST", "/api/outages", b"{" + b" " * (1 << 20) + b"}", 413, None),  # JSON over 1 MB
]


@pytest.mark.parametrize("case", BAD)
async def test_bad_requests_get_a_clear_error_never_a_500(
    gateway: Gateway, case: tuple[str, str, bytes | None, int, str | None]
) -> None:
    method, path, raw, status, field = case
    got, body = await _call(gateway, method, path, raw=raw)
    assert got == status, body
    assert isinstance(body, dict)
    assert isinstance(body["error"], str)
    assert body["error"]
    if field is not None:
        assert body["field"] == field, body
    assert await _healthy(gateway)


@pytest.mark.parametrize(
    ("csv", "status"),
    [
        # a header over 131 072 characters (the csv module's field limit): was a 500
        (b"account;" + b"x" * 140_000 + b"\n1;2\n", 400),
        (b"\x00\x00\x00", 400),
        (b"", 400),
        (b"account;period;amount;due_date\n" + b"1;" * 70_000 + b"\n", 200),
        # a data field over the csv module's limit: that row rejected, the file read
        (b"account;period;amount;due_date\n" + b"x" * 140_000 + b"\n", 200),
    ],
)
async def test_bad_billing_files(gateway: Gateway, csv: bytes, status: int) -> None:
    got, body = await _call(gateway, "POST", "/api/campaigns/invoices", raw=csv,
                            content_type="text/csv")
    assert got == status, body
    if status == 200:
        assert ImportOut.model_validate(body).accepted == 0
    assert await _healthy(gateway)


async def test_a_streamed_body_is_cut_off_past_the_limit(gateway: Gateway) -> None:
    """Without a declared length (chunked), the body is read only up to the limit."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"settlement": "'
        for _ in range(40):  # 40 × 64 KiB = 2.5 MB, over the 1 MB JSON limit
            yield b"x" * (1 << 16)
        yield b'"}'

    async with (
        aiohttp.ClientSession() as http,
        http.post(_base(gateway) + "/api/outages", data=chunks(), headers=AUTH) as resp,
    ):
        assert resp.status == 413
        assert "larger than" in (await resp.json())["error"]
    assert await _healthy(gateway)


async def _raw_request(gw: Gateway, head: bytes, body: bytes = b"") -> bytes:
    assert gw.api is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.api.port)
    try:
        writer.write(head + body)
        await writer.drain()
        return await reader.read(4096)
    finally:
        writer.close()


async def test_a_declared_csv_over_64_mb_is_refused_before_reading(gateway: Gateway) -> None:
    head = (
        b"POST /api/campaigns/debts HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {TOKEN}\r\n".encode()
        + b"Content-Type: text/csv\r\nContent-Length: 67108865\r\n\r\n"
    )
    answer = await _raw_request(gateway, head)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"error"' in answer


async def test_a_slow_client_does_not_stop_the_others(gateway: Gateway) -> None:
    """A client that sends half a body and waits holds one handler, not the service."""
    assert gateway.api is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.api.port)
    body = json.dumps({**OUTAGE, "dry_run": True}).encode()
    writer.write(
        b"POST /api/outages HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n".encode()
        + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10]
    )
    await writer.drain()
    for _ in range(5):
        assert await _healthy(gateway)
        status, _ = await _call(gateway, "GET", "/api/outages")
        assert status == 200
    writer.write(body[10:])
    await writer.drain()
    answer = await reader.read(4096)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


async def test_long_inputs_while_health_is_polled(gateway: Gateway) -> None:
    """The longest reason and house list allowed: answered, the SMS still two parts,
    and `/healthz` answers all the while (a 100 000-house list froze everything)."""
    houses = ",".join(str(n) for n in range(1, 600))[:2000].rstrip(",")
    long = {**OUTAGE, "reason": ("авария на линии " * 40)[:500], "houses": houses,
            "dry_run": True}
    health: list[bool] = []

    async def poll() -> None:
        for _ in range(10):
            health.append(await _healthy(gateway))

    results = await asyncio.gather(
        poll(), *(_call(gateway, "POST", "/api/outages", body=long) for _ in range(5))
    )
    for status, body in results[1:]:
        assert status == 200, body
        assert BroadcastOut.model_validate(body).sms_parts <= 2
    assert health == [True] * 10


async def test_concurrent_broadcasts_all_succeed(gateway: Gateway) -> None:
    """20 concurrent POST /api/outages (and as many dry runs): 40 of 60 failed with
    «Error creating function» when a SQL function was registered per request."""
    bodies = [
        {**OUTAGE, "houses": "1-25", "reason": f"ремонт {n}", "dry_run": n % 2 == 1}
        for n in range(40)
    ]
    health: list[bool] = []

    async def poll() -> None:
        for _ in range(10):
            health.append(await _healthy(gateway))

    results = await asyncio.gather(
        poll(), *(_call(gateway, "POST", "/api/outages", body=b) for b in bodies)
    )
    answers = results[1:]
    assert [status for status, _ in answers] == [200] * 40, answers
    recorded = [BroadcastOut.model_validate(body) for _, body in answers[::2]]
    assert all(r.outage is not None and r.recipients > 0 for r in recorded)
    assert len({r.outage for r in recorded}) == 20
    assert all(health)
    status, listed = await _call(gateway, "GET", "/api/outages?active=true")
    assert status == 200
    assert len(OutagesOut.model_validate(listed).outages) == 20


async def test_concurrent_restore_cancel_extend_of_one_outage(gateway: Gateway) -> None:
    """Staff in the workspace, the CLI and Telegram act on one outage at once: each
    request is answered 200 or 409, never 500, and the outage ends once."""
    status, body = await _call(gateway, "POST", "/api/outages", body=OUTAGE)
    assert status == 200, body
    outage = body["outage"]
    calls = [
        ("POST", f"/api/outages/{outage}/{action}", {"until": "27.11.2030 02:00"}
         if action == "extend" else None)
        for action in ("extend", "restored", "cancel") * 5
    ]
    answers = await asyncio.gather(
        *(_call(gateway, method, path, body=body) for method, path, body in calls)
    )
    assert {status for status, _ in answers} <= {200, 409}, answers
    assert gateway.store is not None
    ended = await gateway.store.outages.get(outage)
    assert ended is not None
    assert ended.status in {"restored", "cancelled"}
    closing = await gateway.store.db.fetchval(
        "SELECT count(*) FROM campaigns WHERE kind = 'restored'"
    )
    assert closing == 1
    assert await _healthy(gateway)


async def test_outage_operations_over_the_api(gateway: Gateway) -> None:
    status, body = await _call(gateway, "POST", "/api/outages",
                               body={**OUTAGE, "street": "Комарва"})
    assert status == 409  # nobody there: refused, «yes» does not cover it
    assert "allow_empty" in body["error"]
    assert body["recipients"] == 0
    status, body = await _call(gateway, "POST", "/api/outages",
                               body={**OUTAGE, "street": "Комарва", "allow_empty": True})
    assert status == 200
    empty = BroadcastOut.model_validate(body)
    status, body = await _call(gateway, "POST", "/api/outages", body=OUTAGE)
    assert status == 200
    told = BroadcastOut.model_validate(body)
    assert told.recipients > 0
    status, body = await _call(gateway, "POST", f"/api/outages/{told.outage}/extend",
                               body={"until": "27.11.2030 02:00"})
    assert status == 200, body
    assert "27.11 02:00" in BroadcastOut.model_validate(body).sample
    status, body = await _call(gateway, "POST", f"/api/outages/{empty.outage}/cancel")
    assert status == 200
    status, body = await _call(gateway, "POST", f"/api/outages/{empty.outage}/cancel")
    assert status == 409
    status, body = await _call(gateway, "GET", "/api/outages")
    listed = OutagesOut.model_validate(body).outages
    assert [(o.outage, o.status) for o in listed] == [
        (told.outage, "active"), (empty.outage, "cancelled")
    ]
    assert listed[0].until == "2030-11-27 02:00"
    status, body = await _call(gateway, "GET", "/api/outages?active=1")
    assert [o.outage for o in OutagesOut.model_validate(body).outages] == [told.outage]
    status, body = await _call(gateway, "GET", "/api/outages?limit=1")
    assert [o.outage for o in OutagesOut.model_validate(body).outages] == [told.outage]
    status, body = await _call(gateway, "GET", "/api/campaigns")
    campaigns = CampaignsOut.model_validate(body).campaigns
    # newest first: the «called off» notice, the new time, the two outage notices
    assert [c.kind for c in campaigns] == ["restored", "outage", "outage", "outage"]
    status, body = await _call(gateway, "GET", f"/api/campaigns/{told.campaign}")
    assert ProgressOut.model_validate(body).recipients == told.recipients


async def test_openapi_describes_every_route(gateway: Gateway) -> None:
    status, document = await _call(gateway, "GET", "/api/openapi.json")
    assert status == 200
    validate(document)  # a valid OpenAPI 3.1 document
    assert document["openapi"].startswith("3.1")
    assert gateway.api is not None
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in gateway.api.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
        and (route.resource.canonical.startswith("/api/")
             or route.resource.canonical in {"/healthz", "/metrics"})
    }
    described = {
        (method, path) for path, item in document["paths"].items() for method in item
    }
    assert routes == described
    # Every route is added with bot.httpapi.add_route and its models, so that its
    # request and answers are described, not only listed.
    undocumented = sorted(
        f"{method.upper()} {path}" for path, item in document["paths"].items()
        for method, entry in item.items() if entry.get("x-undocumented")
    )
    assert undocumented == [], "add these with bot.httpapi.add_route(app, Operation(...))"
    schemas = document["components"]["schemas"]
    assert {"OutageIn", "ExtendIn", "DevSmsIn", "BroadcastOut", "ErrorOut"} <= set(schemas)
    outage = schemas["OutageIn"]
    assert outage["additionalProperties"] is False
    assert outage["properties"]["reason"]["maxLength"] == 500
    assert outage["properties"]["houses"]["maxLength"] == 2000
    post = document["paths"]["/api/outages"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OutageIn"
    }
    assert {"200", "400", "401", "409", "413"} <= set(post["responses"])
    assert post["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BroadcastOut"
    }
    listing = document["paths"]["/api/outages"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"active", "limit"}
    assert document["info"]["version"] != "0"


def test_response_models_match_what_the_use_cases_print() -> None:
    """The documented shapes are the printed ones (the §8 and §10 objects)."""
    from notifications.campaigns import BroadcastReport
    from storage.campaigns import Progress

    report = BroadcastReport(1, 2, 3, 4, 3, 1, 2, "текст")
    assert BroadcastOut.model_validate(report.as_json()).model_dump(exclude_none=True) == \
        report.as_json()
    progress = Progress(1, "outage", 0, {})
    assert ProgressOut.model_validate(progress.as_json()).model_dump() == progress.as_json()
    assert issubclass(BroadcastOut, BaseModel)


@pytest.mark.parametrize(
    ("phone", "wait", "shown"),
    [
        ("not a phone", 5.0, "from: not a phone number"),
        ("+79121234567", 60.0, "timeout: Input should be less than or equal to 30"),
    ],
)
async def test_sms_send_shows_the_api_error(
    gateway: Gateway, capsys: pytest.CaptureFixture[str], phone: str, wait: float,
    shown: str,
) -> None:
    """`gateway sms send` said only «HTTP 400»; the API's words say what to fix."""
    from argparse import Namespace

    from bot.cli_sms import cmd_sms_send

    assert gateway.api is not None
    settings = gateway.settings.model_copy(
        update={"api": gateway.settings.api.model_copy(update={"port": gateway.api.port})}
    )
    args = Namespace(phone=phone, to=None, text=["день", "4521"], timeout=wait)
    assert await cmd_sms_send(args, settings) == 2
    assert shown in capsys.readouterr().err


def test_a_route_added_without_its_models_is_still_listed() -> None:
    """The document lists every route; one added by hand is marked, not lost."""
    from aiohttp import web

    from bot.httpapi import Operation, add_route, openapi

    async def handler(request: web.Request) -> web.Response:
        """Items of a thread."""
        return web.json_response({})

    app = web.Application()
    add_route(app, Operation("GET", "/api/things", "things"), handler)
    app.router.add_get(r"/api/things/{thing:\d+}", handler)
    app.router.add_get("/staff/", handler)  # pages are not the API
    document = openapi(app, title="t", version="1")
    validate(document)
    assert set(document["paths"]) == {"/api/things", "/api/things/{thing}"}
    manual = document["paths"]["/api/things/{thing}"]["get"]
    assert (manual["summary"], manual["x-undocumented"]) == ("Items of a thread.", True)
    assert "x-undocumented" not in document["paths"]["/api/things"]["get"]
