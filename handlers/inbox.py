"""The inbox: people behind the bot (docs/interfaces.md §12; docs/architecture.md,
"People behind the bot").

Two sides:

- `InboxIntake`, the engine's step after the handler: a message the bot could not act
  on, a request for a person, or an appeal becomes (or joins) the contact's live
  thread, and the customer is told once per thread when a person will answer. Later
  messages of the contact join the thread, with the bot's replies, until it is closed.
  It runs inside the engine's transaction, so a crash leaves the thread as if the
  message had never come, and the journal replays it.
- The staff use cases (`list_items`, `get_thread`, `reply`, `close`, `to_appeal`,
  `answer_appeal_through_inbox`): the API, the CLI, the staff Telegram commands and the
  web workspace all call these, never SQL. Every staff action is audited with its actor:
  a staff login, `api`, or `telegram:<id>`.

Replies go out through an `AnswerOutbox` port (the bot side builds channel envelopes;
handlers know no channels).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from handlers import texts
from handlers.appeal_rules import due_at as appeal_due_at
from handlers.base import Context, HandlerConfig, Outcome, Reply
from handlers.common import fmt_moment
from handlers.inbox_rules import working_due
from handlers.readings import ReadingsUseCase
from parsers import parse
from parsers.intent import APPEAL_CATEGORIES, Intent
from storage.inbox import THREAD_KINDS, THREAD_STATES, InboxMessage, InboxThread, NewInboxMessage
from storage.models import Account, Appeal, Contact, ConversationKey
from storage.store import Store

# The customer's word once per thread (docs/interfaces.md §12).
HANDED_OVER = "Ваше сообщение передано специалисту, ответ — до {due}."
# An unreadable message may have been meant as readings: say how, in the same SMS.
HANDED_OVER_HINT = HANDED_OVER + " Показания: ЛС 1234567890 4521"
APPEAL_FROM_INBOX = "Ваше обращение зарегистрировано под №{id}. Ответим до {due}."

# Longer staff answers are refused: an SMS answer of 20 parts is not an answer.
MAX_ANSWER = 2000
# The customer's text as kept in the thread (the journal keeps the whole envelope).
MAX_TEXT = 10_000
# Fields of a label: the parse fields of docs/interfaces.md §5 a person may assign.
LABEL_FIELDS = frozenset(
    {"intent", "account", "readings", "command", "ticket", "appeal_category", "notify_channel"}
)


class InboxError(ValueError):
    """Bad input to a staff use case; `field` names the input at fault. `str()` is the
    message for a program (the API's `error`); `staff` says it in Russian for a person
    (the CLI, the Telegram commands, the web pages)."""

    def __init__(self, message: str, field: str, staff: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.staff = staff or message


class NotFound(LookupError):
    """No such inbox item (or appeal)."""


class AlreadyAnswered(Exception):
    """Someone answered after the message the replier saw; nothing was sent."""

    def __init__(self, by: str, message_id: int) -> None:
        super().__init__(f"already answered by {by}")
        self.by = by
        self.message_id = message_id


class AnswerOutbox(Protocol):
    """Where staff answers go: the outbox, as channel envelopes (built by the bot side:
    `bot.answers.OutboxAnswers`)."""

    async def enqueue_answer(
        self,
        *,
        channel: str,
        address: str,
        reference: str | None,
        text: str,
        key: str,
        account: str | None = None,
    ) -> int:
        """Queue one answer; returns the outbox id (0 when `key` was queued already).
        `reference` is what the customer's message was addressed by (`Inbound.to`, an
        appeal's `reply_source`): an SMS answer comes from that number, an e-mail answer
        keeps that thread."""
        ...

    def wake(self) -> None:
        """Tell the sender there is work (after the transaction commits)."""
        ...


class AttachmentSource(Protocol):
    """Where an attachment's bytes come from when they are not kept yet: its channel
    (Telegram keeps a file behind its file id; `bot.answers.ChannelFiles`)."""

    async def fetch(
        self, channel: str, attachment: dict[str, Any], max_bytes: int
    ) -> bytes | None:
        """The file, or None when the channel cannot give it or it is over `max_bytes`."""
        ...


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def due_for(config: HandlerConfig, at: datetime) -> datetime:
    """When a person's answer to a message received `at` is due."""
    return working_due(at, config.answer_within_hours, config.tz, config.working_hours)


# -- the engine's step --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Intake:
    """What the inbox step did with one message: the outcome to send and the thread the
    replies are recorded in (None: the message is not in any thread)."""

    outcome: Outcome
    thread_id: int | None


class InboxIntake:
    """Puts messages into inbox threads (engine step 6b, inside its transaction)."""

    def __init__(self, store: Store, config: HandlerConfig) -> None:
        self.store = store
        self.config = config

    async def take(self, ctx: Context, outcome: Outcome) -> Intake:
        note = outcome.inbox
        inbox = self.store.inbox
        thread = await inbox.live_for(ctx.contact.id)
        if note is None and thread is None:
            return Intake(outcome, None)
        text = ctx.text[:MAX_TEXT]
        attachment = self._attachment(ctx)
        if note is None:
            # The bot handled it (a reading, a command): shown in the thread, no change.
            assert thread is not None
            await self._customer(thread.id, ctx, text, attachment, handled=True)
            await inbox.customer_wrote(thread.id, text, ctx.now)
            return Intake(outcome, thread.id)

        due = note.due_at if note.kind == "appeal" and note.due_at else None
        due = due or due_for(self.config, ctx.now)
        is_new = thread is None
        if thread is None:
            thread = await inbox.create(
                contact_id=ctx.contact.id,
                channel=ctx.channel,
                address=ctx.key.address,
                reply_source=ctx.to,
                kind=note.kind,
                due_at=due,
                appeal_id=note.appeal_id,
                text=text,
                received_at=ctx.now,
            )
        message_id = await self._customer(thread.id, ctx, text, attachment, handled=False)
        await inbox.customer_wrote(
            thread.id, text, ctx.now, reopen_due=due, first_unhandled=message_id or None
        )
        if note.appeal_id is not None and not is_new:
            await inbox.link_appeal(thread.id, note.appeal_id, due)
        reopened = thread.state == "answered"
        if note.kind == "appeal":
            # The appeal's own reply says its number and due time.
            if thread.acknowledged_at is None:
                await inbox.acknowledge(thread.id, ctx.now)
            return Intake(outcome, thread.id)
        if thread.acknowledged_at is not None and not reopened:
            # Told once per item: a further message joins the waiting thread quietly.
            return Intake(replace(outcome, replies=()), thread.id)
        await inbox.acknowledge(thread.id, ctx.now)
        when = due if (is_new or reopened or thread.due_at is None) else thread.due_at
        template = HANDED_OVER_HINT if note.kind == "unrecognised" else HANDED_OVER
        ack = Reply(template.format(due=fmt_moment(when, self.config.tz)))
        return Intake(replace(outcome, replies=(ack,)), thread.id)

    async def record_replies(
        self,
        intake: Intake,
        replies: Sequence[Reply],
        outbox_ids: Sequence[int],
        at: datetime,
    ) -> None:
        """The bot's replies as sent into the thread, linked to their outbox rows."""
        if intake.thread_id is None:
            return
        for reply, outbox_id in zip(replies, outbox_ids, strict=True):
            if reply.to is not None:
                continue  # an SMS code to another phone is not part of the conversation
            await self.store.inbox.add_message(
                intake.thread_id,
                NewInboxMessage(
                    direction="out", author="bot", text=reply.text, at=at,
                    outbox_id=outbox_id or None,
                ),
            )

    async def _customer(
        self,
        thread_id: int,
        ctx: Context,
        text: str,
        attachment: dict[str, Any] | None,
        *,
        handled: bool,
    ) -> int:
        return await self.store.inbox.add_message(
            thread_id,
            NewInboxMessage(
                direction="in", author="customer", text=text, at=ctx.now, handled=handled,
                inbound_id=ctx.inbound_id, attachment=attachment,
            ),
        )

    def _attachment(self, ctx: Context) -> dict[str, Any] | None:
        """What the channel said about a photo, document or voice message: its kind, and
        where the channel gave them its file id, name, size and type. Staff see that an
        attachment came and what it is; one over `[staff] attachment_max_mb` is marked."""
        meta = ctx.meta
        if not ctx.media and not meta.get("file_id"):
            return None
        found: dict[str, Any] = {"kind": ctx.media or "file"}
        for key in ("file_id", "file_name", "mime_type"):
            if meta.get(key):
                found[key] = meta[key]
        size = meta.get("file_size", "")
        if size.isdigit():
            found["size"] = int(size)
            found["too_large"] = int(size) > self.config.attachment_max_mb * 1024 * 1024
        return found


# -- the staff side -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadView:
    """One inbox item for staff: the thread, its messages (both directions, oldest
    first), the contact with its verified phone and the registry accounts on it."""

    thread: InboxThread
    messages: list[InboxMessage]
    contact: Contact | None
    phone: str | None
    accounts: list[Account]
    appeal: Appeal | None


async def list_items(
    store: Store,
    *,
    state: str | None = None,
    channel: str | None = None,
    kind: str | None = None,
    category: str | None = None,
    now: datetime | None = None,
    limit: int = 200,
) -> list[InboxThread]:
    """Inbox items, most urgent first (overdue, then by due time, then by arrival),
    filtered by state, channel, kind and the linked appeal's category."""
    if state is not None and state not in THREAD_STATES:
        raise InboxError(
            f"state must be one of {', '.join(THREAD_STATES)}", "state",
            f"состояние — одно из: {', '.join(THREAD_STATES)}",
        )
    if kind is not None and kind not in THREAD_KINDS:
        raise InboxError(
            f"kind must be one of {', '.join(THREAD_KINDS)}", "kind",
            f"вид — один из: {', '.join(THREAD_KINDS)}",
        )
    if category is not None and category not in APPEAL_CATEGORIES:
        raise InboxError(
            f"category must be one of {', '.join(APPEAL_CATEGORIES)}", "category",
            f"тема — одна из: {', '.join(APPEAL_CATEGORIES)}",
        )
    return await store.inbox.items(
        _now(now), state=state, channel=channel, kind=kind, category=category, limit=limit
    )


async def get_thread(store: Store, thread_id: int) -> ThreadView:
    """An item with its whole conversation and who the customer is. Raises NotFound."""
    thread = await store.inbox.get(thread_id)
    if thread is None:
        raise NotFound(f"inbox item {thread_id} not found")
    contact = await store.contacts.by_id(thread.contact_id)
    phone = contact.phone if contact is not None else None
    numbers = await store.registry.accounts_for_phone(phone) if phone else []
    appeal = await store.appeals.get(thread.appeal_id) if thread.appeal_id else None
    if appeal is not None and appeal.account and appeal.account not in numbers:
        numbers = [appeal.account, *numbers]
    found = [await store.registry.get_account(n) for n in numbers]
    return ThreadView(
        thread=thread,
        messages=await store.inbox.messages(thread_id),
        contact=contact,
        phone=phone,
        accounts=[a for a in found if a is not None],
        appeal=appeal,
    )


async def reply(
    store: Store,
    out: AnswerOutbox,
    thread_id: int,
    text: str,
    *,
    actor: str,
    after: int | None = None,
    now: datetime | None = None,
) -> int:
    """A person's answer to the customer, on the channel the thread came from; returns
    the outbox id. With `after` (the last message id the replier saw), an answer someone
    else sent after it wins: AlreadyAnswered is raised and nothing is sent. A linked
    appeal is answered too (kept in its history). Raises NotFound, InboxError."""
    clean = text.strip()
    if not clean:
        raise InboxError("the answer is empty", "text", "ответ пустой")
    if len(clean) > MAX_ANSWER:
        raise InboxError(
            f"the answer is longer than {MAX_ANSWER} characters", "text",
            f"ответ длиннее {MAX_ANSWER} знаков",
        )
    moment = _now(now)
    async with store.db.transaction():
        thread = await store.inbox.get(thread_id)
        if thread is None:
            raise NotFound(f"inbox item {thread_id} not found")
        if thread.state == "closed":
            raise InboxError("the item is closed", "id", "входящее закрыто")
        if after is not None:
            later = await store.inbox.answers_after(thread_id, after)
            if later:
                raise AlreadyAnswered(later[-1].author, later[-1].id)
        account = None
        if thread.appeal_id is not None:
            appeal = await store.appeals.answer(thread.appeal_id, clean, actor, moment)
            account = appeal.account if appeal is not None else None
        message_id, outbox_id = await _send(
            store, out, thread,
            texts.APPEAL_ANSWER.format(id=thread.appeal_id, text=clean)
            if thread.appeal_id is not None
            else clean,
            shown=clean, actor=actor, at=moment, account=account,
        )
        await store.inbox.mark_answered(thread_id, actor, moment)
        await store.audit.append(
            actor, "inbox.reply", f"inbox:{thread_id}",
            {"message": message_id, "outbox": outbox_id, "appeal": thread.appeal_id}, moment,
        )
    out.wake()
    return outbox_id


async def _send(
    store: Store,
    out: AnswerOutbox,
    thread: InboxThread,
    text: str,
    *,
    actor: str,
    at: datetime,
    account: str | None = None,
    shown: str | None = None,
) -> tuple[int, int]:
    """A person's message to the customer: kept in the thread (as `shown`, by default
    the text sent) and queued on the thread's channel, an SMS from the number the
    customer wrote to (docs/architecture.md, Numbers). Returns (message id, outbox id)."""
    message_id = await store.inbox.add_message(
        thread.id, NewInboxMessage(direction="out", author=actor, text=shown or text, at=at)
    )
    outbox_id = await out.enqueue_answer(
        channel=thread.channel,
        address=thread.address,
        reference=thread.reply_source,
        text=text,
        key=f"inbox-answer:{message_id}",
        account=account,
    )
    await store.inbox.link_outbox(message_id, outbox_id)
    return message_id, outbox_id


async def attachment(
    store: Store,
    source: AttachmentSource,
    config: HandlerConfig,
    thread_id: int,
    message_id: int,
) -> tuple[dict[str, Any], bytes]:
    """A customer's attachment for staff to see: its description and bytes, fetched from
    the channel the first time and kept (up to `[staff] attachment_max_mb`). Raises
    NotFound (no such message or attachment in the item), InboxError (over the size
    limit, or the channel no longer gives it)."""
    thread = await store.inbox.get(thread_id)
    if thread is None or message_id not in {m.id for m in await store.inbox.messages(thread_id)}:
        raise NotFound(f"message {message_id} of inbox item {thread_id} not found")
    found = await store.inbox.attachment(message_id)
    if found is None:
        raise NotFound(f"message {message_id} has no attachment")
    meta, data = found
    if data is not None:
        return meta, data
    limit = config.attachment_max_mb * 1024 * 1024
    if meta.get("too_large"):
        raise InboxError(
            f"the attachment is over {config.attachment_max_mb} MB and not kept", "id",
            f"вложение больше {config.attachment_max_mb} МБ и не хранится",
        )
    fetched = await source.fetch(thread.channel, meta, limit)
    if fetched is None:
        raise InboxError(
            f"the attachment is gone or over {config.attachment_max_mb} MB", "id",
            f"вложение недоступно или больше {config.attachment_max_mb} МБ",
        )
    await store.inbox.keep_attachment(message_id, fetched)
    return meta, fetched


def validate_label(label: dict[str, Any], text: str) -> dict[str, Any]:
    """A person's label as the §5 fields (docs/interfaces.md §5), checked by the same
    model the parser returns. Raises InboxError naming the bad field."""
    unknown = sorted(set(label) - LABEL_FIELDS)
    if unknown:
        raise InboxError(
            f"unknown label field {unknown[0]!r}", f"label.{unknown[0]}",
            f"неизвестное поле разметки {unknown[0]!r}",
        )
    try:
        intent = Intent.model_validate({**label, "text": text})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InboxError(
            f"label: {first['msg']}", f"label.{where}", f"разметка ({where}): {first['msg']}"
        ) from None
    dumped = intent.model_dump(mode="json", exclude={"text", "error"})
    return {k: v for k, v in dumped.items() if k in LABEL_FIELDS}


async def close(
    store: Store,
    thread_id: int,
    *,
    actor: str,
    label: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> InboxThread:
    """Close an item, optionally labelling its first message the bot could not handle
    with §5 fields. Closing a closed item is refused. Raises NotFound, InboxError."""
    moment = _now(now)
    async with store.db.transaction():
        thread = await store.inbox.get(thread_id)
        if thread is None:
            raise NotFound(f"inbox item {thread_id} not found")
        checked = None
        if label is not None:
            first = await _first_unhandled(store, thread)
            checked = validate_label(label, first.text if first else thread.text)
        if not await store.inbox.close(thread_id, actor, moment, checked):
            raise InboxError("the item is closed already", "id", "входящее уже закрыто")
        await store.audit.append(
            actor, "inbox.close", f"inbox:{thread_id}", {"label": checked}, moment
        )
        closed = await store.inbox.get(thread_id)
    assert closed is not None
    return closed


async def to_appeal(
    store: Store,
    out: AnswerOutbox,
    config: HandlerConfig,
    thread_id: int,
    category: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> Appeal:
    """Register the item's first unhandled message as an appeal of the category a person
    chose; the customer is told its number and due time. Raises NotFound, InboxError."""
    if category not in APPEAL_CATEGORIES:
        raise InboxError(
            f"category must be one of {', '.join(APPEAL_CATEGORIES)}", "category",
            f"тема — одна из: {', '.join(APPEAL_CATEGORIES)}",
        )
    moment = _now(now)
    async with store.db.transaction():
        thread = await store.inbox.get(thread_id)
        if thread is None:
            raise NotFound(f"inbox item {thread_id} not found")
        if thread.appeal_id is not None:
            raise InboxError(
                f"the item is appeal №{thread.appeal_id} already", "id",
                f"входящее уже оформлено как обращение №{thread.appeal_id}",
            )
        if thread.state == "closed":
            raise InboxError("the item is closed", "id", "входящее закрыто")
        first = await _first_unhandled(store, thread)
        view = await get_thread(store, thread_id)
        account = view.accounts[0].number if len(view.accounts) == 1 else None
        due = appeal_due_at(
            category, moment, config.tz,
            urgent_hours=config.urgent_hours, working_days=config.working_days,
        )
        appeal = await store.appeals.create(
            contact_id=thread.contact_id,
            channel=thread.channel,
            address=thread.address,
            reply_source=thread.reply_source,
            account=account,
            category=category,
            text=(first.text if first else thread.text) or "(вложение)",
            created_at=moment,
            due_at=due,
        )
        await store.inbox.link_appeal(thread_id, appeal.id, due)
        notice = APPEAL_FROM_INBOX.format(id=appeal.id, due=fmt_moment(due, config.tz))
        _, outbox_id = await _send(
            store, out, thread, notice, actor=actor, at=moment, account=account
        )
        await store.audit.append(
            actor, "inbox.to_appeal", f"inbox:{thread_id}",
            {"appeal": appeal.id, "category": category}, moment,
        )
    out.wake()
    return appeal


# How the readings use case begins a confirmation of saved values.
_ACCEPTED_PREFIX = texts.ACCEPTED.split("{", 1)[0]


async def enter_reading(
    store: Store,
    out: AnswerOutbox,
    config: HandlerConfig,
    thread_id: int,
    text: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> str:
    """A reading a person types for the customer (read from a photo, heard on a call):
    `text` as the customer would write it («ЛС 1234567890 день 4521 ночь 1876»), read by
    the same parser and checked by the same rules as the bot's readings. It is stored as
    the customer's, from the item's first unhandled message (its channel, sender and
    time, hence its period), with `entered_by` = `actor`; the customer gets the bot's
    confirmation (a customer not linked to the account: the same words as the bot's,
    the reading stored as unlinked). Returns that confirmation. What the rules refuse,
    hold for a check, or would hold for the customer's ДА, is refused (InboxError, field
    `text`, with the bot's words or the reason) and nothing is stored. Raises NotFound,
    InboxError."""
    clean = text.strip()
    intent = parse(clean, account_digits=config.account_digits)
    if intent.intent != "readings":
        raise InboxError(
            "no readings in the text (e.g. «ЛС 1234567890 4521»)", "text",
            "в тексте нет показаний (пример: «ЛС 1234567890 4521»)",
        )
    moment = _now(now)
    async with store.db.transaction():
        thread = await store.inbox.get(thread_id)
        if thread is None:
            raise NotFound(f"inbox item {thread_id} not found")
        contact = await store.contacts.by_id(thread.contact_id)
        assert contact is not None  # a thread's contact is never deleted
        first = await _first_unhandled(store, thread)
        ctx = Context(
            key=ConversationKey(thread.channel, thread.address),
            contact=contact,
            text=clean,
            now=first.at if first is not None else moment,
            to=thread.reply_source,
            inbound_id=first.inbound_id if first is not None else None,
            meta={"entered_by": actor},
        )
        outcome = await ReadingsUseCase(store, config).submit(ctx, intent)
        said = " ".join(r.text for r in outcome.replies)
        if outcome.state is not None:
            # Held for a ДА the customer was never asked: undo, and say so.
            raise InboxError(said, "text")
        if not said.startswith(_ACCEPTED_PREFIX):
            taken, why = await _unlinked_outcome(store, ctx, intent.account)
            if not taken:
                # Refused (the bot's words to a linked customer; the recorded reason for
                # one not linked, who is told the same whatever happened): undo.
                raise InboxError(why or said, "text", f"показания не приняты: {why or said}")
        _, outbox_id = await _send(
            store, out, thread, said, actor=actor, at=moment, account=intent.account
        )
        await store.audit.append(
            actor, "inbox.reading", f"inbox:{thread_id}",
            {"text": clean, "outbox": outbox_id}, moment,
        )
    out.wake()
    return said


async def _unlinked_outcome(
    store: Store, ctx: Context, account: str | None
) -> tuple[bool, str | None]:
    """Whether readings from a customer not linked to the account were taken, and why
    not: such a customer gets one answer whatever happened (no oracle), so the
    submission the readings use case recorded says (accepted, held or limited). (False,
    None) when no such submission was recorded: the bot refused in its own words."""
    if account is not None:
        for submission in await store.readings.unlinked(limit=1):
            if (submission.account, submission.received_at, submission.sender) == (
                account, ctx.now, ctx.sender_label
            ):
                accepted = submission.outcome == "accepted"
                return accepted, None if accepted else submission.reason or submission.outcome
    return False, None


async def answer_appeal_through_inbox(
    store: Store,
    out: AnswerOutbox,
    appeal_id: int,
    text: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> tuple[Appeal, int]:
    """`gateway appeals answer`: the answer goes into the appeal's inbox thread (opened
    for appeals from before the inbox) and to the customer. Returns the appeal answered
    and the outbox id; the latest answer given again is not sent twice (outbox id 0).
    Raises NotFound, InboxError."""
    moment = _now(now)
    async with store.db.transaction():
        appeal = await store.appeals.get(appeal_id)
        if appeal is None:
            raise NotFound(f"appeal {appeal_id} not found")
        history = await store.appeals.answers(appeal_id)
        if history and history[-1][0] == text.strip():
            # The same answer again (a command run twice): sent once.
            return appeal, 0
        thread = await store.inbox.for_appeal(appeal_id)
        if thread is None or thread.state == "closed":
            live = await store.inbox.live_for(appeal.contact_id)
            if live is not None:
                await store.inbox.link_appeal(live.id, appeal.id, appeal.due_at)
                thread = live
            else:
                thread = await store.inbox.create(
                    contact_id=appeal.contact_id, channel=appeal.channel,
                    address=appeal.address, reply_source=appeal.reply_source, kind="appeal",
                    due_at=appeal.due_at, appeal_id=appeal.id, text=appeal.text,
                    received_at=appeal.created_at,
                )
        if thread.appeal_id == appeal.id:
            outbox_id = await reply(store, out, thread.id, text, actor=actor, now=moment)
        else:
            outbox_id = await _answer_other(store, out, appeal, text, actor=actor, at=moment)
        answered = await store.appeals.get(appeal_id)
    assert answered is not None
    return answered, outbox_id


async def _answer_other(
    store: Store, out: AnswerOutbox, appeal: Appeal, text: str, *, actor: str, at: datetime
) -> int:
    """An appeal whose contact's live thread is about another appeal: answered on its
    own, as before the inbox."""
    clean = text.strip()
    if not clean:
        raise InboxError("the answer is empty", "text", "ответ пустой")
    await store.appeals.answer(appeal.id, clean, actor, at)
    outbox_id = await out.enqueue_answer(
        channel=appeal.channel,
        address=appeal.address,
        reference=appeal.reply_source,
        text=texts.APPEAL_ANSWER.format(id=appeal.id, text=clean),
        key=f"appeal-answer:{appeal.id}:{len(await store.appeals.answers(appeal.id))}",
        account=appeal.account,
    )
    await store.audit.append(actor, "appeal.answer", f"appeal:{appeal.id}",
                             {"outbox": outbox_id}, at)
    out.wake()
    return outbox_id


async def _first_unhandled(store: Store, thread: InboxThread) -> InboxMessage | None:
    messages = await store.inbox.messages(thread.id)
    for message in messages:
        if message.id == thread.first_message_id:
            return message
    return next((m for m in messages if m.direction == "in"), None)


def staff_actor(login: str | None) -> str:
    """The audit actor for an API call: the named staff login, else `api`."""
    if login is None or not login.strip():
        return "api"
    name = login.strip()
    if not re.fullmatch(r"[\w.@-]{1,64}", name):
        raise InboxError(
            "staff must be a login (letters, digits, . _ - @)", "staff",
            "staff — логин сотрудника (буквы, цифры, . _ - @)",
        )
    return name
