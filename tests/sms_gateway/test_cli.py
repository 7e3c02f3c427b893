"""`sms_send` against a stand-in admin API (aiohttp on loopback); `gateway smsc` run as
its own process with the binds of two instances."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.core import ChannelName, Outbound
from sms_gateway.channel import SmsChannel
from sms_gateway.cli import sms_send
from sms_gateway.fragments import MemoryFragmentStore

from .conftest import PASSWORD, Journal, smpp_settings

ROOT = Path(__file__).resolve().parents[2]


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


async def test_standalone_smsc_takes_the_binds_of_two_instances(tmp_path: Path) -> None:
    # `gateway smsc` as its own process, as an end-to-end test with two instances runs
    # it: 2 instances × 2 binds on one simulator, its TPS limit shared by all four.
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[smpp]\nport = 0\npassword = "{PASSWORD}"\n[storage]\npath = "{tmp_path / "g.db"}"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "smsc", "--config", str(config), "--max-tps", "5",
        cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        found = re.search(r"listening on 127\.0\.0\.1:(\d+).*at most 5 submit_sm/s", line)
        assert found, line
        port = int(found[1])
        journals = [Journal(), Journal()]
        instances = [
            SmsChannel(
                smpp_settings(port, binds=2), MemoryFragmentStore(), send_timeout=30,
                reconnect_min_delay=0.05,
            )
            for _ in journals
        ]
        for sms, journal in zip(instances, journals, strict=True):
            await sms.start(journal.on_inbound, journal.on_report)
        try:
            sessions = [session for sms in instances for session in sms.sessions]
            # start() waits for an instance's first bind; the second follows (bounded)
            assert all(await asyncio.gather(*(s.wait_bound(10) for s in sessions)))
            results = await asyncio.gather(*(
                sms.send(Outbound(
                    channel=ChannelName.SMS, address=f"+7912123456{i % 10}",
                    text=f"Уведомление {i}",
                ))
                for i in range(12)
                for sms in instances
            ))
            assert all(result.ok for result in results)
            # 24 parts at most 5 a second over all binds: some were throttled
            throttled = sum(s.stats.throttled for sms in instances for s in sms.sessions)
            assert throttled > 0
        finally:
            for sms in instances:
                await sms.stop()
    finally:
        process.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(process.stdout.read(), 30)).decode()
        assert await asyncio.wait_for(process.wait(), 30) == 0
    assert "24 submit_sm accepted" in rest
    assert "4 binds" in rest
    assert all(f"bind {n}:" in rest for n in (1, 2, 3, 4))
