"""Core types shared by the channels and the engine: envelopes and the `Channel` port.

This is the one module of `bot/` that channel adapters (`sms_gateway/`, the Telegram and
console channels) import. It holds no logic beyond validation: channels turn their
protocol's messages into `Inbound` envelopes and `Outbound` envelopes into protocol
messages, and report what happened as declared values (`SendResult`, `SendError`,
`DeliveryReport`).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ChannelName(enum.StrEnum):
    """Where a message came from or goes to (also the `channel` of exported readings)."""

    SMS = "sms"
    TELEGRAM = "telegram"
    CONSOLE = "console"
    API = "api"
    EMAIL = "email"
    MAX = "max"


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return value


class SharedContact(BaseModel):
    """A phone number shared by a Telegram user (the «share contact» button)."""

    model_config = ConfigDict(frozen=True)

    phone: str
    # Telegram's `contact.user_id`: equal to the sender's id only when the user shared
    # their own contact. Linking requires that equality (docs/architecture.md, Identification).
    user_id: int | None = None
    first_name: str | None = None


class Inbound(BaseModel):
    """A message from a customer, as a channel hands it to the engine.

    `address` identifies the conversation within the channel: the E.164 phone for SMS
    and console-by-phone, the Telegram user id (as a string) for Telegram.
    `external_id` is unique within the channel (SMSC message id or a digest of the
    reassembled parts, Telegram update id) and is what de-duplicates redeliveries.
    """

    model_config = ConfigDict(frozen=True)

    channel: ChannelName
    address: str
    text: str
    external_id: str
    received_at: datetime
    # The channel's reply reference: SMS, the number the customer wrote to (replies are
    # sent from it); e-mail, the thread of the customer's mail (replies thread under it).
    # Opaque to the engine: it comes back in `Outbound.source` / `Outbound.thread`.
    to: str | None = None
    # Telegram: the sender's user id (equals `address` in private chats).
    user_id: int | None = None
    contact: SharedContact | None = None
    # True when the text is the data of a pressed inline button.
    is_callback: bool = False
    # Free-form hints from the channel (e.g. "caption": "1", "edited": "1").
    meta: dict[str, str] = Field(default_factory=dict)

    _aware = field_validator("received_at")(_require_aware)


class Button(BaseModel):
    """An inline button: shown as `text`, comes back as an `Inbound` whose text is `data`."""

    model_config = ConfigDict(frozen=True)

    text: str
    data: str


class Resume(BaseModel):
    """What the submit journal knows of an SMS's earlier try (after a crash or a failed
    part): the concatenation reference its parts carry and the parts the SMSC accepted
    (part number → message id). Only the other parts go again, with the same reference,
    so the phone still joins them into one text."""

    model_config = ConfigDict(frozen=True)

    reference: int
    accepted: dict[int, str] = Field(default_factory=dict)


class Outbound(BaseModel):
    """A message to send. Text is plain (channels escape it for their markup)."""

    model_config = ConfigDict(frozen=True)

    channel: ChannelName
    address: str
    text: str
    # SMS: the source address; None means the channel's default (`[smpp] source_addr`).
    source: str | None = None
    # E-mail: the thread reference of the mail this answers (`Inbound.to`), so the reply
    # keeps the customer's thread after a restart and from any instance.
    thread: str | None = None
    # Rows of inline buttons (Telegram); SMS ignores them (the text must stand alone).
    buttons: tuple[tuple[Button, ...], ...] = ()
    # Telegram: show a reply keyboard with the «share my phone number» button.
    request_contact: bool = False
    # Telegram: hide that keyboard (the number was shared; the button has done its job).
    remove_keyboard: bool = False
    # SMS validity period / drop-after time for notices that must not arrive late.
    valid_until: datetime | None = None
    # The outbox row id, echoed in delivery reports.
    ref: str | None = None
    # A retried SMS: the parts already accepted (see `Resume`).
    resume: Resume | None = None


class SendErrorKind(enum.StrEnum):
    """Named failure cases of a send, shared by every channel."""

    THROTTLED = "throttled"  # SMSC 0x58, Telegram 429: retry later
    CONNECTION = "connection"  # link down or timed out: retry on the next session
    BLOCKED = "blocked"  # the user blocked the bot: fall back to SMS, do not retry
    INVALID_ADDRESS = "invalid_address"  # no such chat / bad destination number
    REJECTED = "rejected"  # the peer refused this message permanently
    EXPIRED = "expired"  # the message is no longer worth sending (validity passed)
    TEMPORARY = "temporary"  # any other error the peer says is temporary


_RETRYABLE = {SendErrorKind.THROTTLED, SendErrorKind.CONNECTION, SendErrorKind.TEMPORARY}


@dataclass(frozen=True, slots=True)
class SendError:
    """A declared send failure; `retryable` tells the outbox whether to try again."""

    kind: SendErrorKind
    detail: str = ""
    # Seconds the peer asked us to wait (Telegram `retry_after`), if it said.
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.kind in _RETRYABLE


@dataclass(frozen=True, slots=True)
class SendResult:
    """Outcome of `Channel.send`: accepted (with the peer's message ids) or an error."""

    message_ids: tuple[str, ...] = ()
    parts: int = 1
    error: SendError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failed(
        cls, kind: SendErrorKind, detail: str = "", retry_after: float | None = None
    ) -> SendResult:
        return cls(error=SendError(kind, detail, retry_after), parts=0)


class DeliveryState(enum.StrEnum):
    """Final or intermediate state reported by the network after a send."""

    DELIVERED = "delivered"
    FAILED = "failed"  # undeliverable, rejected, deleted
    EXPIRED = "expired"
    PENDING = "pending"  # accepted/enroute: not final


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A delivery receipt: the peer's message id and what happened to it."""

    channel: ChannelName
    message_id: str
    state: DeliveryState
    at: datetime
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)


