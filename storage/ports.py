"""Storage ports: what the rest of the service may ask of storage, one Protocol per role.

Handlers, the engine and the notification sender reach storage only through these
(`Store`'s fields are typed as them). The SQLite classes in `storage.repos` and
`storage.outbox` implement them, and mypy checks that structurally where `Store.over`
builds them; a PostgreSQL (asyncpg) implementation is added beside them without
touching any caller, and the contract tests in tests/storage/test_repos.py run over
every implementation.

Each port lists exactly the methods production code calls. Helpers only tests use
(e.g. `OutboxRepo.get`, `ReadingRepo.export_rows`) stay on the implementations, and so
do SQL details (statement batching, page sizes, the `Database` they run on). Times are
aware datetimes; `now`/`at` arguments are the caller's clock.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from storage.inbox import AuditEntry, InboxMessage, InboxThread, LabelledMessage, NewInboxMessage
from storage.models import (
    Account,
    Appeal,
    Contact,
    ConversationKey,
    ConversationState,
    JournalEntry,
    NewReading,
    Outage,
    OutboxItem,
    ReadingRecord,
    UnlinkedSubmission,
)
from storage.outbox import NewMessage, PartRecord, Receipt, SubmitAnswer, SubmitMark
from storage.staff import Role, StaffAccount


class Registry(Protocol):
    """The billing registry, read-only: accounts with their phones and meters. Lists come
    sorted (phones and meters of an account, accounts of a phone)."""

    async def get_account(self, number: str) -> Account | None: ...

    async def accounts_for_phone(self, phone: str) -> list[str]:
        """The account numbers a phone is registered on, ascending."""
        ...

    async def phone_on_account(self, phone: str, account: str) -> bool: ...

    async def accounts_for_email(self, email: str) -> list[str]:
        """The account numbers an e-mail address (any case) is registered on, ascending."""
        ...

    async def email_on_account(self, email: str, account: str) -> bool: ...


class Contacts(Protocol):
    """People on channels, one per (channel, address). An SMS contact's phone is its
    address, verified by the network; a Telegram contact has a phone only once verified
    (shared contact, SMS code). Also keeps the linking codes and failed identification
    attempts that rate-limit linking."""

    async def get(self, channel: str, address: str) -> Contact | None: ...

    async def by_id(self, contact_id: int) -> Contact | None: ...

    async def resolve(
        self,
        channel: str,
        address: str,
        *,
        phone: str | None = None,
        verified_by: str | None = None,
    ) -> Contact:
        """Get the contact, creating it if new; the phone (and `verified_by`) is only set
        on creation, an existing contact is returned as it is."""
        ...

    async def seen(self, contact_id: int, at: datetime) -> None:
        """The contact wrote to us at `at` (notices go to the messenger written from last)."""
        ...

    async def verify_phone(self, contact_id: int, phone: str, verified_by: str) -> None: ...

    async def unlink(self, contact_id: int) -> None:
        """Forget the contact's verified phone."""
        ...

    async def set_blocked(self, channel: str, address: str, blocked: bool) -> None:
        """The person blocked the bot (or unblocked it); a no-op for an unknown address."""
        ...

    async def set_opted_out(self, contact_id: int, opted_out: bool) -> None:
        """«СТОП»: the contact wants no optional notices (reminders, surveys)."""
        ...

    async def add_link_code(
        self, contact_id: int, phone: str, code_hash: str, created_at: datetime,
        expires_at: datetime,
    ) -> int:
        """Record a linking code sent to `phone` (only its hash); returns its id."""
        ...

    async def link_codes_since(
        self, since: datetime, *, phone: str | None = None, contact_id: int | None = None
    ) -> int:
        """How many codes were sent since a moment to a phone, or else to a contact."""
        ...

    async def live_link_code(
        self, contact_id: int, now: datetime
    ) -> tuple[int, str, str, int] | None:
        """The contact's newest unused, unexpired code: (id, phone, code_hash, tries)."""
        ...

    async def link_code_tried(self, code_id: int, *, used: bool) -> None:
        """Count one try of a code; `used` retires it."""
        ...

    async def add_auth_failure(self, channel: str, address: str, at: datetime) -> None: ...

    async def auth_failures_since(self, channel: str, address: str, since: datetime) -> int: ...


