"""Who may see what (docs/architecture.md, Domain rules: Identification), and subscriptions.

Balance, debt, charges and appeal details go only to a contact linked to the account:
an SMS sender whose phone is on the account, or a Telegram user who proved a phone on
it, by sharing their own contact or by entering a code sent by SMS to that phone.
Failed attempts are counted per sender (`auth_failures`), so account numbers and codes
cannot be guessed in bulk.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from handlers import texts
from handlers.base import KEEP, Context, HandlerConfig, Outcome, Recipient, Reply
from handlers.common import (
    CODE_CHANNELS,
    CONFIRM_READINGS,
    LINK_CODE,
    LINK_OFFER,
    ask_account,
    fmt_money,
    is_linked,
    linked_accounts,
    mask_phone,
    state,
    yes_no,
)
from parsers.intent import Intent
from storage.store import Store

_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)


def hash_code(code: str, salt: str | None = None) -> str:
    """A salted hash of a linking code, as stored in `link_codes.code_hash`."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()
    return f"{salt}${digest}"


def code_matches(stored: str, code: str) -> bool:
    salt, _, _ = stored.partition("$")
    return hmac.compare_digest(stored, hash_code(code, salt))


class IdentityUseCase:
    """Balance, Telegram linking (shared contact, SMS code, unlink), /start and СТОП."""

    def __init__(self, store: Store, config: HandlerConfig) -> None:
        self.store = store
        self.config = config

    # -- rate limit of failures --------------------------------------------------------

    async def _limited(self, ctx: Context) -> bool:
        failures = await self.store.contacts.auth_failures_since(
            ctx.key.channel, ctx.key.address, ctx.now - _HOUR
        )
        return failures >= self.config.failed_attempts_per_hour

    async def _fail(self, ctx: Context) -> None:
        await self.store.contacts.add_auth_failure(ctx.key.channel, ctx.key.address, ctx.now)

    # -- balance -----------------------------------------------------------------------

    async def balance(self, ctx: Context, intent: Intent) -> Outcome:
        """The balance of the named account (only to a linked contact) or of the
        sender's own account; a phone with several accounts is asked which one."""
        if intent.account:
            if await self._limited(ctx):
                return Outcome.say(texts.RATE_LIMITED, state=_still_held(ctx))
            account = await self.store.registry.get_account(intent.account)
            if account is not None and await is_linked(self.store, ctx.contact, account.number):
                text = self._balance_text(account.number, account.balance)
                return Outcome.say(text, state=_still_held(ctx))
            # The same answer whether the account exists or not: no enumeration.
            await self._fail(ctx)
            return self._denied(ctx)
        numbers = await linked_accounts(self.store, ctx.contact)
        if not numbers:
            if ctx.channel in CODE_CHANNELS and not ctx.contact.is_verified:
                return self._denied(ctx)
            return Outcome.say(texts.NO_ACCOUNT_ON_PHONE)
        accounts = [a for a in [await self.store.registry.get_account(n) for n in numbers] if a]
        if len(accounts) == 1:
            only = accounts[0]
            text = self._balance_text(only.number, only.balance)
            return Outcome.say(text, state=_still_held(ctx))
        return ask_account(ctx, accounts, intent, purpose="balance")

    @staticmethod
    def _balance_text(number: str, balance: Any) -> str:
        if balance > 0:
            return texts.BALANCE_DEBT.format(account=number, amount=fmt_money(balance))
        if balance < 0:
            return texts.BALANCE_CREDIT.format(account=number, amount=fmt_money(balance))
        return texts.BALANCE_ZERO.format(account=number)

    @staticmethod
    def _denied(ctx: Context) -> Outcome:
        if ctx.has_buttons:
            return Outcome.say(texts.BALANCE_DENIED_TG, request_contact=True)
        if ctx.channel in CODE_CHANNELS:
            return Outcome.say(texts.BALANCE_DENIED_CODE)
        return Outcome.say(texts.BALANCE_DENIED)

    # -- linking a Telegram user to a phone --------------------------------------------

    async def shared_contact(self, ctx: Context) -> Outcome:
        """A contact shared with the «Поделиться номером» button. Only the user's own
        contact links (Telegram vouches for it); someone else's reveals nothing, and
        the user is offered an SMS code to that phone instead."""
        shared = ctx.shared
        assert shared is not None
        if shared.phone is None:
            return Outcome.say(texts.SHARED_UNREADABLE)
        if not shared.own:
            return Outcome(
                (
                    Reply(
                        texts.SHARED_FOREIGN.format(phone=mask_phone(shared.phone)),
                        choices=yes_no(ctx),
                    ),
                ),
                state(LINK_OFFER, ctx.now, phone=shared.phone),
            )
        await self.store.contacts.verify_phone(ctx.contact.id, shared.phone, "contact")
        return await self._linked(shared.phone)

    async def _linked(self, phone: str) -> Outcome:
        accounts = await self.store.registry.accounts_for_phone(phone)
        if not accounts:
            return Outcome.say(
                texts.LINKED_NO_ACCOUNTS.format(phone=mask_phone(phone)), state=None
            )
        # No inline button here: this answers a shared contact, and the message must hide
        # the share keyboard; a message carries one keyboard (Telegram).
        return Outcome.say(
            texts.LINKED.format(phone=mask_phone(phone), accounts=", ".join(accounts)),
            state=None,
        )

    async def offer_answer(self, ctx: Context, data: dict[str, Any], yes: bool) -> Outcome:
        """ДА/НЕТ to «отправить код на этот номер?»."""
        if not yes:
            return Outcome.say(texts.OK_NO, state=None)
        return await self.request_code(ctx, str(data["phone"]))

    async def request_code(self, ctx: Context, phone: str) -> Outcome:
        """Send a 6-digit code by SMS to a phone the user says is theirs. The answer is
        the same whether or not the phone is on an account (no enumeration); a code is
        sent only when it is, and at most `codes_per_day` per phone and per user."""
        if ctx.channel not in CODE_CHANNELS:
            return Outcome.say(texts.SMS_ONLY_TELEGRAM, state=None)
        if await self._limited(ctx):
            return Outcome.say(texts.RATE_LIMITED, state=None)
        limit = self.config.codes_per_day
        since = ctx.now - _DAY
        contacts = self.store.contacts
        if (
            await contacts.link_codes_since(since, phone=phone) >= limit
            or await contacts.link_codes_since(since, contact_id=ctx.contact.id) >= limit
        ):
            return Outcome.say(texts.CODE_LIMIT.format(limit=limit), state=None)
        ttl = timedelta(minutes=self.config.code_ttl_minutes)
        answer = Reply(
            texts.CODE_SENT.format(phone=mask_phone(phone), minutes=self.config.code_ttl_minutes)
        )
        replies: tuple[Reply, ...] = (answer,)
        if await self.store.registry.accounts_for_phone(phone):
            code = f"{secrets.randbelow(10**6):06d}"
            await contacts.add_link_code(
                ctx.contact.id, phone, hash_code(code), ctx.now, ctx.now + ttl
            )
            template = texts.CODE_SMS if ctx.channel == "telegram" else texts.CODE_SMS_OTHER
            sms = template.format(company=self.config.company, code=code)
            replies = (Reply(sms, to=Recipient("sms", phone)), answer)
        else:
            # A number on no account: probing. It counts against the sender's attempts.
            await self._fail(ctx)
        return Outcome(replies, state(LINK_CODE, ctx.now, ttl, phone=phone))

    async def enter_code(self, ctx: Context, code: str) -> Outcome:
        """Check a code typed in the chat; the right one links the phone."""
        if await self._limited(ctx):
            return Outcome.say(texts.RATE_LIMITED, state=None)
        live = await self.store.contacts.live_link_code(ctx.contact.id, ctx.now)
        if live is None:
            await self._fail(ctx)
            return Outcome.say(texts.CODE_DEAD, state=None)
        code_id, phone, stored, tries = live
        if tries >= self.config.code_tries:
            return Outcome.say(texts.CODE_DEAD, state=None)
        right = code_matches(stored, code)
        left = self.config.code_tries - tries - 1
        await self.store.contacts.link_code_tried(code_id, used=right or left <= 0)
        if right:
            await self.store.contacts.verify_phone(ctx.contact.id, phone, "code")
            return await self._linked(phone)
        await self._fail(ctx)
        if left <= 0:
            return Outcome.say(texts.CODE_DEAD, state=None)
        return Outcome.say(texts.CODE_WRONG.format(left=left))

    @staticmethod
    def howto(ctx: Context) -> Outcome:
        """«привязать», «код»: how to link."""
        if ctx.channel not in CODE_CHANNELS:
            return Outcome.say(texts.SMS_ONLY_TELEGRAM)
        if not ctx.has_buttons:
            return Outcome.say(texts.LINK_HOWTO_CODE)
        return Outcome.say(texts.LINK_HOWTO, request_contact=True)

    async def unlink(self, ctx: Context) -> Outcome:
        """«отвязать» (or the button): forget the Telegram user's phone."""
        if ctx.channel not in CODE_CHANNELS:
            # An SMS sender's number is proven by the network; nothing to unlink.
            return Outcome.say(texts.UNLINK_SMS, state=None)
        if ctx.contact.phone is None:
            return Outcome.say(texts.NOT_LINKED, state=None)
        await self.store.contacts.unlink(ctx.contact.id)
        return Outcome.say(texts.UNLINKED, state=None)

    # -- subscription ------------------------------------------------------------------

    async def start(self, ctx: Context) -> Outcome:
        """/start in Telegram greets and offers to share the phone; «подписаться» in
        SMS opts in again after СТОП."""
        if ctx.contact.opted_out:
            await self.store.contacts.set_opted_out(ctx.contact.id, False)
        if ctx.has_buttons:
            if ctx.contact.phone:
                text = texts.START_TG_LINKED.format(
                    company=self.config.company, phone=mask_phone(ctx.contact.phone)
                )
                help_text = texts.HELP_TG.format(
                    first=self.config.window_first_day, last=self.config.window_last_day
                )
                return Outcome.say(f"{text}\n{help_text}", state=None)
            return Outcome.say(
                texts.START_TG.format(company=self.config.company),
                state=None,
                request_contact=True,
            )
        return Outcome.say(texts.SUBSCRIBED, state=None)

    async def stop(self, ctx: Context) -> Outcome:
        """«СТОП»: no more invoices, reminders, surveys or planned-outage notices; debt,
        restriction, unplanned-outage and power-restored notices still come
        (`storage.notices`)."""
        await self.store.contacts.set_opted_out(ctx.contact.id, True)
        text = texts.STOPPED_TG if ctx.has_buttons else texts.STOPPED
        return Outcome.say(text, state=None)


def _still_held(ctx: Context) -> Any:
    """The state after a balance answer: readings held for ДА/НЕТ stay held (the customer
    asked about money in between, and «ДА» next must still confirm them); any other
    question is over."""
    if ctx.state is not None and ctx.state.kind == CONFIRM_READINGS:
        return KEEP
    return None
