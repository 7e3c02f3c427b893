"""Benchmark: a 100 000-recipient outage broadcast (issue 7).

    .venv/bin/python bench/bench_broadcast.py [--recipients 100000] [--telegram-share 0.2]
                                              [--channels null|real]

Seeds a fresh SQLite file with one account and one phone per recipient in one settlement
(a share of them linked to Telegram), then measures:

- build: `Notifications.outage(...)` — recording the outage and queuing one outbox row
  per person by INSERT … SELECT (target under 10 s);
- send: the outbox sender draining the whole campaign with channel limits lifted
  (no rate limiter; the SMPP session's own TPS set out of the way), either into
  in-process null channels (`null`) or through the real channels over loopback
  (`real`: `SmsChannel` against the development SMSC simulator, `TelegramChannel`
  against the fake Bot API server of tests/bot/fake_telegram.py) (target ≥ 1 000/s);
- peak memory of the process (ru_maxrss; target under 200 MB).

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
from contextlib import AsyncExitStack, asynccontextmanager
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


@asynccontextmanager
async def real_channels(stack: AsyncExitStack, tmp: Path) -> AsyncIterator[dict[str, Channel]]:
    from pydantic import SecretStr

    from bot.telegram import TelegramChannel
    from sms_gateway.channel import SmsChannel
    from sms_gateway.simulator import SmscSimulator
    from tests.bot.fake_telegram import FakeTelegram

    smsc = SmscSimulator(port=0, receipts=True)
    await smsc.start()
    stack.push_async_callback(smsc.stop)
    tg = await stack.enter_async_context(FakeTelegram())
    # Limits lifted: the session's TPS out of the way, the widest window.
    smpp = SmppSettings(port=smsc.port, tps=1_000_000, window=1000, simulator=False)
    sms = SmsChannel(smpp, tmp / "fragments.db")
    telegram = TelegramChannel(
        TelegramSettings(enabled=True, token=SecretStr(tg.token), api_base=tg.base_url)
    )
    channels: dict[str, Channel] = {"sms": sms, "telegram": telegram}
    yield channels


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-broadcast-"))
    async with AsyncExitStack() as stack:
        store = await Store.open(tmp / "gateway.db")
        stack.push_async_callback(store.close)
        await seed(store, args.recipients, args.telegram_share)
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

        channels: dict[str, Channel]
        if args.channels == "real":
            channels = await stack.enter_async_context(real_channels(stack, tmp))
        else:
            channels = {
                "sms": NullChannel(ChannelName.SMS),
                "telegram": NullChannel(ChannelName.TELEGRAM),
            }
        sender = OutboxSender(
            store.outbox, store.contacts, channels, batch_size=args.batch,
            concurrency=args.concurrency, templates=CampaignRepo(store.db),
        )
        for channel in channels.values():
            await channel.start(_no_inbound, sender.on_report)
            stack.push_async_callback(channel.stop)
        started = time.perf_counter()
        sent = 0
        while True:
            sent += await sender.drain()
            if not await store.outbox.pending_count():
                break
            await asyncio.sleep(0.01)
        send = time.perf_counter() - started
        progress = await notes.progress(report.campaign)
        assert progress is not None
    return {
        "recipients": report.recipients,
        "by_channel": {"sms": report.sms, "telegram": report.telegram},
        "channels": args.channels,
        "build_seconds": round(build, 2),
        "send_seconds": round(send, 2),
        "messages_per_second": round(sent / send),
        "progress": progress.as_json(),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


async def _no_inbound(_: Any) -> bool:
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--telegram-share", type=float, default=0.2)
    parser.add_argument("--channels", choices=["null", "real"], default="null")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), ensure_ascii=False))


if __name__ == "__main__":
    main()