OnInbound = Callable[[Inbound], Awaitable[bool]]
"""Hand an inbound message to the gateway. Returns once the message is durably stored in
the inbound journal (True when new, False for a redelivered duplicate); raises when it
could not be stored, and then the channel must not acknowledge it to its peer."""

OnReport = Callable[[DeliveryReport], Awaitable[None]]
"""Hand a delivery report to the gateway (the outbox updates the message's state)."""


class SubmitJournal(Protocol):
    """Where a channel that sends in parts (SMS) records each part's submit, so that a
    crash re-sends only what was truly in flight (docs/architecture.md, the outbox).
    `ref` is `Outbound.ref` (the outbox row); parts are numbered from 1."""

    async def submitting(self, ref: str, part: int, parts: int, reference: int) -> None:
        """The part is about to go on the wire: returns once that is durably recorded
        (called inside the SMPP window, so at most a window of parts is unanswered)."""
        ...

    def submitted(self, ref: str, part: int, message_id: str | None, unanswered: int) -> None:
        """The peer answered: accepted with `message_id`, or refused (None). `unanswered`
        counts earlier submits of this part that got no answer (the link dropped): the
        recipient may get it twice. Recorded with the journal's next commit, which comes
        before any further part goes on the wire."""
        ...


@runtime_checkable
class Channel(Protocol):
    """A port to one messaging network. SMPP, Telegram and the console implement it.

    Lifecycle: `start` connects and begins delivering inbound messages to `on_inbound`
    (it returns once the channel runs; reconnects are the channel's own business),
    `send` delivers one message and reports the outcome as a value (never raises for a
    network failure), `stop` disconnects cleanly. `is_up` feeds `/healthz`.
    """

    name: ChannelName

    async def start(self, on_inbound: OnInbound, on_report: OnReport) -> None: ...

    async def send(self, outbound: Outbound) -> SendResult: ...

    async def stop(self) -> None: ...

    def is_up(self) -> bool: ...


def reply_route(channel: ChannelName, reference: str | None) -> dict[str, str | None]:
    """The `Outbound` fields that make an answer come back the way the customer wrote:
    an SMS from the number written to, an e-mail in the customer's thread. `reference`
    is the channel's `Inbound.to` (or an appeal's `reply_source`, which keeps it)."""
    if channel is ChannelName.SMS:
        return {"source": reference}
    if channel is ChannelName.EMAIL:
        return {"thread": reference}
    return {}


def mask_email(address: str | None) -> str:
    """Mask an e-mail address for logs: `ivan.petrov@mail.ru` → `i***@mail.ru`."""
    if not address:
        return "-"
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str | None) -> str:
    """Mask a phone number for logs: `+79121234567` → `+7912***4567` (docs/architecture.md). An
    e-mail address (the address of an e-mail conversation) is masked as one."""
    if not phone:
        return "-"
    if "@" in phone:
        return mask_email(phone)
    if len(phone) <= 7:
        return "***"
    return f"{phone[:5]}***{phone[-4:]}"


def mask_name(name: str | None) -> str:
    """Mask a person's name for logs: `Иванов Иван` → `И*** И***`."""
    if not name:
        return "-"
    return " ".join(f"{part[0]}***" for part in name.split() if part)


def normalize_phone(raw: str, region: str = "RU") -> str | None:
    """A phone number in any common notation → E.164 (`+79121234567`), or None.

    SMSCs send MSISDNs without `+` (`79121234567`); customers write `8 912 …`. One
    implementation serves channels, the engine and the registry import.
    """
    from storage.phones import to_e164  # local: keeps `bot.core` import light

    return to_e164(raw, region)
