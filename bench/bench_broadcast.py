"""Benchmark: a 100 000-recipient outage broadcast (issue 7).

    .venv/bin/python bench/bench_broadcast.py [--recipients 100000] [--telegram-share 0.2]
                                              [--channels real|null] [--limiter lifted|none]
                                              [--url postgresql://USER@HOST:PORT/DB]

Seeds a fresh store (a SQLite file; with `--url`, a new PostgreSQL database created on
that server and dropped at the end) with one account and one phone per recipient in one settlement
(a share of them linked to Telegram), then measures:

- build: `Notifications.outage(...)` — recording the outage and queuing one outbox row
  per person by INSERT … SELECT (target under 10 s);
- send: the outbox sender draining the whole campaign with channel limits lifted (the
  rate limiter at 1 000 000/s per channel and per chat, or none; the SMPP session's own
  TPS out of the way), either through the real channels over loopback (`real`:
  `SmsChannel` against the SMSC simulator, `TelegramChannel` against the fake Bot API
  server of tests/bot/fake_telegram.py) or into in-process null channels (`null`)
  (target ≥ 1 000 messages/s);
- receipts: how long after the last send the SMSC's delivery receipts are all applied;
- memory of this process — the gateway side only: with `real` the two peers run in
  child processes (bench/peers.py) that count messages instead of keeping them. Peak
  RSS (VmHWM / ru_maxrss; target under 200 MB), the RSS after imports (aiogram alone is
  ~165 MB) and the difference, and the peak of the send phase on its own.

Prints one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core import (  # noqa: E402 - after the path set-up
    Channel,
    ChannelName,
    OnInbound,
    OnReport,
    Outbound,
    SendResult,
)
from bot.settings import SmppSettings, TelegramSettings  # noqa: E402
from notifications.campaigns import NoticeConfig, Notifications, OutageRequest  # noqa: E402
from notifications.limits import ChannelLimits  # noqa: E402
from notifications.quiet import QuietHours  # noqa: E402
from notifications.sender import OutboxSender  # noqa: E402
from storage.campaigns import CampaignRepo  # noqa: E402
from storage.db import to_db  # noqa: E402
from storage.store import Store  # noqa: E402


class NullChannel:
    """Accepts everything at once: measures the sender and the store alone."""

    def __init__(self, name: ChannelName) -> None:
        self.name = name
        self.count = 0

    async def start(self, on_inbound: OnInbound, on_report: OnReport) -> None:
        return None

    async def send(self, outbound: Outbound) -> SendResult:
        self.count += 1
        return SendResult(message_ids=(f"{self.name.value}{self.count}",))

    async def stop(self) -> None:
        return None

    def is_up(self) -> bool:
        return True


async def seed(store: Store, recipients: int, telegram_share: float) -> None:
    now = to_db(datetime.now(UTC))
    chunk = 20_000
    for start in range(0, recipients, chunk):
        ids = range(start, min(start + chunk, recipients))
        await store.db.executemany(
            "INSERT INTO accounts (number, settlement, street, house, settlement_key,"
            " street_key, house_key, updated_at) VALUES (?, 'Сыктывкар', ?, ?, 'сыктывкар',"
            " ?, ?, ?)",
            ((f"{10**9 + i}", f"Улица {i % 200}", str(i % 90 + 1), f"улица {i % 200}",
              str(i % 90 + 1), now) for i in ids),
        )
        await store.db.executemany(
            "INSERT INTO account_phones (account, phone) VALUES (?, ?)",
            ((f"{10**9 + i}", f"+7900{i:07d}") for i in ids),
        )
    linked = int(recipients * telegram_share)
    step = max(1, recipients // linked) if linked else 0
    if linked:
        await store.db.executemany(
            "INSERT INTO contacts (channel, address, phone, verified_by, verified_at,"
            " created_at) VALUES ('telegram', ?, ?, 'contact', ?, ?)",
            ((str(500_000_000 + i), f"+7900{i:07d}", now, now)
             for i in range(0, recipients, step)),
        )


def _status_kb(field: str) -> int:
    """A `/proc/self/status` field in kB (VmRSS, VmHWM), 0 where there is none."""
    with suppress(OSError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux: 5 into clear_refs), so that a phase's peak
    can be read on its own. False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _mb(kb: int) -> int:
    return round(kb / 1024)


class Peer:
    """One peer (bench/peers.py) in a child process; talks JSON lines over its pipes."""

    def __init__(self, proc: asyncio.subprocess.Process, hello: dict[str, Any]) -> None:
        self.proc = proc
        self.hello = hello

    async def stats(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(b"stats\n")
        await self.proc.stdin.drain()
        async with asyncio.timeout(10):
            line = await self.proc.stdout.readline()
        result: dict[str, Any] = json.loads(line)
        return result


@asynccontextmanager
async def peer(name: str) -> AsyncIterator[Peer]:
    """Start a peer in a child process; it is always ended on the way out (end of
    stdin, then SIGTERM, then SIGKILL, each wait bounded)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "peers.py"), name,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            line = await proc.stdout.readline()
        if not line:
            raise RuntimeError(f"peer {name} exited before it listened")
        yield Peer(proc, json.loads(line))
    finally:
        if proc.returncode is None and proc.stdin is not None:
            proc.stdin.close()
            with suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 5)
        if proc.returncode is None:
            proc.terminate()
            with suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 5)
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 5)


