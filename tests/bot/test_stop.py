"""SIGTERM ends `gateway run` within a bound, exit status 0, with requests in flight: a
client that sends half a body and waits, one that never finishes its headers, and an
SMS waiting for its replies (it never ended while a request was in flight: the database
worker thread was never closed)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

GATEWAY = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "t0ken-for-tests"
# The stop's own bound is 10 s (bot.cli.STOP_SECONDS); the API gives requests 2 s.
BOUND = 15


async def _start(tmp_path: Path) -> tuple[asyncio.subprocess.Process, int]:
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "gw.db"}"\n'
        f'[smpp]\nport = 0\n[api]\nport = 0\ntoken = "{TOKEN}"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY")}
    process = await asyncio.create_subprocess_exec(
        *GATEWAY, "run", "--config", str(config), cwd=ROOT, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    for _ in range(100):  # the banner is a dozen lines
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        found = re.search(r"admin API\s+http://[\d.]+:(\d+)", line)
        if found:
            return process, int(found[1])
        assert line, "gateway run ended before printing its banner"
    raise AssertionError("no admin API line in the banner")


async def _send(port: int, data: bytes) -> asyncio.StreamWriter:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    return writer


async def _health(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await reader.read()
    writer.close()
    return answer


async def test_sigterm_with_requests_in_flight_exits_0_within_the_bound(
    tmp_path: Path,
) -> None:
    process, port = await _start(tmp_path)
    auth = f"Authorization: Bearer {TOKEN}\r\n".encode()
    try:
        assert (await _health(port)).startswith(b"HTTP/1.1 200")
        slow_body = await _send(
            port,
            b"POST /api/outages HTTP/1.1\r\nHost: x\r\n" + auth
            + b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"settle",
        )
        slow_head = await _send(port, b"POST /api/outages HTTP/1.1\r\nHost: x\r\n")
        sms = json.dumps({"from": "+79121234567", "text": "нет света", "timeout": 30}).encode()
        waiting = await _send(
            port,
            b"POST /api/dev/sms HTTP/1.1\r\nHost: x\r\n" + auth
            + b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(sms)}\r\n\r\n".encode() + sms,
        )
        # The service still answers with all three in flight.
        assert (await _health(port)).startswith(b"HTTP/1.1 200")
        process.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(process.wait(), BOUND)
        assert status == 0
        for writer in (slow_body, slow_head, waiting):
            writer.close()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
