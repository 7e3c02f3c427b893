"""`gateway run` on a PostgreSQL store, end to end (docs/interfaces.md §13): a real
service process with `[storage] url` naming a fresh database, an SMSC (the development
simulator, in the test's own process) as its peer. The service creates the schema and
the demo registry, answers a reading sent by SMS and stores it; an outage broadcast
started from the CLI reaches the area's phones."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sms_gateway.simulator import SmscSimulator
from storage.open import StoreTarget
from storage.store import Store

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0  # seconds: the bound on every wait here
# From the demo registry (storage/demo/customers.csv): one account, one one-zone meter
# (last reading 20415,5), and a neighbour on the same street with two phones.
PHONE, ACCOUNT = "+79125550101", "1100556677"
NEIGHBOUR = "+79129876543"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def readings_of(url: str, account: str) -> list[tuple[str, str]]:
    async with await Store.open(StoreTarget("postgresql", url=url), create=False) as store:
        rows = await store.db.fetchall(
            "SELECT value, status FROM readings WHERE account = ? ORDER BY id", (account,)
        )
    return [(r["value"], r["status"]) for r in rows]


async def test_gateway_run_on_postgresql_answers_a_reading_and_sends_an_outage(
    pg_url: str, tmp_path: Path
) -> None:
    async with SmscSimulator(system_id="gateway", password="pw") as smsc:
        cfg = tmp_path / "gateway.toml"
        cfg.write_text(
            f'[storage]\npath = "{tmp_path / "local.db"}"\n[demo]\nenabled = true\n'
            f"[smpp]\nsimulator = false\nport = {smsc.port}\n"
            f"[api]\nport = {free_port()}\n[notifications]\n"
            'quiet_hours = "00:00-00:00"\nconfirm_above = 100000\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY")}
        env["GATEWAY__SMPP__PASSWORD"] = "pw"
        env["GATEWAY__STORAGE__URL"] = pg_url

        async def gateway(*args: str) -> asyncio.subprocess.Process:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", *args, "--config", str(cfg),
                cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )

        service = await gateway("run")
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + WAIT
            while smsc.bound_count() == 0:
                assert service.returncode is None, "the service ended at start"
                assert loop.time() < deadline, "the gateway did not bind"
                await asyncio.sleep(0.05)

            replies = await smsc.inject_and_wait(PHONE, None, "20500", timeout=WAIT)
            assert replies, "no answer to the reading"
            assert "20500" in replies[0]
            stored = await readings_of(pg_url, ACCOUNT)
            assert stored == [("20500", "accepted")]

            before = {phone: len(smsc.messages_to(phone)) for phone in (PHONE, NEIGHBOUR)}
            start = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
            end = (datetime.now(UTC) + timedelta(hours=6)).strftime("%Y-%m-%d %H:%M")
            cli = await gateway(
                "broadcast", "outage", "--settlement", "Сыктывкар", "--street", "Комарова",
                "--reason", "авария на линии", "--start", start, "--until", end,
                "--yes", "--json", "--no-follow",
            )
            out, err = await asyncio.wait_for(cli.communicate(), WAIT)
            assert cli.returncode == 0, err.decode()
            report = json.loads(out)
            assert report["recipients"] >= 2
            for phone in (PHONE, NEIGHBOUR):
                got = await smsc.wait_messages(phone, before[phone] + 1, WAIT)
                assert any("авария на линии" in text for text in got), (phone, got)
        finally:
            service.send_signal(signal.SIGTERM)
            _, service_err = await asyncio.wait_for(service.communicate(), WAIT)
        assert service.returncode == 0, service_err.decode()[-2000:]
        assert not (tmp_path / "local.db").exists()  # the store was PostgreSQL only
