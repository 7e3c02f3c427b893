"""A sender process for the crash test: `python -m tests.notifications.crash_worker DB OUT`.

Runs the outbox sender against the SQLite file until nothing is pending, with an SMS
channel that appends the outbox id of every message it is asked to send to OUT (flushed
at once, so a SIGKILL loses no line that was "sent"). Limited to 2 000 messages a
second so that a test can kill it in the middle of a 10 000-recipient campaign.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from bot.core import ChannelName, OnInbound, OnReport, Outbound, SendResult
from notifications.limits import ChannelLimit, ChannelLimits
from notifications.sender import OutboxSender
from storage.campaigns import CampaignRepo
from storage.store import Store

LEASE = timedelta(seconds=1)
BATCH = 200


class FileChannel:
    name = ChannelName.SMS

    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def start(self, on_inbound: OnInbound, on_report: OnReport) -> None:
        return None

    async def send(self, outbound: Outbound) -> SendResult:
        self.out.write(f"{outbound.ref}\n")
        self.out.flush()
        return SendResult(message_ids=(f"m{outbound.ref}",))

    async def stop(self) -> None:
        return None

    def is_up(self) -> bool:
        return True


async def main(db: Path, out_path: Path) -> None:
    async with await Store.open(db) as store:
        with out_path.open("a", encoding="utf-8") as out:
            sender = OutboxSender(
                store.outbox, store.contacts, {"sms": FileChannel(out)},
                lease=LEASE, batch_size=BATCH, templates=CampaignRepo(store.db),
                limiter=ChannelLimits({"sms": ChannelLimit(2000)}, reserve=0.0),
            )
            task = asyncio.create_task(sender.run(poll=0.05))
            while await store.outbox.pending_count():  # noqa: ASYNC110 - polls the DB
                await asyncio.sleep(0.05)
            sender.stop()
            await task


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
