"""Plain records returned by the repositories. Owned here; other packages use them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

ZoneName = Literal["T1", "T2", "T3"]
ZONES: tuple[ZoneName, ...] = ("T1", "T2", "T3")


@dataclass(frozen=True, slots=True)
class Meter:
    account: str
    serial: str
    zones: int
    digits: int
    # billing's last reading per zone (T1..Tzones), None where billing has none
    last: dict[str, Decimal | None] = field(default_factory=dict)
    last_date: date | None = None

    @property
    def zone_names(self) -> tuple[ZoneName, ...]:
        return ZONES[: self.zones]


@dataclass(frozen=True, slots=True)
class Account:
    number: str
    holder: str
    settlement: str
    street: str
    house: str
    apartment: str
    balance: Decimal
    segment: str = "household"
    phones: tuple[str, ...] = ()
    meters: tuple[Meter, ...] = ()

    @property
    def address(self) -> str:
        parts = [self.settlement, self.street]
        house = f"д. {self.house}" if self.house else ""
        flat = f"кв. {self.apartment}" if self.apartment else ""
        return ", ".join(p for p in (*parts, house, flat) if p)


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    channel: str
    address: str
    phone: str | None
    verified_by: str | None
    blocked: bool
    opted_out: bool
    display_name: str | None = None
    # An e-mail address our relay vouches for in the message being handled (dmarc=pass).
    # Set per message by the engine, never stored: the next mail may be forged.
    email: str | None = None

    @property
    def is_verified(self) -> bool:
        """True when `phone` is proven to belong to this contact (SMS sender, shared own
        contact, or an SMS code)."""
        return self.phone is not None and self.verified_by is not None


@dataclass(frozen=True, slots=True)
class ReadingRecord:
    id: int
    account: str
    meter_serial: str
    zone: ZoneName
    value: Decimal
    period: str
    channel: str
    sender: str
    received_at: datetime
    status: str
    linked: bool = True  # sent by a contact linked to the account
    entered_by: str | None = None  # a staff login when a person typed it for the customer


@dataclass(frozen=True, slots=True)
class NewReading:
    account: str
    meter_serial: str
    zone: ZoneName
    value: Decimal
    period: str
    channel: str
    sender: str
    received_at: datetime
    status: Literal["accepted", "pending"] = "accepted"
    inbound_id: int | None = None
    linked: bool = True
    entered_by: str | None = None


@dataclass(frozen=True, slots=True)
class UnlinkedSubmission:
    """Readings sent for an account by a sender not linked to it (docs/architecture.md
    «Identification»): what the probing limits count and what staff check."""

    channel: str
    address: str
    sender: str
    account: str
    text: str
    outcome: Literal["accepted", "held", "limited"]
    reason: str
    received_at: datetime
    inbound_id: int | None = None


@dataclass(frozen=True, slots=True)
class ConversationState:
    kind: str
    data: dict[str, Any]
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    id: int
    channel: str
    external_id: str
    payload: str
    received_at: datetime
    processed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Appeal:
    id: int
    contact_id: int
    channel: str
    address: str
    reply_source: str | None
    account: str | None
    category: str
    text: str
    status: str
    created_at: datetime
    due_at: datetime
    answered_at: datetime | None
    answer: str | None
    repeats: int
    outage_id: int | None


@dataclass(frozen=True, slots=True)
class Outage:
    id: int
    settlement: str
    street: str
    houses: str
    reason: str
    start_at: datetime
    until_at: datetime
    planned: bool
    status: str
    campaign_id: int | None = None
    restored_campaign_id: int | None = None
    restored_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    channel: str
    address: str
    payload: str
    priority: int
    status: str
    attempts: int
    campaign_id: int | None
    valid_until: datetime | None
    account: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """One conversation: a channel and the sender's address on it (SMS and Telegram
    share the engine; the key keeps their states apart)."""

    channel: str
    address: str