class Readings(Protocol):
    """Meter readings the gateway accepted or holds for confirmation.

    A key is (account, meter serial, zone, period "YYYY-MM"); statuses are pending,
    accepted, replaced, rejected. Accepting a reading (saved as accepted, or confirmed)
    replaces the accepted one of its key: a correction. Readings of the console channel
    (`gateway chat`) and real ones are separate lanes: one never replaces the other; so
    are readings of linked contacts and of unlinked senders (`linked`). `current`,
    `last_before` and `history` read the linked lane only: a stranger's value is never
    the base the owner's readings are checked against. The export names, per key, the
    newest linked reading, or the newest unlinked one while there is none.
    """

    async def current(
        self, account: str, serial: str, zone: str, period: str
    ) -> ReadingRecord | None:
        """The newest accepted linked reading of the key (console or real lane)."""
        ...

    async def last_before(
        self, account: str, serial: str, zone: str, period: str
    ) -> ReadingRecord | None:
        """The newest accepted reading of an earlier period (the base for validation)."""
        ...

    async def history(self, account: str, serial: str, zone: str) -> list[ReadingRecord]:
        """Accepted readings, one per period (the newest), oldest period first."""
        ...

    async def save(self, readings: Sequence[NewReading]) -> tuple[list[int], bool]:
        """Store readings atomically, in order; accepted ones replace the accepted reading
        of their key in their lane. Returns the new ids (in order) and whether any earlier
        value was replaced."""
        ...

    async def pending(self, ids: Iterable[int]) -> list[ReadingRecord]:
        """Those of `ids` still pending, by id."""
        ...

    async def confirm(self, ids: Iterable[int]) -> bool:
        """Accept the pending ones of `ids` atomically (replacing as `save` does); returns
        whether one replaced another. Ids no longer pending are ignored."""
        ...

    async def reject(self, ids: Iterable[int]) -> None:
        """Reject the pending ones of `ids`; others are left as they are."""
        ...

    async def add_unlinked(self, submission: UnlinkedSubmission) -> int:
        """Record readings sent by a sender not linked to the account."""
        ...

    async def unlinked_since(
        self, channel: str, address: str, since: datetime
    ) -> list[tuple[str, datetime]]:
        """(account, received_at) of one sender's unlinked submissions since `since`,
        not counting those refused by a limit (the probing limits count these)."""
        ...

    async def unlinked_for_account_since(self, account: str, since: datetime) -> int:
        """Unlinked submissions for the account since `since`, from any sender, not
        counting those refused by a limit."""
        ...

    async def unlinked(
        self, outcome: str | None = None, limit: int = 100
    ) -> list[UnlinkedSubmission]:
        """The newest unlinked submissions, of one outcome when given (staff check)."""
        ...

    def iter_export_rows(
        self, period: str | None, include_console: bool
    ) -> AsyncGenerator[ReadingRecord, None]:
        """The current accepted readings for billing (docs/interfaces.md §4), streamed: one
        per key (with console readings included, the newest of the two lanes), ordered by
        period, account, meter serial, zone. `period` None: every period. Close it
        (`contextlib.aclosing`) when not consuming it to the end."""
        ...


class ConversationStates(Protocol):
    """One conversation state per `ConversationKey` (pending confirmation, linking,
    survey …). An expired state reads as none."""

    async def get(
        self, key: ConversationKey, now: datetime | None = None
    ) -> ConversationState | None:
        """The state, unless it expired by `now` (None: the current time)."""
        ...

    async def set(self, key: ConversationKey, state: ConversationState | None) -> None:
        """Replace the state; None clears it."""
        ...


class Journal(Protocol):
    """The inbound journal: every message is stored before its channel acknowledges it,
    deduplicated by (channel, external_id), so a redelivery is recognised."""

    async def append(
        self, channel: str, external_id: str, address: str, payload: str, received_at: datetime
    ) -> tuple[int, bool]:
        """Store a message: (id, True) when new; (the first one's id, False) when that
        (channel, external_id) is stored already."""
        ...

    async def mark_processed(self, entry_id: int, error: str | None = None) -> None: ...

    async def unprocessed(self, limit: int = 1000) -> list[JournalEntry]:
        """Entries not marked processed, oldest (by id) first (replayed at start-up)."""
        ...

    async def is_processed(self, entry_id: int) -> bool:
        """Whether the entry is marked processed (by this or another instance)."""
        ...

    async def earlier_unprocessed(self, entry_id: int, channel: str, address: str) -> bool:
        """Whether an entry of the same conversation journaled before `entry_id` is not
        processed yet (several instances keep a conversation's order by waiting)."""
        ...


