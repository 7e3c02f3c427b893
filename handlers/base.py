"""What handlers receive and return. Handlers know nothing of channels: they get a
`Context`, return an `Outcome` of `Reply` values, and the engine delivers them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from storage.models import Contact, ConversationKey, ConversationState

ReplyKind = Literal["reply", "notice"]


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a reply goes when it is not the conversation it answers (an SMS code sent
    to the phone on an account, say)."""

    channel: str
    address: str


@dataclass(frozen=True, slots=True)
class Reply:
    """A message to the customer. `choices` are (label, data) rows of buttons where the
    channel has them (Telegram); the text must stand alone without them (SMS)."""

    text: str
    choices: tuple[tuple[tuple[str, str], ...], ...] = ()
    request_contact: bool = False
    to: Recipient | None = None


@dataclass(frozen=True, slots=True)
class SharedPhone:
    """A phone number shared through the channel (Telegram «share contact»)."""

    phone: str | None  # E.164, None when it could not be read
    own: bool  # True when the user shared their own contact (contact.user_id == from.id)


@dataclass(frozen=True, slots=True)
class Context:
    """One inbound message as handlers see it."""

    key: ConversationKey
    contact: Contact
    text: str
    now: datetime
    # SMS: the number the customer wrote to (replies come from it)
    to: str | None = None
    inbound_id: int | None = None
    shared: SharedPhone | None = None
    is_callback: bool = False
    media: str | None = None  # sticker, photo, voice…: something that is not text
    state: ConversationState | None = None
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def channel(self) -> str:
        return self.key.channel

    @property
    def is_sms(self) -> bool:
        return self.key.channel == "sms"

    @property
    def has_buttons(self) -> bool:
        """The messengers (Telegram, MAX): replies may carry inline buttons and the
        «share my phone number» button; other channels' texts must stand alone."""
        return self.key.channel in ("telegram", "max")

    @property
    def sender_label(self) -> str:
        """How the export names the sender: E.164 for SMS, `telegram:<id>` for Telegram,
        `max:<id>` for MAX, the address for e-mail (docs/interfaces.md §4, §14)."""
        if self.key.channel in ("telegram", "max"):
            return f"{self.key.channel}:{self.key.address}"
        if self.key.channel == "email":
            return self.key.address
        if self.contact.phone:
            return self.contact.phone
        return f"{self.key.channel}:{self.key.address}"


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = _Keep()
"""`Outcome.state = KEEP`: leave the conversation state as it was."""


InboxKind = Literal["unrecognised", "handover", "appeal"]


@dataclass(frozen=True, slots=True)
class InboxNote:
    """A handler's word that the message needs a person (docs/interfaces.md §12): the
    bot could not act on it (`unrecognised`), the customer asked for a person
    (`handover`), or it is an appeal (with its number and due time). The engine's inbox
    step puts it into the contact's thread and answers with the due time."""

    kind: InboxKind
    appeal_id: int | None = None
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """A handler's answer: replies to send and the conversation state to save
    (`None` clears it, `KEEP` leaves it), and whether the message goes to people."""

    replies: tuple[Reply, ...]
    state: ConversationState | None | _Keep = KEEP
    inbox: InboxNote | None = None

    @classmethod
    def say(cls, text: str, **kwargs: Any) -> Outcome:
        state = kwargs.pop("state", KEEP)
        inbox = kwargs.pop("inbox", None)
        return cls((Reply(text, **kwargs),), state, inbox)


@dataclass(frozen=True, slots=True)
class HandlerConfig:
    """The settings handlers need, handed over by the app (handlers import no `bot`)."""

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Moscow"))
    company: str = "ЭнергоСбыт"
    window_first_day: int = 18
    window_last_day: int = 25
    consumption_cap_kwh: int = 5000
    average_factor: float = 3.0
    account_digits: tuple[int, int] = (8, 12)
    urgent_hours: int = 24
    working_days: int = 3
    codes_per_day: int = 3
    code_ttl_minutes: int = 10
    code_tries: int = 3
    failed_attempts_per_hour: int = 5
    unlinked_readings_per_hour: int = 5
    unlinked_accounts_per_day: int = 3
    unlinked_per_account_per_day: int = 10
    offices_file: str | None = None
    # [staff]: when people answer the inbox (docs/interfaces.md §12)
    working_hours: tuple[time, time] = (time(9), time(18))
    answer_within_hours: int = 4
    attachment_max_mb: int = 10
