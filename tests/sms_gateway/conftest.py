"""Fixtures: a real SMSC simulator on an ephemeral loopback port and an SmsChannel bound
to it, with a fake journal that de-duplicates like the real one (channel + external_id)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from pydantic import SecretStr

from bot.core import DeliveryReport, Inbound
from bot.settings import SmppSettings
from sms_gateway.channel import SmsChannel
from sms_gateway.fragments import MemoryFragmentStore
from sms_gateway.simulator import SmscSimulator

PASSWORD = "s3cr3tpw"


@dataclass
class Journal:
    """Stands in for the inbound journal: stores, dedups on external_id, records
    reports. `fail_next` makes the next store raise (storage down)."""

    inbound: list[Inbound] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    reports: list[DeliveryReport] = field(default_factory=list)
    fail_next: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_inbound(self, message: Inbound) -> bool:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("journal unavailable")
        new = message.external_id not in self.ids
        if new:
            self.ids.add(message.external_id)
            self.inbound.append(message)
        self._bump()
        return new

    async def on_report(self, report: DeliveryReport) -> None:
        self.reports.append(report)
        self._bump()

    def _bump(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    async def wait(self, predicate: object, within: float = 10.0) -> None:
        """Wait until predicate() is true (bounded)."""
        assert callable(predicate)

        async def loop() -> None:
            while not predicate():
                await self.changed.wait()

        await asyncio.wait_for(loop(), within)


def smpp_settings(port: int, **overrides: object) -> SmppSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "system_id": "gateway",
        "password": SecretStr(PASSWORD),
        "source_addr": "7555",
        "tps": 1000,
        "window": 10,
        "enquire_link_interval": 30,
        "response_timeout": 2,
        "reconnect_max_delay": 0.5,
        "reassembly_timeout": 300,
    }
    values.update(overrides)
    return SmppSettings.model_validate(values)


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    async with SmscSimulator(password=PASSWORD) as simulator:
        yield simulator


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
async def channel(smsc: SmscSimulator, journal: Journal) -> AsyncIterator[SmsChannel]:
    sms = SmsChannel(
        smpp_settings(smsc.port),
        MemoryFragmentStore(),
        send_timeout=10,
        reconnect_min_delay=0.05,
        auth_retry_delay=0.2,
    )
    await sms.start(journal.on_inbound, journal.on_report)
    assert sms.is_up()
    try:
        yield sms
    finally:
        await sms.stop()
