"""A small registry and a conversation driver over the real engine, parser and store.

The registry rows are inserted with SQL (the import module is not what is tested here).
Times: 2026-11-20 10:00 Moscow is inside the reading window (18th–25th).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core import ChannelName, Inbound, SharedContact
from bot.engine import ConversationEngine
from handlers.base import HandlerConfig
from handlers.dispatch import Handlers
from parsers import parse
from storage.db import to_db
from storage.store import Store
from tests.stores import suite_store

IN_WINDOW = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # 10:00 in Moscow

P1 = "+79121234567"  # one account, one one-zone meter
P2 = "+79120000002"  # one account with a two-zone meter
P3 = "+79120000003"  # two accounts
P4 = "+79120000004"  # one account with two meters
P5 = "+79120000005"  # a meter about to roll over
STRANGER = "+79990000000"  # on no account

# account, phones, settlement, street, house, balance, meters
# meter: serial, zones, digits, last values, last date
REGISTRY = [
    ("1234567890", [P1], "г. Сыктывкар", "ул. Ленина", "31", "1234.50",
     [("011234567", 1, 5, ["4500"], "2026-10-20")]),
    ("0012345678", [P2], "Сыктывкар", "Комарова", "5", "-100",
     [("M2", 2, 6, ["4500", "1800"], "2026-10-22")]),
    ("2000000001", [P3], "Ухта", "Ленина", "10", "0",
     [("S1", 1, 5, ["1000"], "2026-10-20")]),
    ("2000000002", [P3], "Ухта", "Мира", "2", "50",
     [("S3", 3, 6, ["1200", "900", "2300"], "2026-10-20")]),
    ("3000000001", [P4], "Сыктывкар", "Мира", "7", "0",
     [("7723001", 1, 5, ["5000"], "2026-10-20"), ("7723002", 2, 5, ["100", "50"], "2026-10-20")]),
    ("4000000001", [P5], "Печора", "Гагарина", "1", "0",
     [("R1", 1, 4, ["9950"], "2026-10-20")]),
    ("5000000001", [], "Инта", "Горького", "3", "0",
     [("N1", 1, 5, ["300"], "2026-10-20")]),
]  # fmt: skip


async def load_registry(store: Store) -> None:
    now = to_db(IN_WINDOW)
    db = store.db
    for number, phones, settlement, street, house, balance, meters in REGISTRY:
        await db.execute(
            "INSERT INTO accounts (number, holder, settlement, street, house, balance,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (number, "Иванов И. И.", settlement, street, house, balance, now),
        )
        for phone in phones:
            await db.execute(
                "INSERT INTO account_phones (account, phone) VALUES (?, ?)", (number, phone)
            )
        for serial, zones, digits, last, last_date in meters:
            values = [*last, None, None, None][:3]
            await db.execute(
                "INSERT INTO meters (account, serial, zones, digits, last_t1, last_t2, last_t3,"
                " last_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (number, serial, zones, digits, *values, last_date),
            )


@dataclass
class Said:
    """What one message got back: every new reply to the sender (and elsewhere)."""

    texts: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


class Conversation:
    """Sends messages through the engine as SMS or Telegram senders and returns the new
    replies. A sender is a phone («+7…», SMS) or «tg:<user id>» (Telegram)."""

    def __init__(self, store: Store, engine: ConversationEngine) -> None:
        self.store = store
        self.engine = engine
        self._ids = itertools.count(1)
        self._seen: dict[tuple[str, str], int] = {}

    @staticmethod
    def _where(sender: str) -> tuple[ChannelName, str]:
        if sender.startswith("tg:"):
            return ChannelName.TELEGRAM, sender[3:]
        return ChannelName.SMS, sender

    async def send(
        self,
        sender: str,
        text: str,
        at: datetime = IN_WINDOW,
        *,
        contact: SharedContact | None = None,
        media: str | None = None,
        callback: bool = False,
    ) -> Said:
        channel, address = self._where(sender)
        inbound = Inbound(
            channel=channel,
            address=address,
            text=text,
            external_id=f"m{next(self._ids)}",
            received_at=at,
            to="7555" if channel is ChannelName.SMS else None,
            user_id=int(address) if channel is ChannelName.TELEGRAM else None,
            contact=contact,
            is_callback=callback,
            meta={"media": media} if media else {},
        )
        await self.engine.accept(inbound)
        await self.engine.drain(10)
        return Said(await self.new_for(channel.value, address))

    async def new_for(self, channel: str, address: str) -> list[str]:
        texts = await self.store.outbox.sent_to(channel, address)
        seen = self._seen.get((channel, address), 0)
        self._seen[(channel, address)] = len(texts)
        return texts[seen:]

    async def exported(self) -> set[tuple[str, str, str, str, str]]:
        rows = await self.store.readings.export_rows(None, include_console=True)
        return {(r.account, r.meter_serial, r.zone, str(r.value), r.period) for r in rows}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with suite_store(tmp_path) as opened:
        await load_registry(opened)
        yield opened


@pytest.fixture
def config() -> HandlerConfig:
    return HandlerConfig()


@pytest.fixture
async def talk(store: Store, config: HandlerConfig) -> AsyncIterator[Conversation]:
    engine = ConversationEngine(store, Handlers(store, config), parse)
    yield Conversation(store, engine)
    await engine.close()
