"""Helpers shared by the use cases: who is linked to what, conversation states,
number formatting."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import phonenumbers

from handlers import texts
from handlers.base import Context, Outcome, Reply
from parsers.intent import Intent
from storage.models import Account, Contact, ConversationState
from storage.store import Store

STATE_TTL = timedelta(minutes=30)

# Conversation state kinds (the `kind` column of conversation_state).
CONFIRM_READINGS = "confirm_readings"  # data: ids, account, text, period
CHOOSE_ACCOUNT = "choose_account"  # data: intent, options
CHOOSE_METER = "choose_meter"  # data: intent, account, options
AWAIT_READINGS = "await_readings"  # data: account
LINK_CODE = "link_code"  # data: phone
LINK_OFFER = "link_offer"  # data: phone
APPEAL_TOPIC = "appeal_topic"  # data: category


def state(kind: str, now: datetime, ttl: timedelta = STATE_TTL, **data: Any) -> ConversationState:
    """A conversation state that expires: a question left unanswered for half an hour
    is forgotten, so a later «да» is not taken as its answer."""
    return ConversationState(kind, data, now + ttl)


# Channels whose address is not a phone number: a person there proves a phone on the
# account with a code sent to it by SMS (docs/architecture.md, Identification).
CODE_CHANNELS = frozenset({"telegram", "max", "email"})


async def linked_accounts(store: Store, contact: Contact) -> list[str]:
    """Accounts whose registry phones include the contact's proven phone (an SMS
    sender's own number, a Telegram user's shared own contact or SMS code), or whose
    registry e-mail addresses include the sender's address proven by our relay."""
    numbers: set[str] = set()
    if contact.is_verified and contact.phone is not None:
        numbers.update(await store.registry.accounts_for_phone(contact.phone))
    if contact.email is not None:
        numbers.update(await store.registry.accounts_for_email(contact.email))
    return sorted(numbers)


async def is_linked(store: Store, contact: Contact, account: str) -> bool:
    """May this contact see the account's confidential data (balance, consumption,
    earlier readings, appeal details)?"""
    if contact.email is not None and await store.registry.email_on_account(
        contact.email, account
    ):
        return True
    if not contact.is_verified or contact.phone is None:
        return False
    return await store.registry.phone_on_account(contact.phone, account)


def mask_phone(phone: str) -> str:
    """`+79121234567` → `+7912***4567` (a phone shown to someone who may not own it)."""
    if len(phone) < 8:
        return phone
    return phone[:5] + "***" + phone[-4:]


_PHONE_TEXT = re.compile(r"^[\s+()\-\d.]{10,20}$")


def phone_in_text(text: str, region: str = "RU") -> str | None:
    """A message that is nothing but a phone number → E.164, else None."""
    stripped = text.strip()
    if not _PHONE_TEXT.match(stripped) or sum(ch.isdigit() for ch in stripped) < 10:
        return None
    try:
        number = phonenumbers.parse(stripped, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def fmt_decimal(value: Decimal) -> str:
    """A reading or kWh as Russians write it: «4521», «4521,7»."""
    return format(value, "f").replace(".", ",")


def fmt_money(value: Decimal) -> str:
    """«1 234,50»: roubles with a thin grouping space and kopecks."""
    return f"{abs(value):,.2f}".replace(",", "\u00a0").replace(".", ",")


def fmt_moment(moment: datetime, ctx_tz: Any) -> str:
    """«27.11 10:00» in the service's time zone."""
    return moment.astimezone(ctx_tz).strftime("%d.%m %H:%M")


def choice_reply_options(ctx: Context, labels: list[str]) -> str:
    """«1 — …, 2 — …» for SMS, where there are no buttons."""
    return ", ".join(f"{i} — {label}" for i, label in enumerate(labels, 1))


def pick_option(text: str, options: list[str]) -> str | None:
    """The option the customer chose: its ordinal («2»), the value itself (an account
    number, a meter serial; leading zeros optional), or a button's data."""
    answer = _choice_key(text)
    answer = re.sub(r"^(лс|сч|счет|счёт|вариант)", "", answer)
    if not answer:
        return None
    if answer.isdigit() and len(answer) <= 2 and 1 <= int(answer) <= len(options):
        return options[int(answer) - 1]
    for option in options:
        # The option read like the answer: a serial «M-302» answered «M-302» or «m302»
        # (the answer's dashes were dropped and the option's were not: no match).
        key = _choice_key(option)
        if answer in (key, key.lstrip("0")):
            return option
    return None


def _choice_key(text: str) -> str:
    return re.sub(r"[\s№#.,:;-]+", "", text.strip().lower())


def ask_account(ctx: Context, accounts: list[Account], intent: Intent, *, purpose: str) -> Outcome:
    """Ask which of the phone's accounts is meant, remembering the message so that the
    answer («2», the number, or a button) completes it (state `choose_account`)."""
    options = [a.number for a in accounts]
    data = {"intent": intent.model_dump(mode="json"), "options": options, "purpose": purpose}
    new_state = ConversationState(CHOOSE_ACCOUNT, data, ctx.now + STATE_TTL)
    if ctx.has_buttons:
        rows = tuple(((f"{a.number}, {a.address}"[:60], a.number),) for a in accounts)
        return Outcome((Reply(texts.CHOOSE_ACCOUNT_TG, choices=rows),), new_state)
    return Outcome.say(
        texts.CHOOSE_ACCOUNT.format(options=choice_reply_options(ctx, options)), state=new_state
    )


def yes_no(ctx: Context) -> tuple[tuple[tuple[str, str], ...], ...]:
    """ДА/НЕТ buttons (Telegram); SMS texts say «Ответьте ДА или НЕТ» themselves."""
    if not ctx.has_buttons:
        return ()
    return (((texts.BUTTON_YES, "да"), (texts.BUTTON_NO, "нет")),)
