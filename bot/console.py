"""The console channel: `gateway chat` talks to the engine through it, on the same code
path as SMS and Telegram (journal → engine → outbox → sender → channel)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from bot.core import (
    ChannelName,
    Inbound,
    OnInbound,
    OnReport,
    Outbound,
    SendErrorKind,
    SendResult,
)


class ConsoleChannel:
    """Prints what the gateway sends; `say()` hands typed text to the engine."""

    name = ChannelName.CONSOLE

    def __init__(
        self,
        address: str,
        *,
        out: TextIO | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.address = address
        self.out = out or sys.stdout
        self.clock = clock or (lambda: datetime.now(UTC))
        self._on_inbound: OnInbound | None = None
        self._ids = itertools.count(1)
        self._session = f"{int(datetime.now(UTC).timestamp() * 1000)}"
        self.sent: list[Outbound] = []

    async def start(self, on_inbound: OnInbound, on_report: OnReport) -> None:
        self._on_inbound = on_inbound

    async def stop(self) -> None:
        self._on_inbound = None

    def is_up(self) -> bool:
        return self._on_inbound is not None

    async def say(self, text: str) -> bool:
        """Hand one typed message to the gateway; True when it was journaled as new."""
        if self._on_inbound is None:
            raise RuntimeError("console channel is not started")
        inbound = Inbound(
            channel=ChannelName.CONSOLE,
            address=self.address,
            text=text,
            external_id=f"{self._session}-{next(self._ids)}",
            received_at=self.clock(),
        )
        return await self._on_inbound(inbound)

    async def send(self, outbound: Outbound) -> SendResult:
        if outbound.address != self.address:
            # Queued for another console contact (an appeal answer to an earlier chat):
            # printing it here showed one customer's answer to another. It waits.
            return SendResult.failed(
                SendErrorKind.TEMPORARY, "for another console contact", retry_after=1.0
            )
        self.sent.append(outbound)
        lines = [f"<< {outbound.text}"]
        for row in outbound.buttons:
            lines.append("   " + "  ".join(f"[{b.text} → {b.data}]" for b in row))
        if outbound.request_contact:
            lines.append("   [📱 поделиться номером: введите свой номер телефона]")
        print("\n".join(lines), file=self.out, flush=True)
        return SendResult(message_ids=(f"console-{next(self._ids)}",))
