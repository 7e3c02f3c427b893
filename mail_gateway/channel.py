"""The e-mail channel: `Channel` over SMTP both ways.

Inbound: an SMTP server (aiosmtpd) on `[email] listen_host:listen_port`, to which the
company mail server relays our address. Only our address is accepted as a recipient
(550 otherwise); a mail over `max_mb` gets 552 from aiosmtpd before anything is stored;
a mail is handed to the gateway (the inbound journal) before the 250 goes back, so a
crash loses nothing, and a redelivery of the same Message-ID is recognised there.
Automatic mail (auto-replies, bounces, lists, our own) is accepted and never answered:
answering it starts mail loops.

Outbound: one connection to the company relay (aiosmtplib), paced at `rate` mails a
second, at most `answers_per_hour` mails to one address an hour (a loop with an
auto-responder that marks nothing stops there), relay answers mapped to declared
outcomes (4xx retryable, 5xx not).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session

from bot.core import (
    ChannelName,
    Inbound,
    OnInbound,
    OnReport,
    Outbound,
    SendErrorKind,
    SendResult,
    mask_email,
)
from bot.settings import EmailSettings
from mail_gateway.compose import Thread, compose, new_message_id
from mail_gateway.mime import Mail, Unreadable, read_mail

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_HOUR = 3600.0
# Senders remembered for the hourly limit before the oldest are forgotten (memory bound).
_MAX_TRACKED = 50_000


class _Inbound:
    """aiosmtpd's handler: the hooks it calls for RCPT and DATA."""

    def __init__(self, channel: EmailChannel) -> None:
        self.channel = channel

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.strip().lower() != self.channel.settings.address:
            return "550 5.1.1 No such recipient here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        return await self.channel.receive(raw, envelope.mail_from or "")


