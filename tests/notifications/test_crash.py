"""A sender killed with SIGKILL in the middle of a 10 000-recipient campaign and started
again finishes it: everybody gets the notice, and the duplicates are at most the
messages in flight at the kill (one claimed batch). Real processes, a real SQLite file.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from notifications.campaigns import Notifications, OutageRequest
from storage.store import Store
from tests.notifications.conftest import MSK, add_street
from tests.notifications.crash_worker import BATCH
from tests.notifications.test_campaigns import service

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 10_000


async def build(db: Path) -> int:
    async with await Store.open(db) as store:
        await add_street(store, PEOPLE, first=20_000_000, phone="+7900")
        notes: Notifications = service(store, now=datetime.now(UTC))
        now_msk = datetime.now(MSK)
        report = await notes.outage(
            OutageRequest(settlement="Ухта", street="Мира", reason="авария",
                          start=now_msk, until=now_msk.replace(year=now_msk.year + 1)),
            yes=True,
        )
        assert report.recipients == PEOPLE
        assert report.campaign is not None
        return report.campaign


def start_worker(db: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.notifications.crash_worker", str(db), str(out)],
        cwd=ROOT,
    )


def lines(out: Path) -> list[str]:
    return out.read_text(encoding="utf-8").split() if out.exists() else []


def test_sigkill_midway_then_restart_finishes_the_campaign(tmp_path: Path) -> None:
    db, out = tmp_path / "gw.db", tmp_path / "sent.txt"
    campaign = asyncio.run(build(db))
    worker = start_worker(db, out)
    deadline = time.monotonic() + 30
    while len(lines(out)) < PEOPLE // 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    at_kill = len(lines(out))
    assert 0 < at_kill < PEOPLE, "the worker must die in the middle"

    restart = start_worker(db, out)
    assert restart.wait(timeout=45) == 0
    sent = lines(out)
    duplicates = len(sent) - len(set(sent))
    print(f"\ncrash test: killed after {at_kill} sends; {len(sent)} sends in all, "
          f"{len(set(sent))} distinct, {duplicates} duplicates (bound: batch {BATCH})")

    async def check() -> tuple[int, set[str]]:
        async with await Store.open(db) as store:
            rows = await store.db.fetchall(
                "SELECT id, status FROM outbox WHERE campaign_id = ?", (campaign,)
            )
            return sum(r["status"] == "sent" for r in rows), {str(r["id"]) for r in rows}

    sent_rows, ids = asyncio.run(check())
    assert sent_rows == PEOPLE
    assert set(sent) == ids  # everybody got the notice
    assert duplicates <= BATCH
