"""The parse result: what a customer's text asks for (docs/interfaces.md §5).

`Intent` is owned here and used, never copied, by handlers and the engine.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_serializer

Zone = Literal["T1", "T2", "T3"]
IntentKind = Literal["readings", "command", "appeal", "unknown"]
Command = Literal[
    "help",
    "balance",
    "stop",
    "start",
    "status",
    "offices",
    "yes",
    "no",
    "unchanged",
    "operator",
    "notify",
]
# The channel a person chooses for notices («уведомления в MAX»), with `notify`.
NotifyChannel = Literal["sms", "telegram", "max", "email"]
AppealCategory = Literal[
    "outage",
    "power_quality",
    "billing",
    "payment",
    "meter",
    "contract",
    "service_complaint",
    "other",
]
APPEAL_CATEGORIES: tuple[AppealCategory, ...] = (
    "outage",
    "power_quality",
    "billing",
    "payment",
    "meter",
    "contract",
    "service_complaint",
    "other",
)


class ParsedReading(BaseModel):
    """One value as written: the meter it names (serial or ordinal), its zone, the value."""

    model_config = ConfigDict(frozen=True)

    meter: str | None = None
    zone: Zone | None = None
    value: Decimal

    @field_serializer("value")
    def _value(self, value: Decimal) -> str:
        return format_decimal(value)


class Intent(BaseModel):
    """The parse of one message. Field order is the JSON order of `gateway parse`."""

    model_config = ConfigDict(frozen=True)

    text: str
    intent: IntentKind = "unknown"
    account: str | None = None
    readings: tuple[ParsedReading, ...] = ()
    command: Command | None = None
    ticket: str | None = None
    appeal_category: AppealCategory | None = None
    # Only with command == "notify": the channel the person chose.
    notify_channel: NotifyChannel | None = None
    # Not part of the contract's JSON: why the parser said less (for logs and tests).
    error: str | None = None


def format_decimal(value: Decimal) -> str:
    """A reading as the contract prints it: plain digits, no exponent, no leading zeros,
    no trailing fractional zeros («04521» → "4521", «4521,70» → "4521.7")."""
    if value == value.to_integral_value():
        return format(value.quantize(Decimal(1)), "f")
    return format(value.normalize(), "f")
