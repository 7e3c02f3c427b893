"""Appeals (обращения): tickets, due times, «статус N», repeats, known outages, and the
staff side used by the CLI (docs/architecture.md, Domain rules: Appeals).

An «нет света» from an address under a known outage is not opened as a new case: it is
answered at once with the outage's reason and expected restoration, and recorded as an
appeal linked to the outage (`outage_id`) with status `closed`: the customer's question
is answered in that one contact, the quarterly report still counts it, and staff do not
get a ticket to answer about a cut they already know. A second one from the same
contact about the same outage joins that appeal as a repeat.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from handlers import texts
from handlers.appeal_rules import due_at
from handlers.base import Context, HandlerConfig, InboxNote, Outcome, Recipient, Reply
from handlers.common import APPEAL_TOPIC, fmt_moment, is_linked, linked_accounts, state
from parsers.intent import APPEAL_CATEGORIES, Intent
from storage.address import house_in_spec, settlement_key, street_key
from storage.models import Account, Appeal, Outage
from storage.store import Store

# Longer texts are stored cut: an appeal is read by a person, not archived as a file.
MAX_APPEAL_TEXT = 4000


class AppealsUseCase:
    """Open, join and follow appeals."""

    def __init__(self, store: Store, config: HandlerConfig) -> None:
        self.store = store
        self.config = config

    async def create(self, ctx: Context, intent: Intent, category: str | None = None) -> Outcome:
        """Register an appeal and answer with its number and due time; join an open one
        of the same contact and category; answer a known outage at once."""
        category = category or intent.appeal_category or "other"
        text = ctx.text.strip()[:MAX_APPEAL_TEXT] or ctx.text[:MAX_APPEAL_TEXT]
        accounts = await self._accounts(ctx, intent)
        account = accounts[0].number if len(accounts) == 1 else intent.account
        appeals = self.store.appeals
        tz = self.config.tz
        tg = ctx.has_buttons

        if category == "outage":
            outage = await self._known_outage(ctx, accounts, text)
            if outage is not None:
                linked = await appeals.for_outage(ctx.contact.id, outage.id)
                if linked is not None:
                    await appeals.add_repeat(linked.id, text, ctx.now)
                    appeal = linked
                else:
                    appeal = await appeals.create(
                        contact_id=ctx.contact.id,
                        channel=ctx.channel,
                        address=ctx.key.address,
                        reply_source=ctx.to,
                        account=account,
                        category=category,
                        text=text,
                        created_at=ctx.now,
                        due_at=ctx.now + timedelta(hours=self.config.urgent_hours),
                        outage_id=outage.id,
                        status="closed",
                    )
                until = fmt_moment(outage.until_at, tz)
                if tg:
                    reply = texts.OUTAGE_KNOWN_TG.format(
                        reason=outage.reason, until=until, id=appeal.id
                    )
                else:
                    bare = texts.OUTAGE_KNOWN.format(reason="", until=until, id=appeal.id)
                    reason = texts.clip(outage.reason, texts.SMS_MAX - len(bare))
                    reply = texts.OUTAGE_KNOWN.format(reason=reason, until=until, id=appeal.id)
                return Outcome.say(reply, state=None)

        existing = await appeals.open_for(ctx.contact.id, category)
        if existing is not None:
            # One event, one case: a repeat is joined and counted, not opened again.
            await appeals.add_repeat(existing.id, text, ctx.now)
            return Outcome.say(
                texts.APPEAL_REPEAT.format(id=existing.id, due=fmt_moment(existing.due_at, tz)),
                state=None,
                inbox=InboxNote("appeal", existing.id, existing.due_at),
            )
        due = due_at(
            category,
            ctx.now,
            tz,
            urgent_hours=self.config.urgent_hours,
            working_days=self.config.working_days,
        )
        appeal = await appeals.create(
            contact_id=ctx.contact.id,
            channel=ctx.channel,
            address=ctx.key.address,
            reply_source=ctx.to,
            account=account,
            category=category,
            text=text,
            created_at=ctx.now,
            due_at=due,
        )
        template = texts.APPEAL_CREATED_TG if tg else texts.APPEAL_CREATED
        return Outcome.say(
            template.format(
                id=appeal.id, due=fmt_moment(due, tz), category=texts.CATEGORY_NAMES[category]
            ),
            state=None,
            # Appeals are inbox items too, due when the appeal is (docs/interfaces.md §12).
            inbox=InboxNote("appeal", appeal.id, due),
        )

    async def _accounts(self, ctx: Context, intent: Intent) -> list[Account]:
        numbers = await linked_accounts(self.store, ctx.contact)
        if intent.account and intent.account not in numbers:
            numbers = [intent.account, *numbers]
        found = [await self.store.registry.get_account(n) for n in numbers]
        return [a for a in found if a is not None]

    async def _known_outage(
        self, ctx: Context, accounts: list[Account], text: str
    ) -> Outage | None:
        active = await self.store.outages.active(ctx.now)
        if not active:
            return None
        for account in accounts:
            for outage in active:
                if outage_covers(outage, account.settlement, account.street, account.house):
                    return outage
        if accounts:
            return None
        # No account known: a street and house written in the text («нет света на
        # Ленина 31») may still point at exactly one known outage.
        hits = [o for o in active if outage_named_in_text(o, text)]
        return hits[0] if len(hits) == 1 else None

    async def status(self, ctx: Context, intent: Intent) -> Outcome:
        """«статус N»: to the appeal's own contact or a contact linked to its account.
        Anyone else gets exactly the answer to a ticket that does not exist: tickets are
        numbered in sequence, and even «in progress» would tell a prober that ticket N
        exists (docs/architecture.md «Identification»)."""
        ticket = re.sub(r"\D", "", intent.ticket or "")
        if not ticket:
            return Outcome.say(texts.STATUS_NEED_NUMBER)
        appeal = await self.store.appeals.get(int(ticket))
        if appeal is None or not await self._may_see(ctx, appeal):
            return Outcome.say(texts.STATUS_NOT_FOUND.format(id=ticket))
        tz = self.config.tz
        category = texts.CATEGORY_NAMES.get(appeal.category, appeal.category)
        if appeal.status == "answered" and appeal.answer:
            at = fmt_moment(appeal.answered_at or appeal.created_at, tz)
            bare = texts.STATUS_ANSWERED.format(id=appeal.id, at=at, answer="")
            answer = appeal.answer
            if not ctx.has_buttons:
                answer = texts.clip(answer, texts.SMS_MAX - len(bare))
            return Outcome.say(texts.STATUS_ANSWERED.format(id=appeal.id, at=at, answer=answer))
        if appeal.status == "closed":
            return Outcome.say(texts.STATUS_CLOSED.format(id=appeal.id, category=category))
        return Outcome.say(
            texts.STATUS_OPEN.format(
                id=appeal.id, category=category, due=fmt_moment(appeal.due_at, tz)
            )
        )

    async def _may_see(self, ctx: Context, appeal: Appeal) -> bool:
        if appeal.contact_id == ctx.contact.id:
            return True
        if appeal.account and await is_linked(self.store, ctx.contact, appeal.account):
            return True
        # The same person on another channel: both contacts proven to hold one phone.
        author = await self.store.contacts.by_id(appeal.contact_id)
        return (
            author is not None
            and author.is_verified
            and ctx.contact.is_verified
            and author.phone == ctx.contact.phone
        )

    # -- Telegram: choosing a topic with buttons ---------------------------------------

    @staticmethod
    def topics(ctx: Context) -> Outcome:
        """The appeal categories as buttons (Telegram «Обращение» button)."""
        rows = tuple(
            ((texts.CATEGORY_NAMES[c].capitalize(), f"appeal:{c}"),) for c in APPEAL_CATEGORIES
        )
        return Outcome((Reply(texts.APPEAL_PICK_TG, choices=rows),))

    @staticmethod
    def topic_chosen(ctx: Context, category: str) -> Outcome:
        """A category button: the next text is the appeal in that category."""
        if category not in APPEAL_CATEGORIES:
            return AppealsUseCase.topics(ctx)
        return Outcome.say(
            texts.APPEAL_DESCRIBE.format(category=texts.CATEGORY_NAMES[category]),
            state=state(APPEAL_TOPIC, ctx.now, category=category),
        )


def outage_covers(outage: Outage, settlement: str, street: str, house: str) -> bool:
    """Whether an address lies in an outage's area (settlement, optional street,
    optional house list); names compare by `storage.address` keys."""
    if settlement_key(settlement) != settlement_key(outage.settlement):
        return False
    if outage.street and street_key(street) != street_key(outage.street):
        return False
    return house_in_spec(house, outage.houses)


def outage_named_in_text(outage: Outage, text: str) -> bool:
    """«нет света на ул. Ленина 31»: the outage's street, and a house under it when the
    outage lists houses."""
    street = street_key(outage.street)
    if not street:
        return False
    words = street_key(re.sub(r"[^\w\s.-]", " ", text))
    match = re.search(
        rf"(?<!\w){re.escape(street)}(?!\w)\s*(?:д\.?\s*)?(\d+(?:[а-я](?![а-я]))?)?", words
    )
    if match is None:
        return False
    if not outage.houses.strip():
        return True
    return match[1] is not None and house_in_spec(match[1], outage.houses)


# -- staff side (bot/cli.py `gateway appeals …`) -----------------------------------------


async def list_appeals(store: Store, status: str | None = None) -> list[Appeal]:
    """Appeals for staff: by due time when a status is given, else newest first."""
    return await store.appeals.recent(status)


async def show_appeal(
    store: Store, appeal_id: int
) -> tuple[Appeal, list[tuple[str, datetime]]] | None:
    """An appeal with all its messages (the first and every repeat)."""
    appeal = await store.appeals.get(appeal_id)
    if appeal is None:
        return None
    return appeal, await store.appeals.messages(appeal_id)


async def answer_appeal(
    store: Store, appeal_id: int, text: str, staff: str, now: datetime | None = None
) -> tuple[Appeal, Reply]:
    """Record a staff answer and build the message to the customer, addressed to the
    channel and address the appeal came from (`Reply.to`). For SMS, the caller sends it
    from `appeal.reply_source` (the number the customer wrote to) when that is set.
    Raises LookupError for an unknown appeal, ValueError for an empty answer."""
    if not text.strip():
        raise ValueError("empty answer")
    appeal = await store.appeals.get(appeal_id)
    if appeal is None:
        raise LookupError(f"appeal {appeal_id} not found")
    answered = await store.appeals.answer(appeal_id, text.strip(), staff, now or datetime.now(UTC))
    assert answered is not None
    reply = Reply(
        texts.APPEAL_ANSWER.format(id=appeal.id, text=text.strip()),
        to=Recipient(appeal.channel, appeal.address),
    )
    return answered, reply
