"""SIGKILL of a real `gateway run` in the middle of a campaign, against an SMSC in
another process (the development SMSC, here in the test's own process: it outlives the
gateway it counts for). After a restart every recipient gets the notice, and what the
SMSC received twice is at most one SMPP window of parts, all of it counted in the
campaign's `possible_duplicates` (the submit journal: only parts sent without an
answer go again, never the whole claimed batch).

The campaign is started with `gateway broadcast outage` while the service runs: its
rows reach the running sender through the wake-up signal, not the poll.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sms_gateway import codec
from sms_gateway.simulator import SmscSimulator
from storage.store import Store
from tests.notifications.conftest import add_street

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 600
WINDOW = 10
WAIT = 20.0  # seconds: the bound on every wait here


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def registry(db: Path) -> None:
    async with await Store.open(db) as store:
        await add_street(store, PEOPLE, first=30_000_000, phone="+7901")


async def progress(db: Path, campaign: int) -> dict[str, int]:
    async with await Store.open(db) as store:
        from storage.campaigns import CampaignRepo

        report = await CampaignRepo(store.db).progress(campaign)
        assert report is not None
        return report.as_json()


def parts_by_recipient(smsc: SmscSimulator) -> Counter[tuple[str, int, int]]:
    """(destination, concatenation reference, part) → times the SMSC accepted it."""
    got: Counter[tuple[str, int, int]] = Counter()
    for part in smsc.submitted:
        data = part.sm.payload()
        concat = None
        if part.sm.esm_class & codec.ESM_UDHI:
            concat, data = codec.parse_udh(data)
        got[(part.destination, concat.ref if concat else -1, concat.seq if concat else 1)] += 1
    return got


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not await check():
        assert loop.time() < deadline, f"not within {WAIT:g} s: {what}"
        await asyncio.sleep(0.05)


async def test_sigkill_mid_campaign_resends_only_the_window(tmp_path: Path) -> None:
    db = tmp_path / "gw.db"
    await registry(db)
    with (tmp_path / "gateway.log").open("ab") as log:  # the services' logs, for a failure
        async with SmscSimulator(system_id="gateway", password="pw") as smsc:
            campaign, parts = await crash_and_restart(tmp_path, db, smsc, log)
    got = parts_by_recipient(smsc)
    assert len({destination for destination, _, _ in got}) == PEOPLE
    # One concatenation reference per recipient: a resumed message kept its reference,
    # so the phone joins the parts sent before and after the crash.
    keys = Counter(destination for destination, _, _ in got)
    restarted = sorted(key for key in got if keys[key[0]] != parts)
    assert not restarted, f"a message started over: {restarted[:6]}"
    extra = sum(count - 1 for count in got.values())
    doubled = {destination for (destination, _, _), count in got.items() if count > 1}
    state = await progress(db, campaign)
    assert extra <= WINDOW
    assert len(doubled) <= state["possible_duplicates"] <= WINDOW
    assert state["queued"] == 0
    assert state["sent"] + state["delivered"] == PEOPLE


async def crash_and_restart(
    tmp_path: Path, db: Path, smsc: SmscSimulator, log: BinaryIO
) -> tuple[int, int]:
    """Start the service, broadcast from the CLI, SIGKILL the service a third of the
    way through, start it again and let it finish; returns (campaign, parts)."""
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(
        f'[storage]\npath = "{db}"\n[demo]\nenabled = false\n'
        f"[smpp]\nsimulator = false\nport = {smsc.port}\ntps = 400\nwindow = {WINDOW}\n"
        f"[api]\nport = {free_port()}\n[notifications]\nlease_seconds = 2\n"
        'quiet_hours = "00:00-00:00"\nconfirm_above = 100000\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY")}
    env["GATEWAY__SMPP__PASSWORD"] = "pw"

    async def gateway(*args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", *args, "--config", str(cfg),
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=log,
        )

    async def bound() -> bool:
        return smsc.bound_count() > 0

    service = await gateway("run")
    try:
        await until(bound, "the gateway binds")
        start = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
        end = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
        cli = await gateway(
            "broadcast", "outage", "--settlement", "Ухта", "--street", "Мира",
            "--reason", "авария на линии электропередачи, бригада уже выехала на место",
            "--start", start, "--until", end, "--yes", "--json", "--no-follow",
        )
        out, _ = await asyncio.wait_for(cli.communicate(), WAIT)
        assert cli.returncode == 0
        report = json.loads(out)
        campaign, parts = int(report["campaign"]), int(report["sms_parts"])
        assert report["recipients"] == PEOPLE
        assert parts == 2  # multipart: a half-sent message must resume, not start over

        async def a_third_sent() -> bool:
            return len(smsc.submitted) >= PEOPLE * parts // 3

        await until(a_third_sent, "a third of the campaign is sent")
    finally:
        service.send_signal(signal.SIGKILL)
        await asyncio.wait_for(service.communicate(), WAIT)
    assert len(smsc.submitted) < PEOPLE * parts, "the gateway must die in the middle"

    async def everyone_served() -> bool:
        got = parts_by_recipient(smsc)
        return len({(d, seq) for d, _, seq in got}) == PEOPLE * parts

    async def nothing_left() -> bool:
        return (await progress(db, campaign))["queued"] == 0

    binds = smsc.binds
    service = await gateway("run")
    try:
        await until(everyone_served, "every recipient gets every part")
        await until(nothing_left, "the campaign has nothing queued")
    finally:
        service.send_signal(signal.SIGTERM)
        await asyncio.wait_for(service.communicate(), WAIT)
    assert service.returncode == 0
    assert smsc.binds > binds
    return campaign, parts
