"""A company mail relay for tests: a real aiosmtpd server on loopback that keeps what it
receives and can be told to refuse (4xx/5xx), like a real relay would."""

from __future__ import annotations

import asyncio
import email
import email.policy
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class RelaySink:
    """`async with RelaySink() as relay:` → `relay.port`, `relay.received`."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        # The next answers to DATA (e.g. "451 4.7.1 Try later"); empty: 250.
        self.refuse: list[str] = []
        self.logins: list[tuple[str, str]] = []
        self._server: asyncio.Server | None = None
        self._arrived = asyncio.Event()
        self.port = 0

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.refuse:
            return self.refuse.pop(0)
        msg = email.message_from_bytes(envelope.original_content or b"",
                                       policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.received.append(msg)
        self.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos)))
        self._arrived.set()
        return "250 2.0.0 queued"

    async def __aenter__(self) -> RelaySink:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="relay.test", loop=loop), "127.0.0.1", 0
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def wait_for(self, done: Callable[[], bool], within: float = 10.0) -> None:
        """Wait until `done()` holds (each arrival re-checks); bounded by `within`."""
        async with asyncio.timeout(within):
            while not done():
                self._arrived.clear()
                await self._arrived.wait()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if address in str(m["To"])]


def body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).strip()  # type: ignore[attr-defined]


async def smtp_send(port: int, raw: bytes | str, *, mail_from: str, to: list[str]) -> Any:
    """Deliver one message the way the company mail server relays it: Python's smtplib
    in a worker thread (a real SMTP client over a real socket). Returns sendmail's
    refused-recipients dict; raises smtplib's errors."""

    def deliver() -> Any:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            return client.sendmail(mail_from, to, raw)

    return await asyncio.to_thread(deliver)