class Appeals(Protocol):
    """Appeals (обращения): numbered tickets with a due time, their messages (the first
    and each repeat), staff answers and links to known outages."""

    async def create(
        self,
        *,
        contact_id: int,
        channel: str,
        address: str,
        reply_source: str | None,
        account: str | None,
        category: str,
        text: str,
        created_at: datetime,
        due_at: datetime,
        outage_id: int | None = None,
        status: str = "open",
    ) -> Appeal:
        """Register an appeal and its first message atomically; returns it numbered."""
        ...

    async def get(self, appeal_id: int) -> Appeal | None: ...

    async def open_for(self, contact_id: int, category: str) -> Appeal | None:
        """The contact's newest open appeal of the category (a repeat joins it)."""
        ...

    async def add_repeat(self, appeal_id: int, text: str, at: datetime) -> None:
        """Add a repeated message to an appeal and count it, atomically."""
        ...

    async def answer(self, appeal_id: int, text: str, by: str, at: datetime) -> Appeal | None:
        """Record a staff answer (status answered), kept beside the earlier ones; returns
        the appeal, None if unknown."""
        ...

    async def answers(self, appeal_id: int) -> list[tuple[str, str, datetime]]:
        """Every staff answer to the appeal: (text, who, when), oldest first."""
        ...

    async def recent(self, status: str | None = None, limit: int = 100) -> list[Appeal]:
        """With a status: those appeals, soonest due first; without: the newest first."""
        ...

    async def between(self, start: datetime, end: datetime) -> list[Appeal]:
        """Appeals created in [start, end), by id (quarterly analysis)."""
        ...

    async def messages(self, appeal_id: int) -> list[tuple[str, datetime]]:
        """The appeal's messages (text, received at), oldest first."""
        ...

    async def for_outage(self, contact_id: int, outage_id: int) -> Appeal | None:
        """The contact's newest appeal linked to that outage (a second «нет света»)."""
        ...


class Outages(Protocol):
    """Known outages, planned or not: staff broadcasts create them, outage appeals are
    answered from them. Status active → restored | cancelled, each once."""

    async def create(
        self,
        *,
        settlement: str,
        street: str,
        houses: str,
        reason: str,
        start_at: datetime,
        until_at: datetime,
        planned: bool,
    ) -> Outage: ...

    async def get(self, outage_id: int) -> Outage | None: ...

    async def active(self, now: datetime) -> list[Outage]:
        """Active outages whose window has started by `now` and whose expected end is
        less than a day past (a forgotten one still explains a dark house, not forever),
        by id."""
        ...

    async def set_campaign(self, outage_id: int, campaign_id: int, *, restored: bool) -> None:
        """Link the notice campaign (`restored`: the «power restored» one)."""
        ...

    async def cancel(self, outage_id: int, at: datetime) -> Outage | None:
        """A planned outage called off: active → cancelled (other states are kept)."""
        ...

    async def restore(self, outage_id: int, at: datetime) -> Outage | None:
        """Power is back: active → restored (other states are kept)."""
        ...

    async def extend(self, outage_id: int, until: datetime) -> Outage | None:
        """The repair runs late: an active outage's expected end moves to `until`
        (other states are kept)."""
        ...

    async def recent(self, *, active_only: bool = False, limit: int = 200) -> list[Outage]:
        """The newest outages first; `active_only`: neither restored nor cancelled
        (planned ones not begun included)."""
        ...