class EmailChannel:
    """E-mail behind the `Channel` port (docs/interfaces.md §14)."""

    name = ChannelName.EMAIL

    def __init__(self, settings: EmailSettings, *, company: str = "") -> None:
        self.settings = settings
        self.company = company
        self.port = settings.listen_port
        self._server: asyncio.Server | None = None
        self._on_inbound: OnInbound | None = None
        self._client: aiosmtplib.SMTP | None = None
        self._send_lock = asyncio.Lock()
        self._next_send = 0.0
        self._sent: dict[str, deque[float]] = {}
        self._relay_down = False

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, on_inbound: OnInbound, on_report: OnReport) -> None:
        self._on_inbound = on_inbound
        # aiosmtpd logs every SMTP command, addresses included, at INFO: personal data
        # stays out of our logs (docs/architecture.md, Personal data); its warnings still show.
        logging.getLogger("mail.log").setLevel(max(logging.WARNING, log.getEffectiveLevel()))
        loop = asyncio.get_running_loop()
        s = self.settings
        domain = s.address.rpartition("@")[2] or "localhost"

        def protocol() -> SMTP:
            return SMTP(
                _Inbound(self),
                data_size_limit=int(s.max_mb * 1024 * 1024),
                enable_SMTPUTF8=True,
                hostname=domain,
                ident="sbyt-gateway",
                loop=loop,
            )

        self._server = await loop.create_server(protocol, s.listen_host, s.listen_port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("email: listening for relayed mail on %s:%s", s.listen_host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self._disconnect()

    def is_up(self) -> bool:
        return self._server is not None and self._server.is_serving() and not self._relay_down

    # -- inbound -----------------------------------------------------------------------

    async def receive(self, raw: bytes, mail_from: str) -> str:
        """One relayed mail → the journal; returns the SMTP answer to give."""
        s = self.settings
        read = read_mail(
            raw, mail_from=mail_from, our_address=s.address, authserv_id=s.authserv_id
        )
        if read.auto is not None:
            # Accepted (the relay must not bounce a bounce) and never answered.
            log.info(
                "email: %s from %s is automatic (%s); not answered",
                read.message_id, mask_email(read.sender), read.auto,
            )
            return "250 2.0.0 OK"
        if isinstance(read, Unreadable) and read.sender is None:
            log.warning("email: refused mail %s: %s", read.message_id, read.reason)
            return f"554 5.6.0 Message not accepted: {read.reason}"
        inbound = _inbound(read)
        assert self._on_inbound is not None
        try:
            new = await self._on_inbound(inbound)
        except Exception:
            log.exception("email: could not journal %s", inbound.external_id)
            return "451 4.3.0 Temporary failure, please try again later"
        log.info(
            "email: %s %s from %s (%d chars%s)",
            "received" if new else "redelivered",
            inbound.external_id,
            mask_email(inbound.address),
            len(inbound.text),
            ", unreadable" if isinstance(read, Unreadable) else "",
        )
        return "250 2.0.0 OK"

    # -- outbound ----------------------------------------------------------------------

    async def send(self, outbound: Outbound) -> SendResult:
        now = datetime.now(UTC)
        if outbound.valid_until is not None and outbound.valid_until <= now:
            return SendResult.failed(SendErrorKind.EXPIRED, "validity passed")
        to = outbound.address.strip()
        if not _ADDRESS.match(to):
            return SendResult.failed(SendErrorKind.INVALID_ADDRESS, "not an e-mail address")
        thread = Thread.decode(outbound.thread)
        if not self._within_hourly_limit(to.lower()):
            # An answer in a flood is dropped (a loop must end); a notice waits.
            kind = SendErrorKind.REJECTED if thread else SendErrorKind.THROTTLED
            return SendResult.failed(kind, "hourly limit per address", retry_after=_HOUR / 4)
        message_id = new_message_id(self.settings.address)
        msg = compose(
            sender=self.settings.address,
            to=to,
            text=outbound.text,
            thread=thread,
            message_id=message_id,
            now=now,
            company=self.company,
        )
        result = await self._deliver(msg, to)
        if result.ok:
            self._count(to.lower())
            return SendResult(message_ids=(message_id,))
        return result

    async def _deliver(self, msg: EmailMessage, to: str) -> SendResult:
        async with self._send_lock:
            await self._pace()
            try:
                client = await self._connect()
                await client.send_message(msg, sender=self.settings.address, recipients=[to])
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refused = exc.recipients[0] if exc.recipients else None
                code = refused.code if refused is not None else 550
                return _refusal(code, refused.message if refused else "refused")
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code == 421:
                    await self._disconnect()
                    return self._down(f"relay closing: {exc.code}")
                return _refusal(exc.code, exc.message)
            except (aiosmtplib.SMTPException, OSError) as exc:
                await self._disconnect()
                return self._down(type(exc).__name__)
        self._relay_down = False
        return SendResult()

    def _down(self, detail: str) -> SendResult:
        self._relay_down = True
        log.warning("email: relay %s:%s unreachable (%s)",
                    self.settings.smtp_host, self.settings.smtp_port, detail)
        return SendResult.failed(SendErrorKind.CONNECTION, detail)

    async def _connect(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        s = self.settings
        password = s.smtp_password.get_secret_value()
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username or None,
            password=password if s.smtp_username else None,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout,
            local_hostname=s.address.rpartition("@")[2] or None,
        )
        await client.connect()
        self._client = client
        return client

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    async def _pace(self) -> None:
        """At most `rate` mails a second to the relay."""
        now = time.monotonic()
        wait = self._next_send - now
        if wait > 0:
            await asyncio.sleep(wait)
        self._next_send = max(now, self._next_send) + 1.0 / self.settings.rate

    def _within_hourly_limit(self, address: str) -> bool:
        times = self._sent.get(address)
        if times is None:
            return True
        cutoff = time.monotonic() - _HOUR
        while times and times[0] < cutoff:
            times.popleft()
        return len(times) < self.settings.answers_per_hour

    def _count(self, address: str) -> None:
        if address not in self._sent and len(self._sent) >= _MAX_TRACKED:
            self._sent.pop(next(iter(self._sent)))
        self._sent.setdefault(address, deque()).append(time.monotonic())


def _refusal(code: int, message: str) -> SendResult:
    """A relay's answer → a declared outcome: 4xx is temporary, 5xx final (RFC 5321
    §4.2.1); a refused mailbox (550/551/553, 5.1.x) is a bad address."""
    detail = f"{code} {' '.join(message.split())[:200]}"
    if 400 <= code < 500:
        kind = SendErrorKind.THROTTLED if code in (450, 451, 452) else SendErrorKind.TEMPORARY
        return SendResult.failed(kind, detail)
    if code in (550, 551, 553) or " 5.1." in f" {message}":
        return SendResult.failed(SendErrorKind.INVALID_ADDRESS, detail)
    return SendResult.failed(SendErrorKind.REJECTED, detail)


def _inbound(read: Mail | Unreadable) -> Inbound:
    received = datetime.now(UTC)
    if isinstance(read, Unreadable):
        assert read.sender is not None
        return Inbound(
            channel=ChannelName.EMAIL,
            address=read.sender,
            text="",
            external_id=read.message_id,
            received_at=received,
            to=Thread(read.message_id).encode(),
            meta={"media": "unreadable mail", "error": read.reason},
        )
    meta: dict[str, Any] = {"subject": read.subject[:200]}
    if read.authenticated:
        meta["authenticated"] = "dmarc"
    if read.attachments:
        meta["attachments"] = " | ".join(read.attachments)[:1000]
        meta["media"] = "attachment"
    return Inbound(
        channel=ChannelName.EMAIL,
        address=read.sender,
        text=read.text,
        external_id=read.message_id,
        received_at=received,
        to=Thread(read.message_id, read.subject, read.references).encode(),
        meta=meta,
    )