async def real_channels(
    stack: AsyncExitStack, tmp: Path
) -> tuple[dict[str, Channel], dict[str, Peer]]:
    from pydantic import SecretStr

    from bot.telegram import TelegramChannel
    from sms_gateway.channel import SmsChannel

    smsc = await stack.enter_async_context(peer("smsc"))
    tg = await stack.enter_async_context(peer("telegram"))
    # Limits lifted: the session's TPS out of the way, the widest window.
    smpp = SmppSettings(port=int(smsc.hello["port"]), tps=1_000_000, window=1000,
                        simulator=False)
    sms = SmsChannel(smpp, tmp / "fragments.db")
    telegram = TelegramChannel(
        TelegramSettings(
            enabled=True, token=SecretStr(str(tg.hello["token"])),
            api_base=f"http://127.0.0.1:{tg.hello['port']}",
        )
    )
    return {"sms": sms, "telegram": telegram}, {"smsc": smsc, "telegram": tg}


async def _fresh_pg(stack: AsyncExitStack, admin_url: str) -> Any:
    """A new PostgreSQL database on the server of `admin_url`, dropped at the end."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import asyncpg

    from storage.open import StoreTarget

    name = f"gw_bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()

    async def drop() -> None:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    stack.push_async_callback(drop)
    return StoreTarget("postgresql", url=urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}")))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.channels == "real":
        # Imported before the baseline: aiogram's weight is not the campaign's.
        import bot.telegram  # noqa: F401
        import sms_gateway.channel  # noqa: F401
    baseline_kb = _status_kb("VmRSS")
    tmp = Path(tempfile.mkdtemp(prefix="bench-broadcast-"))
    async with AsyncExitStack() as stack:
        if args.url:
            store = await Store.open(await _fresh_pg(stack, args.url))
        else:
            store = await Store.open(tmp / "gateway.db")
        stack.push_async_callback(store.close)
        started = time.perf_counter()
        await seed(store, args.recipients, args.telegram_share)
        if store.db.dialect == "postgresql" and not args.no_analyze:
            # Fresh tables have no planner statistics until autovacuum's ANALYZE; a
            # database in service has them (and `gateway import customers` runs it).
            await store.db.execute("ANALYZE")
        seeded = time.perf_counter() - started
        tz = __import__("zoneinfo").ZoneInfo("Europe/Moscow")
        config = NoticeConfig(
            tz=tz, company="ЭнергоСбыт",
            quiet=QuietHours(datetime.min.time(), datetime.min.time(), tz),  # none
            confirm_above=10**9, telegram=True,
        )
        notes = Notifications(store, config)
        now = datetime.now(tz)
        started = time.perf_counter()
        report = await notes.outage(
            OutageRequest(
                settlement="г. Сыктывкар", reason="авария на подстанции", start=now,
                until=now + timedelta(hours=6),
            ),
            yes=True,
        )
        build = time.perf_counter() - started
        assert report.campaign is not None
        build_peak_kb = _status_kb("VmHWM")

        channels: dict[str, Channel]
        peers: dict[str, Peer] = {}
        if args.channels == "real":
            channels, peers = await real_channels(stack, tmp)
        else:
            channels = {
                "sms": NullChannel(ChannelName.SMS),
                "telegram": NullChannel(ChannelName.TELEGRAM),
            }
        limiter = None
        if args.limiter == "lifted":
            limiter = ChannelLimits.from_rates(
                sms_tps=1_000_000, telegram_rate=1_000_000, telegram_chat_rate=1_000_000
            )
        sender = OutboxSender(
            store.outbox, store.contacts, channels, batch_size=args.batch,
            concurrency=args.concurrency, templates=CampaignRepo(store.db), limiter=limiter,
        )
        for channel in channels.values():
            await channel.start(_no_inbound, sender.on_report)
            stack.push_async_callback(channel.stop)
        reset = _reset_peak()
        started = time.perf_counter()
        deadline = started + args.max_seconds
        sent = 0
        while time.perf_counter() < deadline:
            sent += await sender.drain()
            if not await store.outbox.pending_count():
                break
            await asyncio.sleep(0.01)
        send = time.perf_counter() - started
        parts = int(
            await store.db.fetchval(
                "SELECT coalesce(sum(parts), 0) FROM outbox WHERE channel = 'sms'"
            )
        )
        # Receipts: every SMS row leaves 'sent' once its receipt is applied (≤ 60 s;
        # null channels send none).
        for _ in range(1200 if args.channels == "real" else 0):
            if not await store.db.fetchval(
                "SELECT count(*) FROM outbox WHERE channel = 'sms' AND status = 'sent'"
            ):
                break
            await asyncio.sleep(0.05)
        receipts = time.perf_counter() - started
        send_peak_kb = _status_kb("VmHWM") if reset else 0
        progress = await notes.progress(report.campaign)
        assert progress is not None
        peer_stats = {name: await p.stats() for name, p in peers.items()}
    peak_kb = max(_status_kb("VmHWM"), build_peak_kb,
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return {
        "recipients": report.recipients,
        "by_channel": {"sms": report.sms, "telegram": report.telegram},
        "store": "postgresql" if args.url else "sqlite",
        "channels": args.channels,
        "limiter": args.limiter,
        "seed_seconds": round(seeded, 2),
        "build_seconds": round(build, 2),
        "send_seconds": round(send, 2),
        "messages": sent,
        "messages_per_second": round(sent / send),
        "sms_parts": parts,
        "sms_parts_per_second": round(parts / send),
        "receipts_applied_seconds": round(receipts, 2) if args.channels == "real" else None,
        "progress": progress.as_json(),
        "rss_after_imports_mb": _mb(baseline_kb),
        "peak_mb": _mb(peak_kb),
        "peak_seed_build_mb": _mb(build_peak_kb),
        "peak_send_mb": _mb(send_peak_kb) if reset else None,
        "gateway_incremental_mb": _mb(peak_kb - baseline_kb),
        "peers": peer_stats,
    }


async def _no_inbound(_: Any) -> bool:
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--telegram-share", type=float, default=0.2)
    parser.add_argument("--channels", choices=["real", "null"], default="real")
    parser.add_argument("--limiter", choices=["lifted", "none"], default="lifted")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--no-analyze", action="store_true",
                        help="PostgreSQL: skip ANALYZE after seeding (fresh statistics)")
    parser.add_argument("--url", default="",
                        help="a PostgreSQL server's admin url: the store is a new database there")
    parser.add_argument("--max-seconds", type=float, default=900.0,
                        help="bound on the send phase")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), ensure_ascii=False))


if __name__ == "__main__":
    main()