class Outbox(Protocol):
    """Every reply and notice, durable until its channel took it.

    Due messages are claimed best priority first (lower number first, then oldest) under
    a lease: a claimed message is not claimed again until the lease runs out, so a sender
    that dies leaves its messages to be claimed again, and each claim counts one attempt.
    An idempotency key makes a message unique: enqueuing it again adds nothing.
    A sent message's final state comes from its delivery receipts: it takes the worst
    state of its parts once none is pending; a receipt may arrive before the message ids
    were recorded and is then applied when they are.
    """

    async def enqueue(self, msg: NewMessage) -> int:
        """Add a message; returns its id, or 0 when its idempotency key exists already."""
        ...

    async def claim(
        self,
        now: datetime,
        limit: int,
        lease: timedelta,
        *,
        channels: Sequence[str] | None = None,
        max_priority: int | None = None,
    ) -> list[OutboxItem]:
        """Lease up to `limit` messages due at `now` (queued or deferred and not before
        `now`, or with an expired lease), optionally of some channels / of priority at
        most `max_priority`; returned as leased, `attempts` counting this try."""
        ...

    async def mark_sent_many(
        self, sent: Sequence[tuple[int, str, Sequence[str], int]], at: datetime
    ) -> None:
        """Record sent messages atomically: (id, channel, message ids, parts) each; early
        receipts for those ids are applied."""
        ...

    async def mark_final(self, item_id: int, status: str, error: str | None = None) -> None:
        """failed | expired | cancelled | delivered (Telegram: accepted means delivered)."""
        ...

    async def retry_at(self, item_id: int, when: datetime, error: str) -> None:
        """Queue again from `when` (a retryable error); the attempt stays counted."""
        ...

    async def reroute(self, item_id: int, channel: str, address: str, payload: str) -> None:
        """Send the same message on another channel (Telegram blocked → SMS), queued
        again with its attempts reset."""
        ...

    async def report_many(self, receipts: Sequence[Receipt]) -> list[int | None]:
        """Apply delivery receipts in order, atomically; returns each one's outbox id,
        None where the message id is not recorded yet (kept until it is)."""
        ...

    async def journal(
        self, answers: Sequence[SubmitAnswer], marks: Sequence[SubmitMark]
    ) -> None:
        """The submit journal: record the SMSC's answers to parts, then parts about to
        be submitted, atomically (accepted ids are mapped for receipts at once)."""
        ...

    async def extend_lease(self, outbox_ids: Sequence[int], until: datetime) -> None:
        """Messages still held by their sender keep their lease until `until`."""
        ...

    async def forget_submits(self) -> int:
        """Drop the journal of messages that can no longer be claimed."""
        ...

    async def parts(self, outbox_ids: Sequence[int]) -> dict[int, list[PartRecord]]:
        """The journal's records of these messages' parts, by outbox id."""
        ...

    async def describe(self, outbox_ids: Sequence[int]) -> dict[int, OutboxItem]:
        """These rows, by id."""
        ...

    async def stuck(self, now: datetime) -> int:
        """Messages still `sending` after their lease ran out at `now`."""
        ...

    async def forget_early_receipts(self, before: datetime) -> int:
        """Drop receipts for still unknown ids that arrived before `before`."""
        ...

    async def release(self, items: Sequence[tuple[int, datetime]]) -> None:
        """Give claimed messages back unsent, queued again at the given time, the claim
        not counted as an attempt (a rate limit said «not yet»)."""
        ...

    async def defer_priority(self, min_priority: int, until: datetime) -> int:
        """Quiet hours: queued messages of `min_priority` or worse due before `until` wait
        until then (deferred); returns how many."""
        ...


class StaffAccounts(Protocol):
    """Accounts of the people who use the web workspace, and their failed logins (kept in
    the store so that every instance of one gateway counts them together). Logins are
    unique; an account is disabled, never deleted (the audit names it)."""

    async def add(
        self, login: str, role: Role, password_hash: str, at: datetime
    ) -> StaffAccount | None:
        """The new account, or None when the login is taken (nothing changed)."""
        ...

    async def get(self, login: str) -> StaffAccount | None: ...

    async def all(self) -> list[StaffAccount]:
        """Every account, by login."""
        ...

    async def disable(self, login: str, at: datetime) -> bool:
        """False when there is no such enabled account."""
        ...

    async def set_password_hash(self, login: str, password_hash: str) -> None:
        """Replace the hash (a rehash with stronger parameters after a login)."""
        ...

    async def record_failure(self, login: str, address: str, at: datetime) -> None: ...

    async def failures_since(
        self, since: datetime, *, login: str, address: str
    ) -> tuple[int, int]:
        """(failures of this login, failures from this address) at or after `since`."""
        ...

    async def forget_failures(self, before: datetime) -> None: ...


