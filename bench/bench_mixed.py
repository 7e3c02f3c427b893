"""Benchmark: an outage broadcast to a mixed audience (SMS, Telegram, MAX, e-mail) with
every channel's real limits on (issue 15).

    .venv/bin/python bench/bench_mixed.py [--recipients 2000] [--sms-tps 100]
        [--mode run|drain]

Seeds a fresh SQLite file with one account and one phone per person in one settlement:
40 % reach only SMS, 25 % are linked on Telegram, 25 % on MAX, 5 % on both messengers
(MAX written from last), 5 % chose e-mail. Then `Notifications.outage` builds the
campaign and the outbox sender sends it (`--mode run`, the default: the service's loop,
`OutboxSender.run`, until every row is final; `--mode drain`: `OutboxSender.drain`
again and again, as the tests do) through the real channels over loopback: the
development SMSC simulator (SMPP), the fake Telegram Bot API server, the fake MAX Bot API
server and an aiosmtpd sink as the company relay (all from tests/), with the limits of
the settings: `[smpp] tps`, `[notifications] telegram_rate` 30/s, `max_rate` 30/s,
`[email] rate` 5/s.

Prints one JSON object: the recipients by channel, the time to send, and per channel
the messages sent, the achieved rate (overall, and while SMS was being sent too) and
the most sends seen in any one-second window, by when they returned and by when the
sender called the channel (the messengers' must stay within their per-second limits),
and whether every person got exactly one notice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402 - after the path set-up

from bot.core import Channel, OnInbound, OnReport, Outbound, SendResult  # noqa: E402
from bot.max import MaxChannel  # noqa: E402
from bot.settings import (  # noqa: E402
    EmailSettings,
    MaxSettings,
    SmppSettings,
    TelegramSettings,
)
from bot.telegram import TelegramChannel  # noqa: E402
from mail_gateway.channel import EmailChannel  # noqa: E402
from notifications.campaigns import NoticeConfig, Notifications, OutageRequest  # noqa: E402
from notifications.limits import ChannelLimits  # noqa: E402
from notifications.quiet import QuietHours  # noqa: E402
from notifications.sender import OutboxSender  # noqa: E402
from sms_gateway.channel import SmsChannel  # noqa: E402
from sms_gateway.simulator import SmscSimulator  # noqa: E402
from storage.campaigns import CampaignRepo  # noqa: E402
from storage.db import to_db  # noqa: E402
from storage.store import Store  # noqa: E402
from tests.bot.fake_max import FakeMax  # noqa: E402
from tests.bot.fake_telegram import FakeTelegram  # noqa: E402
from tests.mail_gateway.relay import RelaySink  # noqa: E402

TELEGRAM_RATE = MAX_RATE = 30.0
EMAIL_RATE = 5.0


class Timed:
    """A channel that records when each accepted send returned (the bench's own view of
    the rate; the channel and the limiter are the real ones)."""

    def __init__(self, inner: Channel) -> None:
        self.inner = inner
        self.name = inner.name
        self.times: list[float] = []  # accepted sends, when they returned
        self.calls: list[float] = []  # every send, when the sender called it

    async def start(self, on_inbound: OnInbound, on_report: OnReport) -> None:
        await self.inner.start(on_inbound, on_report)

    async def send(self, outbound: Outbound) -> SendResult:
        self.calls.append(time.perf_counter())
        result = await self.inner.send(outbound)
        if result.ok:
            self.times.append(time.perf_counter())
        return result

    async def stop(self) -> None:
        await self.inner.stop()

    def is_up(self) -> bool:
        return self.inner.is_up()


def peak_per_second(times: list[float]) -> int:
    """The most events in any window of one second."""
    best, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


async def seed(store: Store, people: int) -> dict[str, int]:
    """One account and phone per person; contacts and choices by share. Returns the
    expected recipients per channel."""
    now = to_db(datetime.now(UTC))
    await store.db.executemany(
        "INSERT INTO accounts (number, settlement, street, house, settlement_key,"
        " street_key, house_key, updated_at) VALUES (?, 'Сыктывкар', 'Ленина', ?,"
        " 'сыктывкар', 'ленина', ?, ?)",
        ((f"{10**9 + i}", str(i % 90 + 1), str(i % 90 + 1), now) for i in range(people)),
    )
    await store.db.executemany(
        "INSERT INTO account_phones (account, phone) VALUES (?, ?)",
        ((f"{10**9 + i}", f"+7900{i:07d}") for i in range(people)),
    )
    expected: Counter[str] = Counter()
    contacts: list[tuple[str, str, str, str, str, str]] = []
    choices: list[tuple[str, str, str, str]] = []
    earlier = to_db(datetime.now(UTC) - timedelta(hours=1))
    for i in range(people):
        phone, slot = f"+7900{i:07d}", i % 20
        if slot < 8:
            expected["sms"] += 1
        elif slot < 13:
            contacts.append(("telegram", str(100_000 + i), phone, now, now, now))
            expected["telegram"] += 1
        elif slot < 18:
            contacts.append(("max", str(200_000 + i), phone, now, now, now))
            expected["max"] += 1
        elif slot == 18:  # both messengers; wrote to MAX last
            contacts.append(("telegram", str(100_000 + i), phone, now, now, earlier))
            contacts.append(("max", str(200_000 + i), phone, now, now, now))
            expected["max"] += 1
        else:
            choices.append((phone, "email", f"p{i}@mail.example", now))
            expected["email"] += 1
    await store.db.executemany(
        "INSERT INTO contacts (channel, address, phone, verified_by, verified_at,"
        " created_at, last_inbound_at) VALUES (?, ?, ?, 'contact', ?, ?, ?)",
        contacts,
    )
    await store.db.executemany(
        "INSERT INTO notice_channels (phone, channel, address, chosen_at)"
        " VALUES (?, ?, ?, ?)",
        choices,
    )
    return dict(expected)


async def _no_inbound(_: Any) -> bool:
    return False


async def send_as_the_service(sender: OutboxSender, store: Store, bound: float) -> None:
    """The service's loop (`OutboxSender.run`) until every row is final or `bound`
    seconds have passed."""
    task = asyncio.create_task(sender.run(poll=0.2))
    deadline = time.perf_counter() + bound
    try:
        for _ in range(int(bound / 0.05) + 1):  # polls: the row count is in the store
            if time.perf_counter() >= deadline or not await store.outbox.pending_count():
                break
            await asyncio.sleep(0.05)
    finally:
        sender.stop()
        await task


async def send_by_drain(sender: OutboxSender, store: Store, bound: float) -> None:
    """`OutboxSender.drain` again and again (the tests' mode) until every row is final
    or `bound` seconds have passed."""
    deadline = time.perf_counter() + bound
    while time.perf_counter() < deadline:
        await sender.drain()
        if not await store.outbox.pending_count():
            break
        await asyncio.sleep(0.01)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-mixed-"))
    async with AsyncExitStack() as stack:
        store = await Store.open(tmp / "gateway.db")
        stack.push_async_callback(store.close)
        expected = await seed(store, args.recipients)
        smsc = SmscSimulator(host="127.0.0.1", port=0, system_id="gw", password="pw",
                             default_to="5555")
        await smsc.start()
        stack.push_async_callback(smsc.stop)
        tg = await stack.enter_async_context(FakeTelegram(keep_calls=False))
        mx = await stack.enter_async_context(FakeMax(keep_calls=False))
        relay = await stack.enter_async_context(RelaySink())
        channels: dict[str, Timed] = {
            "sms": Timed(SmsChannel(
                SmppSettings(port=smsc.port, system_id="gw", password=SecretStr("pw"),
                             tps=args.sms_tps, simulator=False),
                tmp / "fragments.db")),
            "telegram": Timed(TelegramChannel(TelegramSettings(
                enabled=True, token=SecretStr(tg.token), api_base=tg.base_url))),
            "max": Timed(MaxChannel(MaxSettings(
                enabled=True, token=SecretStr(mx.token), api_base=mx.base_url))),
            "email": Timed(EmailChannel(EmailSettings(
                enabled=True, address="info@retailer.example", listen_port=0,
                smtp_host="127.0.0.1", smtp_port=relay.port, smtp_starttls=False,
                rate=EMAIL_RATE), company="ЭнергоСбыт")),
        }
        tz = ZoneInfo("Europe/Moscow")
        notes = Notifications(store, NoticeConfig(
            tz=tz, company="ЭнергоСбыт",
            quiet=QuietHours(datetime.min.time(), datetime.min.time(), tz),
            confirm_above=10**9, telegram=True,
            running=frozenset({"telegram", "max", "email"}),
        ))
        now = datetime.now(tz)
        started = time.perf_counter()
        report = await notes.outage(
            OutageRequest(settlement="г. Сыктывкар", reason="авария на подстанции",
                          start=now, until=now + timedelta(hours=6)),
            yes=True,
        )
        build = time.perf_counter() - started
        limiter = ChannelLimits.from_rates(
            sms_tps=args.sms_tps, telegram_rate=TELEGRAM_RATE, telegram_chat_rate=1,
            max_rate=MAX_RATE, email_rate=EMAIL_RATE,
        )
        sender = OutboxSender(store.outbox, store.contacts, dict(channels),
                              templates=CampaignRepo(store.db), limiter=limiter)
        for channel in channels.values():
            await channel.start(_no_inbound, sender.on_report)
            stack.push_async_callback(channel.stop)
        started = time.perf_counter()
        if args.mode == "run":
            await send_as_the_service(sender, store, args.max_seconds)
        else:
            await send_by_drain(sender, store, args.max_seconds)
        drain = time.perf_counter() - started
        sent = sum(len(channel.times) for channel in channels.values())
        rows = await store.db.fetchall(
            "SELECT phone, count(*) AS n FROM outbox WHERE campaign_id = ? GROUP BY phone",
            (report.campaign,),
        )
        once = len(rows) == args.recipients and all(int(r["n"]) == 1 for r in rows)
        limits = {"sms": args.sms_tps, "telegram": TELEGRAM_RATE, "max": MAX_RATE,
                  "email": EMAIL_RATE}
        per_channel = {}
        sms_times = channels["sms"].times
        for name, channel in channels.items():
            times = channel.times
            span = (times[-1] - times[0]) if len(times) > 1 else 0.0
            # The rate while SMS was being sent too (the SMSC's pace must not slow it).
            during = [t for t in times if sms_times and sms_times[0] <= t <= sms_times[-1]]
            busy = (during[-1] - during[0]) if len(during) > 1 else 0.0
            per_channel[name] = {
                "sent": len(times),
                "rate_per_second": round((len(times) - 1) / span, 1) if span else None,
                "rate_while_sms_sends": round((len(during) - 1) / busy, 1) if busy else None,
                "peak_in_one_second": peak_per_second(times),
                "peak_calls_in_one_second": peak_per_second(channel.calls),
                "limit": limits[name],
            }
        delivered = {
            "sms_parts_at_smsc": len(smsc.submitted),
            "max_fake": mx.counts.get("POST /messages", 0),
            "relay": len(relay.received),
        }
    return {
        "mode": args.mode,
        "recipients": report.recipients,
        "by_channel": report.as_json()["by_channel"],
        "expected_by_channel": expected,
        "build_seconds": round(build, 2),
        "send_seconds": round(drain, 1),
        "messages_sent": sent,
        "each_person_once": once,
        "channels": per_channel,
        "peers": delivered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--sms-tps", type=float, default=100.0)
    parser.add_argument("--mode", choices=("run", "drain"), default="run",
                        help="run: the service loop (default); drain: the tests' mode")
    parser.add_argument("--max-seconds", type=float, default=600.0,
                        help="bound on the send phase")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
