"""`sms_send` against a stand-in admin API (aiohttp on loopback)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from sms_gateway.cli import sms_send


async def test_sms_send_posts_and_returns_replies() -> None:
    seen: list[Any] = []

    async def dev_sms(request: web.Request) -> web.Response:
        seen.append((request.headers.get("Authorization"), await request.json()))
        return web.json_response({"replies": ["Принято"]})

    app = web.Application()
    app.router.add_post("/api/dev/sms", dev_sms)
    async with TestServer(app, host="127.0.0.1") as server:
        base = str(server.make_url("")).rstrip("/")
        status, replies = await sms_send(base, "tok", "+79121234567", None, "день 4521", 1)
    assert (status, replies) == (200, ["Принято"])
    assert seen == [("Bearer tok", {"from": "+79121234567", "to": None, "text": "день 4521",
                                   "timeout": 1})]
