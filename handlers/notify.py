"""«уведомления по почте» / «… в Telegram» / «… в MAX» / «… по SMS»: the channel a
person chooses for notices (docs/interfaces.md §14). The choice belongs to the person
(their phone numbers), so it holds whichever channel they write from next; notices are
routed by it in `storage.routing`."""

from __future__ import annotations

from handlers import texts
from handlers.base import Context, HandlerConfig, Outcome
from parsers.intent import Intent
from storage.store import Store

_WHERE = {"sms": "по SMS", "telegram": "в Telegram", "max": "в MAX", "email": "на почту"}


def _mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


class NotifyUseCase:
    """Record the channel a person chose for notices."""

    def __init__(self, store: Store, config: HandlerConfig) -> None:
        self.store = store
        self.config = config

    async def _phones(self, ctx: Context) -> list[str]:
        """The person behind the sender: a proven phone, or the phones of the accounts
        an address our relay vouches for is registered on."""
        if ctx.contact.is_verified and ctx.contact.phone:
            return [ctx.contact.phone]
        if ctx.contact.email:
            return await self.store.notice_channels.phones_for_email(ctx.contact.email)
        return []

    async def choose(self, ctx: Context, intent: Intent) -> Outcome:
        channel = intent.notify_channel or "sms"
        phones = await self._phones(ctx)
        if not phones:
            return Outcome.say(texts.NOTIFY_WHO, state=None)
        notices = self.store.notice_channels
        address: str | None = None
        if channel == "sms":
            address = None
        elif channel == ctx.channel:
            address = ctx.key.address
        elif channel == "email":
            address = await notices.registry_email(phones)
            if address is None:
                return Outcome.say(texts.NOTIFY_EMAIL_UNKNOWN, state=None)
        else:
            address = await notices.messenger_address(channel, phones)
            if address is None:
                return Outcome.say(
                    texts.NOTIFY_MESSENGER_UNKNOWN.format(where=_WHERE[channel]), state=None
                )
        await notices.choose(phones, channel, address, ctx.now)
        where = _WHERE[channel]
        if channel == "email" and address:
            where = f"{where} {_mask_email(address)}"
        extra = "" if channel == "sms" else " " + texts.NOTIFY_LEGAL_BY_SMS
        return Outcome.say(texts.NOTIFY_SET.format(where=where) + extra, state=None)