class Inbox(Protocol):
    """Inbox threads (docs/interfaces.md §12): one contact's conversation with people,
    at most one live (not closed) per contact; messages in both directions."""

    async def create(
        self,
        *,
        contact_id: int,
        channel: str,
        address: str,
        reply_source: str | None,
        kind: str,
        due_at: datetime | None,
        appeal_id: int | None,
        text: str,
        received_at: datetime,
    ) -> InboxThread:
        """Open a thread (state open); the caller checked that none is live."""
        ...

    async def get(self, thread_id: int) -> InboxThread | None: ...

    async def live_for(self, contact_id: int) -> InboxThread | None:
        """The contact's thread that is not closed, if any."""
        ...

    async def for_appeal(self, appeal_id: int) -> InboxThread | None: ...

    async def add_message(self, thread_id: int, msg: NewInboxMessage) -> int:
        """Append a message; returns its id, 0 when that inbound message (or outbox row)
        is in a thread already."""
        ...

    async def link_outbox(self, message_id: int, outbox_id: int) -> None:
        """Record the outbox row that carries a message sent from the thread."""
        ...

    async def customer_wrote(
        self,
        thread_id: int,
        text: str,
        at: datetime,
        *,
        reopen_due: datetime | None = None,
        first_unhandled: int | None = None,
    ) -> None:
        """Record the latest customer message; `reopen_due` sets an answered thread open
        again, due then; `first_unhandled` is kept only if none is set yet."""
        ...

    async def acknowledge(self, thread_id: int, at: datetime) -> None:
        """The automatic «специалист ответит до …» went out (once per thread)."""
        ...

    async def link_appeal(self, thread_id: int, appeal_id: int, due_at: datetime) -> None: ...

    async def mark_answered(self, thread_id: int, by: str, at: datetime) -> None: ...

    async def close(
        self, thread_id: int, by: str, at: datetime, label: dict[str, Any] | None
    ) -> bool:
        """Close a live thread, with a label when given; False if it was closed already."""
        ...

    async def answers_after(self, thread_id: int, after: int) -> list[InboxMessage]:
        """Messages people sent in the thread after message id `after`."""
        ...

    async def messages(self, thread_id: int) -> list[InboxMessage]: ...

    async def attachment(self, message_id: int) -> tuple[dict[str, Any], bytes | None] | None:
        """An attachment's description and bytes (None: it was over the size limit)."""
        ...

    async def keep_attachment(self, message_id: int, data: bytes) -> None:
        """Keep the bytes of a message's attachment (fetched from its channel)."""
        ...

    async def items(
        self,
        now: datetime,
        *,
        state: str | None = None,
        channel: str | None = None,
        kind: str | None = None,
        category: str | None = None,
        limit: int = 200,
    ) -> list[InboxThread]:
        """Threads, most urgent first: overdue at `now`, then by due time, then by the
        latest customer message."""
        ...

    async def count_open(self) -> int: ...

    async def labelled(self) -> list[LabelledMessage]:
        """Every labelled thread's first message the bot could not handle, by thread."""
        ...


class Audit(Protocol):
    """The audit log, append-only: who (a staff login, `api`, `telegram:<id>`) did what
    (`inbox.reply`, `appeal.answer`, …) to which subject (`inbox:12`), when."""

    async def append(
        self, actor: str, action: str, subject: str, details: dict[str, Any], at: datetime
    ) -> int: ...

    async def recent(self, subject: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest entries first, optionally of one subject."""
        ...


class NoticeChannels(Protocol):
    """The channel each person (phone) chose for notices, and where a person can be
    reached on a channel (docs/interfaces.md §14)."""

    async def choose(
        self, phones: Iterable[str], channel: str, address: str | None, at: datetime
    ) -> None: ...

    async def chosen(self, phone: str) -> tuple[str, str] | None: ...

    async def phones_for_email(self, email: str) -> list[str]: ...

    async def registry_email(self, phones: Iterable[str]) -> str | None: ...

    async def messenger_address(self, channel: str, phones: Iterable[str]) -> str | None: ...


class OpsStats(Protocol):
    """Aggregates read when `/metrics` is scraped (docs/interfaces.md §13)."""

    async def outbox_depth(self) -> dict[int, int]:
        """Messages the sender still has to send (queued, deferred, claimed), by
        priority (`storage.outbox.PRIORITY_*`)."""
        ...

    async def appeals_overdue(self, now: datetime) -> int:
        """Open appeals whose due time is before `now`."""
        ...
