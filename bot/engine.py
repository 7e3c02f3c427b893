"""The conversation engine: from a journaled `Inbound` to replies in the outbox.

The order of steps is fixed, and each is where it is for a reason:

1. errors: the outermost step, so that any failure below is logged, the message goes
   to a person (the customer hears by when; an apology if even that fails), and it is
   marked processed (no loop).
2. resolve the contact: before the lock, since the key needs nothing else; an SMS
   sender's phone is proven by the network, a Telegram user's only once verified.
3. per-conversation lock: two quick messages of one person are handled in order, while
   other conversations run concurrently. On PostgreSQL, where several instances share
   the journal (docs/interfaces.md §13), the lock is also taken in the store, first in
   the transaction of 4–9 (`storage.cluster.lock_conversation`), and an entry another
   instance processed meanwhile is skipped: each message is handled once. A message
   whose conversation has an earlier one still unprocessed (journaled by another
   instance a moment before) waits for it first, up to `order_wait` seconds (that
   instance may have died: the leader's recovery takes its message over later).
4. load state: a pending confirmation or question changes what «да» or «2» mean.
5. parse: pure, no I/O (parsers/).
6. handler: the use case (handlers/); it returns replies, never calls a channel.
6b. inbox: what the bot could not act on, a request for a person, or an appeal goes
   into the contact's inbox thread, and the customer hears once when a person will
   answer; later messages join the thread with the bot's replies (handlers/inbox.py).
   After the handler, because only the handler knows whether it could act.
7. save state, 8. replies into the outbox, 9. mark the journal entry processed: 4–9 run
   in one database transaction (the thread write of 6b included), so a crash in between
   leaves nothing half-done and the entry is simply processed again at the next start.

Journaling, contact resolution and waiting for the lock run concurrently across
conversations; steps 4–9 of different conversations take turns on SQLite's single
writer (they are database work of a few milliseconds, so a turn is short).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from bot.core import (
    Button,
    ChannelName,
    Inbound,
    Outbound,
    mask_phone,
    normalize_phone,
    reply_route,
)
from bot.metrics import Metrics
from handlers.base import KEEP, Context, HandlerConfig, InboxNote, Outcome, Reply, SharedPhone
from handlers.inbox import InboxIntake
from parsers.intent import Intent
from storage.cluster import lock_conversation
from storage.models import Contact, ConversationKey
from storage.outbox import PRIORITY_REPLY, NewMessage
from storage.store import Store

log = logging.getLogger(__name__)

# How often a message waiting for its conversation's earlier one looks again (seconds).
ORDER_POLL = 0.05

APOLOGY = "Извините, не удалось обработать сообщение. Мы уже разбираемся, попробуйте позже."

Parse = Callable[[str], Intent]


class HandlerPort(Protocol):
    """The use cases as the engine sees them (`handlers.dispatch.Handlers`)."""

    async def handle(self, ctx: Context, intent: Intent) -> Outcome: ...


class ConversationEngine:
    """Journals inbound messages and turns them into replies. `accept` is the
    `OnInbound` callback handed to every channel."""

    def __init__(
        self,
        store: Store,
        handlers: HandlerPort,
        parse: Parse,
        *,
        phone_region: str = "RU",
        wake_sender: Callable[[], None] | None = None,
        metrics: Metrics | None = None,
        inbox: InboxIntake | None = None,
        order_wait: float = 2.0,
    ) -> None:
        self.store = store
        self.order_wait = order_wait
        self.order_waits = 0  # messages that waited for an earlier one (tests, logs)
        self.metrics = metrics
        self.inbox = inbox or InboxIntake(store, HandlerConfig())
        self.handlers = handlers
        self.parse = parse
        self.phone_region = phone_region
        self._wake = wake_sender or (lambda: None)
        self._locks: dict[ConversationKey, asyncio.Lock] = {}
        self._lock_users: dict[ConversationKey, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._entries: set[int] = set()  # journal entries being processed here
        self._closing = False

    # -- the channel-facing side -------------------------------------------------------

    async def accept(self, inbound: Inbound) -> bool:
        """Store the message in the journal (the channel acknowledges after this returns)
        and schedule its processing. A redelivery returns False and is not processed."""
        entry_id, new = await self.store.journal.append(
            inbound.channel.value,
            inbound.external_id,
            inbound.address,
            inbound.model_dump_json(),
            inbound.received_at,
        )
        if not new:
            log.info(
                "inbound %s/%s from %s is a redelivery; ignored",
                inbound.channel.value,
                inbound.external_id,
                mask_phone(inbound.address),
            )
            return False
        if self.metrics is not None:
            self.metrics.inbound(inbound.channel.value)
        if not self._closing:
            self._spawn(entry_id, inbound)
        return True

    def _spawn(self, entry_id: int, inbound: Inbound) -> None:
        task = asyncio.create_task(self.process(entry_id, inbound), name=f"inbound-{entry_id}")
        self._tasks.add(task)
        self._entries.add(entry_id)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._entries.discard(entry_id))

    async def recover(self, received_before: datetime | None = None) -> int:
        """Process journal entries left unprocessed by a crash (of this instance, or of
        another one sharing the store: the leader looks now and then, for entries
        received before `received_before`); returns how many. Entries in progress here
        are left alone; one in progress at another instance waits for its
        conversation's lock and is then skipped as processed."""
        entries = [
            entry for entry in await self.store.journal.unprocessed()
            if entry.id not in self._entries
            and (received_before is None or entry.received_at < received_before)
        ]
        for entry in entries:
            self._spawn(entry.id, Inbound.model_validate_json(entry.payload))
        if entries:
            log.info("engine: resuming %d unprocessed inbound messages", len(entries))
        return len(entries)

    async def drain(self, within: float | None = None) -> None:
        """Wait until every scheduled message is processed (tests, shutdown); raises
        TimeoutError after `within` seconds."""
        async with asyncio.timeout(within):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self, within: float = 3.0) -> None:
        """Stop taking new work; let in-flight messages finish (the rest stays in the
        journal and is processed at the next start)."""
        self._closing = True
        with suppress(TimeoutError):
            await self.drain(within)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- the pipeline ------------------------------------------------------------------

    async def process(self, entry_id: int, inbound: Inbound) -> None:
        # 1. errors
        try:
            await self._process(entry_id, inbound)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "engine: failed on inbound %d from %s/%s",
                entry_id,
                inbound.channel.value,
                mask_phone(inbound.address),
            )
            await self._apologise(entry_id, inbound)

    async def _process(self, entry_id: int, inbound: Inbound) -> None:
        # 2. resolve the contact
        contact = await self._resolve(inbound)
        key = ConversationKey(inbound.channel.value, inbound.address)
        # 3. per-conversation lock (in this process, and in the store for all instances)
        await self._after_earlier(entry_id, key)
        async with self._lock(key), self.store.db.transaction():
            await lock_conversation(self.store.db, f"{key.channel}:{key.address}")
            if await self.store.journal.is_processed(entry_id):
                log.info("engine: inbound %d was processed by another instance", entry_id)
                return
            # 4. load state (and note that the contact wrote: notices go to the
            # messenger a person wrote from last)
            state = await self.store.state.get(key, inbound.received_at)
            await self.store.contacts.seen(contact.id, inbound.received_at)
            ctx = self._context(entry_id, inbound, contact, key, state)
            # 5. parse
            intent = self.parse(inbound.text)
            if self.metrics is not None:
                self.metrics.parsed(intent.intent)
            # 6. handler
            outcome = await self.handlers.handle(ctx, intent)
            # 6b. inbox
            intake = await self.inbox.take(ctx, outcome)
            outcome = intake.outcome
            # 7. save state
            if outcome.state is not KEEP:
                await self.store.state.set(key, outcome.state)  # type: ignore[arg-type]
            # 8. replies into the outbox
            ids = await self._enqueue(entry_id, inbound, outcome)
            await self.inbox.record_replies(intake, outcome.replies, ids, inbound.received_at)
            # 9. done
            await self.store.journal.mark_processed(entry_id)
        self._wake()

    async def _resolve(self, inbound: Inbound) -> Contact:
        contacts = self.store.contacts
        if inbound.channel is ChannelName.SMS:
            # The network proves an SMS sender's number.
            return await contacts.resolve(
                inbound.channel.value, inbound.address, phone=inbound.address, verified_by="sms"
            )
        if inbound.channel is ChannelName.CONSOLE and inbound.address.startswith("+"):
            # `gateway chat --phone`: the operator speaks as that phone.
            return await contacts.resolve(
                inbound.channel.value,
                inbound.address,
                phone=inbound.address,
                verified_by="console",
            )
        if inbound.channel is ChannelName.CONSOLE and inbound.address.startswith("telegram:"):
            # `gateway chat --telegram ID`: as that Telegram user, linked or not.
            user = await contacts.get(ChannelName.TELEGRAM.value, inbound.address[9:])
            if user is not None and user.is_verified and user.phone:
                return await contacts.resolve(
                    inbound.channel.value, inbound.address, phone=user.phone, verified_by="console"
                )
        if inbound.channel is ChannelName.EMAIL and inbound.meta.get("authenticated") == "dmarc":
            # The company relay vouches for the From address of this very message (the
            # e-mail channel read its Authentication-Results): the address may see the
            # accounts it is registered on. Per message, never stored.
            contact = await contacts.resolve(inbound.channel.value, inbound.address)
            return replace(contact, email=inbound.address)
        return await contacts.resolve(inbound.channel.value, inbound.address)

    def _context(
        self,
        entry_id: int,
        inbound: Inbound,
        contact: Contact,
        key: ConversationKey,
        state: Any,
    ) -> Context:
        shared = None
        if inbound.contact is not None:
            own = inbound.contact.user_id is not None and inbound.contact.user_id == (
                inbound.user_id if inbound.user_id is not None else _int(inbound.address)
            )
            shared = SharedPhone(normalize_phone(inbound.contact.phone, self.phone_region), own)
        return Context(
            key=key,
            contact=contact,
            text=inbound.text,
            now=inbound.received_at,
            to=inbound.to,
            inbound_id=entry_id,
            shared=shared,
            is_callback=inbound.is_callback,
            media=inbound.meta.get("media"),
            state=state,
            meta=dict(inbound.meta),
        )

    async def _enqueue(self, entry_id: int, inbound: Inbound, outcome: Outcome) -> list[int]:
        ids = []
        for index, reply in enumerate(outcome.replies):
            outbound = self.outbound_for(inbound, reply)
            outbox_id = await self.store.outbox.enqueue(
                NewMessage(
                    channel=outbound.channel.value,
                    address=outbound.address,
                    payload=outbound.model_dump_json(),
                    priority=PRIORITY_REPLY,
                    # One row per (inbound, reply): processing again after a crash
                    # does not send the reply twice.
                    idempotency_key=f"reply:{entry_id}:{index}",
                    phone=inbound.address if inbound.address.startswith("+") else None,
                )
            )
            ids.append(outbox_id)
        return ids

    def outbound_for(self, inbound: Inbound, reply: Reply) -> Outbound:
        route: dict[str, str | None] = {}
        if reply.to is not None:
            channel = ChannelName(reply.to.channel)
            address = reply.to.address
        else:
            channel = inbound.channel
            address = inbound.address
            # Replies come from the number the customer wrote to (docs/architecture.md, Numbers),
            # and an e-mail reply keeps the customer's thread.
            route = reply_route(channel, inbound.to)
        return Outbound(
            channel=channel,
            address=address,
            text=reply.text,
            **route,
            buttons=tuple(
                tuple(Button(text=label, data=data) for label, data in row)
                for row in reply.choices
            ),
            request_contact=reply.request_contact,
            # The answer to a shared contact hides the share keyboard (unless it asks
            # again, or carries inline buttons: a message has one keyboard).
            remove_keyboard=inbound.contact is not None
            and reply.to is None
            and not reply.request_contact
            and not reply.choices,
        )

    async def _apologise(self, entry_id: int, inbound: Inbound) -> None:
        """A message the bot failed on goes to a person (the customer hears by when);
        when even that cannot be written, the customer gets an apology."""
        try:
            async with self.store.db.transaction():
                contact = await self._resolve(inbound)
                key = ConversationKey(inbound.channel.value, inbound.address)
                ctx = self._context(entry_id, inbound, contact, key, None)
                failed = Outcome((Reply(APOLOGY),), KEEP, InboxNote("unrecognised"))
                intake = await self.inbox.take(ctx, failed)
                ids = await self._enqueue(entry_id, inbound, intake.outcome)
                await self.inbox.record_replies(
                    intake, intake.outcome.replies, ids, inbound.received_at
                )
                await self.store.journal.mark_processed(entry_id, error="handler failed")
        except Exception:
            log.exception("engine: could not hand inbound %d over to a person", entry_id)
            try:
                async with self.store.db.transaction():
                    await self._enqueue(entry_id, inbound, Outcome((Reply(APOLOGY),), KEEP))
                    await self.store.journal.mark_processed(entry_id, error="handler failed")
            except Exception:
                log.exception("engine: could not even apologise for inbound %d", entry_id)
        self._wake()

    # -- locks -------------------------------------------------------------------------

    async def _after_earlier(self, entry_id: int, key: ConversationKey) -> None:
        """On a store shared by instances: wait (bounded) until the conversation's
        earlier messages are processed, wherever they were journaled."""
        if self.store.db.dialect != "postgresql":
            return  # one process: the conversation's lock is taken in journal order
        journal = self.store.journal
        if not await journal.earlier_unprocessed(entry_id, key.channel, key.address):
            return
        self.order_waits += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.order_wait
        while loop.time() < deadline:
            await asyncio.sleep(ORDER_POLL)
            if not await journal.earlier_unprocessed(entry_id, key.channel, key.address):
                return
        log.warning("engine: inbound %d goes before an earlier one of %s, still unprocessed",
                    entry_id, mask_phone(key.address))

    def _lock(self, key: ConversationKey) -> _KeyLock:
        return _KeyLock(self, key)


class _KeyLock:
    """A lock per conversation, dropped when nobody holds or waits for it."""

    def __init__(self, engine: ConversationEngine, key: ConversationKey) -> None:
        self.engine = engine
        self.key = key

    async def __aenter__(self) -> None:
        engine = self.engine
        lock = engine._locks.setdefault(self.key, asyncio.Lock())
        engine._lock_users[self.key] = engine._lock_users.get(self.key, 0) + 1
        try:
            await lock.acquire()
        except BaseException:
            self._release_user()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self.engine._locks[self.key].release()
        self._release_user()

    def _release_user(self) -> None:
        engine = self.engine
        users = engine._lock_users[self.key] - 1
        if users:
            engine._lock_users[self.key] = users
        else:
            del engine._lock_users[self.key]
            del engine._locks[self.key]


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None

