"""Fixtures for notification tests: a real SQLite store in tmp_path, fake channels that
implement the `bot.core.Channel` port, and registry seeding by plain SQL."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core import ChannelName, OnInbound, OnReport, Outbound, SendResult
from storage.address import house_key, settlement_key, street_key
from storage.db import to_db
from storage.store import Store
from tests.stores import suite_store

MSK = ZoneInfo("Europe/Moscow")
# Tests run «in the future» so rows enqueued with the real clock are already due.
T0 = datetime(2030, 11, 26, 12, 0, tzinfo=MSK)


@dataclass
class FakeChannel:
    """A `Channel` that records what it was asked to send and answers with the results
    a test declares (per address, else in order, else success)."""

    name: ChannelName
    sent: list[Outbound] = field(default_factory=list)
    results: deque[SendResult] = field(default_factory=deque)
    by_address: dict[str, SendResult] = field(default_factory=dict)
    up: bool = True
    _ids: int = 0

    async def start(self, on_inbound: OnInbound, on_report: OnReport) -> None:
        return None

    async def send(self, outbound: Outbound) -> SendResult:
        self.sent.append(outbound)
        if outbound.address in self.by_address:
            return self.by_address[outbound.address]
        if self.results:
            return self.results.popleft()
        self._ids += 1
        return SendResult(message_ids=(f"{self.name.value}-{self._ids}",))

    async def stop(self) -> None:
        return None

    def is_up(self) -> bool:
        return self.up

    @property
    def texts(self) -> list[str]:
        return [o.text for o in self.sent]

    @property
    def addresses(self) -> list[str]:
        return [o.address for o in self.sent]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with suite_store(tmp_path) as opened:
        yield opened


@pytest.fixture
def sms() -> FakeChannel:
    return FakeChannel(ChannelName.SMS)


@pytest.fixture
def telegram() -> FakeChannel:
    return FakeChannel(ChannelName.TELEGRAM)


async def add_account(
    store: Store,
    number: str,
    phones: Iterable[str],
    *,
    settlement: str = "Сыктывкар",
    street: str = "Комарова",
    house: str = "1",
    balance: str = "0",
) -> None:
    now = to_db(datetime.now(UTC))
    await store.db.execute(
        "INSERT INTO accounts (number, holder, settlement, street, house, settlement_key,"
        " street_key, house_key, balance, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (number, "Иванов И.", settlement, street, house, settlement_key(settlement),
         street_key(street), house_key(house), balance, now),
    )
    for phone in phones:
        await store.db.execute(
            "INSERT INTO account_phones (account, phone) VALUES (?, ?)", (number, phone)
        )


async def add_street(store: Store, count: int, *, first: int, phone: str) -> None:
    """`count` accounts on Ухта, Мира (houses 1–40), numbered from `first`, each with one
    phone `phone` + seven digits (crash tests and benchmarks: plain SQL, fast)."""
    now = to_db(datetime.now(UTC))
    await store.db.executemany(
        "INSERT INTO accounts (number, settlement, street, house, settlement_key,"
        " street_key, house_key, updated_at) VALUES (?, 'Ухта', 'Мира', ?, 'ухта',"
        " 'мира', ?, ?)",
        [(f"{first + i}", str(i % 40 + 1), str(i % 40 + 1), now) for i in range(count)],
    )
    await store.db.executemany(
        "INSERT INTO account_phones (account, phone) VALUES (?, ?)",
        [(f"{first + i}", f"{phone}{i:07d}") for i in range(count)],
    )


async def link_telegram(store: Store, user_id: int, phone: str) -> int:
    contact = await store.contacts.resolve("telegram", str(user_id))
    await store.contacts.verify_phone(contact.id, phone, "contact")
    return contact.id


async def sms_contact(store: Store, phone: str, *, opted_out: bool = False) -> int:
    contact = await store.contacts.resolve("sms", phone, phone=phone, verified_by="sms")
    if opted_out:
        await store.contacts.set_opted_out(contact.id, True)
    return contact.id


async def statuses(store: Store) -> dict[int, str]:
    rows = await store.db.fetchall("SELECT id, status FROM outbox ORDER BY id")
    return {int(r["id"]): str(r["status"]) for r in rows}
