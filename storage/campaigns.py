"""Campaigns: notices to many people, built into the outbox by SQL, not in Python.

A campaign's audience is selected and routed by one `INSERT … SELECT` (100 000
recipients in about a second, without loading them into memory). A recipient is a
person: one phone number, however many accounts it holds in the audience, sent once on
its preferred channel — Telegram when a verified, unblocked Telegram contact has that
phone, SMS otherwise. The idempotency key makes each (campaign, person) one outbox row,
so building a campaign twice adds nothing.

Rows of campaigns whose text is the same for everybody (outages, power restored,
reminders) carry `TEMPLATE_PAYLOAD`, and the text lives once in the campaign's params
(`{"templates": {"sms": …, "telegram": …}}`); the sender renders it. Billing notices
(invoices, debts) differ per account and carry their full payload.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.address import HouseSpec, settlement_key, street_key
from storage.db import Database, from_db, from_db_opt, insert_id, to_db, utcnow
from storage.models import OutboxItem
from storage.notices import respects_opt_out
from storage.routing import Person, messengers, route, route_sql

# The payload of a row whose text is the campaign's template for the row's channel.
TEMPLATE_PAYLOAD = '{"tpl":1}'

KINDS = ("invoice", "debt", "outage", "restored", "reminder", "survey", "answer")

# Progress states of docs/interfaces.md §10, each row counted in exactly one.
STATES = ("queued", "sent", "delivered", "failed", "deferred", "cancelled")


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    kind: str
    title: str
    status: str
    params: dict[str, Any]
    created_at: datetime
    recipients: int


@dataclass(frozen=True, slots=True)
class AreaAudience:
    """The customers at an address: a settlement, optionally one street, optionally a
    house list («1-15,17,21А»). Matching ignores case, «г.», «ул.» and ё/е."""

    settlement: str
    street: str = ""
    houses: str = ""


@dataclass(frozen=True, slots=True)
class CampaignAudience:
    """The people of an earlier campaign (the «power restored» follow-up); with
    `reached_only`, only those whose message went out (a called-off planned outage is
    news only to people who were told of it)."""

    campaign_id: int
    reached_only: bool = False


@dataclass(frozen=True, slots=True)
class SubscriberAudience:
    """Everyone who uses the gateway: phones on some account with a contact (an SMS
    sender, a linked Telegram user)."""


Audience = AreaAudience | CampaignAudience | SubscriberAudience


@dataclass(frozen=True, slots=True)
class Routing:
    """How an audience becomes outbox rows.

    `telegram`: prefer Telegram where the person is linked (False for legally required
    notices, which go by SMS for their delivery receipts, and when Telegram is off).
    `respect_opt_out`: drop people who said «СТОП» (the kinds `storage.notices` lists).
    """

    telegram: bool = True
    respect_opt_out: bool = False
    # Channels besides SMS that run now: a person who chose one of them gets notices
    # there (storage.routing, docs/interfaces.md §14).
    running: frozenset[str] = frozenset()
    # A notice the law requires by SMS (debt, restriction): SMS always, and also the
    # chosen channel.
    required: bool = False


@dataclass(frozen=True, slots=True)
class AudienceCounts:
    accounts: int
    recipients: int
    sms: int
    telegram: int
    email: int = 0
    max: int = 0


@dataclass(frozen=True, slots=True)
class Progress:
    """A campaign's rows by state (docs/interfaces.md §10); the states add up to recipients."""

    campaign: int
    kind: str
    recipients: int
    counts: dict[str, int] = field(default_factory=dict)
    # Recipients who may have got the notice twice after a crash (a part re-sent after
    # its first submit went unanswered); not one of the states, not in their sum.
    possible_duplicates: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "kind": self.kind,
            "recipients": self.recipients,
            **{state: self.counts.get(state, 0) for state in STATES},
            "possible_duplicates": self.possible_duplicates,
        }

    @property
    def done(self) -> bool:
        return not (self.counts.get("queued", 0) or self.counts.get("deferred", 0))


@dataclass(frozen=True, slots=True)
class UndeliveredRow:
    account: str
    phone: str
    channel: str
    status: str
    sent_at: datetime | None
    error: str


@dataclass(frozen=True, slots=True)
class BillingMessage:
    """One billing notice for one account: its text per channel."""

    account: str
    sms_text: str
    telegram_text: str


def _campaign(row: Any) -> Campaign:
    return Campaign(
        id=row["id"],
        kind=row["kind"],
        title=row["title"],
        status=row["status"],
        params=json.loads(row["params"]),
        created_at=from_db(row["created_at"]),
        recipients=row["recipients"],
    )


def _messenger_of(channels: tuple[str, ...]) -> str:
    """SQL: the id of the person's (`p.phone`) linked, unblocked contact on one of
    `channels` (a fixed set of names) that wrote last; NULL when there is none."""
    if not channels:
        return "NULL"
    names = ", ".join(repr(c) for c in channels)
    return (
        f"(SELECT c.id FROM contacts c WHERE c.channel IN ({names}) AND c.phone = p.phone"
        " AND c.verified_by IS NOT NULL AND c.blocked = 0"
        " ORDER BY coalesce(c.last_inbound_at, '') DESC, c.id LIMIT 1)"
    )


_NOT_OPTED_OUT = (
    "NOT EXISTS (SELECT 1 FROM contacts o WHERE o.phone = p.phone AND o.opted_out = 1)"
)

# The §10 states of a campaign's rows. An expired row never sent was dropped on purpose
# (power back, validity over): cancelled. One sent and then reported expired by the
# SMSC was not delivered.
_PROGRESS_COLUMNS = (
    "count(*) AS recipients,"
    " coalesce(sum(CASE WHEN status IN ('queued', 'sending') THEN 1 ELSE 0 END), 0) AS queued,"
    " coalesce(sum(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), 0) AS sent,"
    " coalesce(sum(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END), 0) AS delivered,"
    " coalesce(sum(CASE WHEN status = 'failed' OR (status = 'expired'"
    " AND sent_at IS NOT NULL) THEN 1 ELSE 0 END), 0) AS failed,"
    " coalesce(sum(CASE WHEN status = 'deferred' THEN 1 ELSE 0 END), 0) AS deferred,"
    " coalesce(sum(CASE WHEN status = 'cancelled' OR (status = 'expired'"
    " AND sent_at IS NULL) THEN 1 ELSE 0 END), 0) AS cancelled,"
    " coalesce(sum(possible_duplicate), 0) AS possible_duplicates"
)

# More distinct houses than this are matched in a worker thread, off the event loop.
_HOUSES_ON_LOOP = 2000

_INSERT_COLUMNS = (
    "channel, address, payload, priority, status, not_before, valid_until, campaign_id,"
    " account, phone, idempotency_key, created_at"
)


class CampaignRepo:
    """Campaigns and their outbox rows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _area_houses(self, audience: AreaAudience) -> list[str] | None:
        """The houses of the settlement (and street) that the house list covers, or
        None for every house. House lists («1-15,17,21А») are matched by the one Python
        rule (storage.address.HouseSpec) over the area's distinct houses, then named in
        SQL: no function is registered in the database (one registered per request
        failed under concurrent requests, «Error creating function»), and the SQL stays
        portable to PostgreSQL."""
        spec = HouseSpec(audience.houses)
        if spec.every:
            return None
        rows = await self.db.fetchall(
            "SELECT DISTINCT house FROM accounts WHERE settlement_key = :s"
            " AND (:st = '' OR street_key = :st)",
            {"s": settlement_key(audience.settlement), "st": street_key(audience.street)},
        )
        houses = [str(r["house"] or "") for r in rows]
        if len(houses) > _HOUSES_ON_LOOP:  # a whole city: matching is CPU work
            return await asyncio.to_thread(_matching, spec, houses)
        return _matching(spec, houses)

    # -- campaigns ---------------------------------------------------------------------

    async def create(
        self, kind: str, title: str, params: dict[str, Any], *, status: str = "building"
    ) -> int:
        return await insert_id(self.db, 
            "INSERT INTO campaigns (kind, title, status, params, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (kind, title, status, json.dumps(params, ensure_ascii=False), to_db(utcnow())),
        )

    async def find_import(self, kind: str, digest: str) -> int | None:
        """The campaign, not cancelled, built from a billing file with this digest."""
        value = await self.db.fetchval(
            "SELECT id FROM campaigns WHERE kind = ? AND status != 'cancelled'"
            f" AND {self._digest} = ? ORDER BY id LIMIT 1",
            (kind, digest),
        )
        return None if value is None else int(value)

    @property
    def _digest(self) -> str:
        """SQL: the billing file digest in a campaign's JSON `params` (the one JSON
        function that differs between the stores)."""
        if self.db.dialect == "postgresql":
            return "(params::jsonb ->> 'digest')"
        return "json_extract(params, '$.digest')"

    async def cancelled_imports(self, kind: str, digest: str) -> list[int]:
        """Cancelled campaigns built from a billing file with this digest: a file sent
        anew after a cancel must not notify again those its first campaign reached."""
        rows = await self.db.fetchall(
            "SELECT id FROM campaigns WHERE kind = ? AND status = 'cancelled'"
            f" AND {self._digest} = ? ORDER BY id",
            (kind, digest),
        )
        return [int(r["id"]) for r in rows]

    async def reached(
        self, campaign_ids: Sequence[int], accounts: Sequence[str]
    ) -> set[tuple[str, str]]:
        """(account, phone) of these accounts that the campaigns' messages reached
        (handed to a channel: sent or delivered)."""
        found: set[tuple[str, str]] = set()
        if not campaign_ids:
            return found
        ids = ",".join(str(int(c)) for c in campaign_ids)
        for chunk in _chunks(sorted(set(accounts)), 500):
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetchall(
                f"SELECT account, phone FROM outbox WHERE campaign_id IN ({ids})"
                f" AND status IN ('sent', 'delivered') AND phone IS NOT NULL AND copy = 0"
                f" AND account IN ({marks})",
                chunk,
            )
            found.update((r["account"], r["phone"]) for r in rows)
        return found

    async def get(self, campaign_id: int) -> Campaign | None:
        row = await self.db.fetchone("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
        return None if row is None else _campaign(row)

    async def recent(self, limit: int = 100) -> list[tuple[Campaign, Progress]]:
        """The newest campaigns first, each with its progress (docs/interfaces.md §10)."""
        rows = await self.db.fetchall(
            "SELECT * FROM campaigns ORDER BY id DESC LIMIT ?", (limit,)
        )
        campaigns = [_campaign(r) for r in rows]
        if not campaigns:
            return []
        ids = ",".join(str(c.id) for c in campaigns)
        counted = await self.db.fetchall(
            f"SELECT campaign_id, {_PROGRESS_COLUMNS} FROM outbox"
            f" WHERE campaign_id IN ({ids}) AND copy = 0 GROUP BY campaign_id"
        )
        by_id = {int(r["campaign_id"]): r for r in counted}
        found = []
        for campaign in campaigns:
            row = by_id.get(campaign.id)
            counts = {state: int(row[state]) if row else 0 for state in STATES}
            recipients = int(row["recipients"]) if row else 0
            duplicates = int(row["possible_duplicates"]) if row else 0
            found.append((
                campaign,
                Progress(campaign.id, campaign.kind, recipients, counts, duplicates),
            ))
        return found

    async def update_params(self, campaign_id: int, changes: dict[str, Any]) -> None:
        """Merge `changes` into the campaign's params (read and written in Python: no
        JSON functions in SQL). Unsent templated rows render the new texts."""
        async with self.db.transaction():
            value = await self.db.fetchval(
                "SELECT params FROM campaigns WHERE id = ?", (campaign_id,)
            )
            if value is None:
                return
            params = {**json.loads(value), **changes}
            await self.db.execute(
                "UPDATE campaigns SET params = ? WHERE id = ?",
                (json.dumps(params, ensure_ascii=False), campaign_id),
            )

    async def set_valid_until(self, campaign_id: int, until: datetime) -> int:
        """Move the validity of the campaign's rows not yet handed to a channel (an
        outage extended: its notice stays worth sending until the new end)."""
        return await self.db.execute(
            "UPDATE outbox SET valid_until = ? WHERE campaign_id = ?"
            " AND status IN ('queued', 'deferred')",
            (to_db(until), campaign_id),
        )

    async def find(self, kind: str, title: str) -> Campaign | None:
        """The latest campaign of a kind and title (e.g. the reminder of a period)."""
        row = await self.db.fetchone(
            "SELECT * FROM campaigns WHERE kind = ? AND title = ? ORDER BY id DESC LIMIT 1",
            (kind, title),
        )
        return None if row is None else _campaign(row)

    async def finish_building(self, campaign_id: int) -> int:
        """Count the rows, mark the campaign active; returns the recipients."""
        async with self.db.transaction():
            count = int(
                await self.db.fetchval(
                    "SELECT count(*) FROM outbox WHERE campaign_id = ? AND copy = 0",
                    (campaign_id,),
                )
            )
            await self.db.execute(
                "UPDATE campaigns SET status = 'active', recipients = ? WHERE id = ?"
                " AND status = 'building'",
                (count, campaign_id),
            )
        return count

    async def template(self, campaign_id: int) -> dict[str, str]:
        """The campaign's texts by channel (empty when its rows carry their own)."""
        value = await self.db.fetchval(
            "SELECT params FROM campaigns WHERE id = ?", (campaign_id,)
        )
        if value is None:
            return {}
        templates = json.loads(value).get("templates") or {}
        return {str(k): str(v) for k, v in templates.items()}

    # -- audiences -----------------------------------------------------------------------

    async def _people(self, audience: Audience) -> tuple[str, dict[str, Any]]:
        """A CTE `people(phone, account)`: one row per person, with one of their accounts
        (the smallest number, for the evidence columns)."""
        if isinstance(audience, AreaAudience):
            houses = await self._area_houses(audience)
            params: dict[str, Any] = {
                "a_settlement": settlement_key(audience.settlement),
                "a_street": street_key(audience.street),
            }
            if houses is None:
                in_houses = ""
            elif not houses:
                in_houses = " AND 1 = 0"
            else:
                params.update({f"h{i}": house for i, house in enumerate(houses)})
                in_houses = f" AND house IN ({', '.join(f':h{i}' for i in range(len(houses)))})"
            sql = (
                "area AS (SELECT number FROM accounts WHERE settlement_key = :a_settlement"
                f" AND (:a_street = '' OR street_key = :a_street){in_houses}),"
                " people AS (SELECT ap.phone AS phone, min(ap.account) AS account"
                " FROM account_phones ap JOIN area ON area.number = ap.account"
                " GROUP BY ap.phone)"
            )
            return sql, params
        if isinstance(audience, CampaignAudience):
            reached = " AND status IN ('sent', 'delivered')" if audience.reached_only else ""
            sql = (
                "people AS (SELECT phone, min(account) AS account FROM outbox"
                f" WHERE campaign_id = :a_source AND phone IS NOT NULL{reached}"
                " GROUP BY phone)"
            )
            return sql, {"a_source": audience.campaign_id}
        sql = (
            "people AS (SELECT ap.phone AS phone, min(ap.account) AS account"
            " FROM account_phones ap WHERE EXISTS (SELECT 1 FROM contacts s"
            " WHERE s.phone = ap.phone AND s.verified_by IS NOT NULL) GROUP BY ap.phone)"
        )
        return sql, {}

    async def _routed(
        self, audience: Audience, routing: Routing
    ) -> tuple[str, dict[str, Any]]:
        people, params = await self._people(audience)
        messenger = _messenger_of(messengers(routing.running, telegram=routing.telegram))
        where = _NOT_OPTED_OUT if routing.respect_opt_out else "1 = 1"
        channel, address = route_sql(routing.running)
        sql = (
            f"WITH {people}, chosen AS (SELECT p.phone AS phone, p.account AS account,"
            " m.channel AS m_channel, m.address AS m_address,"
            " nc.channel AS nc_channel, nc.address AS nc_address"
            f" FROM people p LEFT JOIN contacts m ON m.id = {messenger}"
            " LEFT JOIN notice_channels nc ON nc.phone = p.phone"
            f" WHERE {where}),"
            f" routed AS (SELECT phone, account, {channel} AS ch, {address} AS addr"
            f" FROM chosen)"
        )
        return sql, params

    async def accounts_in(self, audience: AreaAudience) -> int:
        people, params = await self._people(audience)
        return int(await self.db.fetchval(f"WITH {people} SELECT count(*) FROM area", params))

    async def area_addresses(
        self, audience: AreaAudience, limit: int = 200
    ) -> list[tuple[str, str, str, int]]:
        """(settlement, street, house, accounts) of the houses an area matches, by street
        and house, at most `limit` of them: what staff check before a broadcast."""
        people, params = await self._people(audience)
        rows = await self.db.fetchall(
            f"WITH {people} SELECT a.settlement AS settlement, a.street AS street,"
            " a.house AS house, count(*) AS n FROM accounts a JOIN area ON area.number = a.number"
            " GROUP BY a.settlement, a.street, a.house ORDER BY a.street, a.house LIMIT :a_limit",
            {**params, "a_limit": limit},
        )
        return [(r["settlement"], r["street"], r["house"], int(r["n"])) for r in rows]

    async def count(self, audience: Audience, routing: Routing) -> AudienceCounts:
        """The audience without building anything (a dry run)."""
        routed, params = await self._routed(audience, routing)
        row = await self.db.fetchone(
            f"{routed} SELECT count(*) AS n,"
            " coalesce(sum(CASE WHEN ch = 'telegram' THEN 1 ELSE 0 END), 0) AS tg,"
            " coalesce(sum(CASE WHEN ch = 'email' THEN 1 ELSE 0 END), 0) AS email,"
            " coalesce(sum(CASE WHEN ch = 'max' THEN 1 ELSE 0 END), 0) AS mx"
            " FROM routed",
            params,
        )
        assert row is not None
        recipients, telegram, email = int(row["n"]), int(row["tg"]), int(row["email"])
        on_max = int(row["mx"])
        accounts = (
            await self.accounts_in(audience) if isinstance(audience, AreaAudience) else 0
        )
        return AudienceCounts(
            accounts, recipients, recipients - telegram - email - on_max, telegram, email,
            on_max,
        )

    async def enqueue_audience(
        self,
        campaign_id: int,
        audience: Audience,
        routing: Routing,
        *,
        priority: int,
        status: str = "queued",
        not_before: datetime | None = None,
        valid_until: datetime | None = None,
        key_prefix: str | None = None,
    ) -> int:
        """Insert one templated row per person of the audience; returns rows added.
        `key_prefix` (default `c<campaign>:`) + phone is the idempotency key."""
        routed, params = await self._routed(audience, routing)
        now = utcnow()
        params.update(
            payload=TEMPLATE_PAYLOAD,
            priority=priority,
            status=status,
            not_before=to_db(not_before or now),
            valid_until=to_db(valid_until) if valid_until else None,
            campaign=campaign_id,
            key=key_prefix if key_prefix is not None else f"c{campaign_id}:",
            now=to_db(now),
        )
        async with self.db.transaction():
            # Parameters in a SELECT list have no type PostgreSQL could infer: cast.
            # (`WHERE 1 = 1`: SQLite needs a WHERE before ON CONFLICT after a SELECT.)
            # By phone: the rows' ids, hence the sending order, are the same on both
            # stores (PostgreSQL's grouping has no order of its own).
            added = await self.db.execute(
                f"{routed} INSERT INTO outbox ({_INSERT_COLUMNS})"
                " SELECT ch, addr, CAST(:payload AS TEXT), CAST(:priority AS INTEGER),"
                " CAST(:status AS TEXT), CAST(:not_before AS TEXT),"
                " CAST(:valid_until AS TEXT), CAST(:campaign AS INTEGER), account, phone,"
                " CAST(:key AS TEXT) || phone, CAST(:now AS TEXT) FROM routed"
                " WHERE 1 = 1 ORDER BY phone ON CONFLICT (idempotency_key) DO NOTHING",
                params,
            )
            if self.db.dialect == "sqlite":
                # aiosqlite reports no row count for a statement starting with WITH.
                added = int(await self.db.fetchval("SELECT changes()"))
            return added

    async def by_channel(self, campaign_id: int) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT channel, count(*) AS n FROM outbox WHERE campaign_id = ? AND phone IS NOT NULL"
            " AND copy = 0 GROUP BY channel",
            (campaign_id,),
        )
        return {r["channel"]: int(r["n"]) for r in rows}

    # -- billing notices -----------------------------------------------------------------

    async def known_accounts(self, numbers: Iterable[str]) -> set[str]:
        wanted = sorted(set(numbers))
        found: set[str] = set()
        for chunk in _chunks(wanted, 500):
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetchall(
                f"SELECT number FROM accounts WHERE number IN ({marks})", chunk
            )
            found.update(r["number"] for r in rows)
        return found

    async def enqueue_billing(
        self,
        campaign_id: int,
        messages: Sequence[BillingMessage],
        routing: Routing,
        *,
        priority: int,
        status: str,
        not_before: datetime,
        source: str | None = None,
        skip: Set[tuple[str, str]] = frozenset(),
    ) -> int:
        """One row per (account, phone) of each message: billing notices differ per
        account, so a person with two accounts gets both. An account without a phone
        gets a `failed` row («no phone»): it belongs on the paper-notice list. The
        (account, phone) pairs in `skip` (reached before) get no row."""
        accounts = [m.account for m in messages]
        phones = await self._phones(accounts)
        everyone = {p for a in accounts for p in phones.get(a, ())}
        linked = await self._messengers(
            everyone, messengers(routing.running, telegram=routing.telegram)
        )
        chosen = await self._chosen(everyone)
        stopped = await self.opted_out_phones(everyone) if routing.respect_opt_out else set()
        now = utcnow()
        rows: list[tuple[Any, ...]] = []
        unreachable: list[tuple[Any, ...]] = []
        for message in messages:
            numbers = phones.get(message.account, ())
            if not numbers:
                unreachable.append(
                    ("sms", "", "{}", priority, "failed", to_db(now), None, campaign_id,
                     message.account, None, f"c{campaign_id}:{message.account}:-",
                     to_db(now), "no phone on the account", 0)
                )
            for phone in numbers:
                if (message.account, phone) in skip or phone in stopped:
                    continue
                person = Person(phone, chosen.get(phone), linked.get(phone))
                targets = route(person, routing.running, required=routing.required)
                for index, (channel, address) in enumerate(targets):
                    sms = channel == "sms"
                    payload = json.dumps(
                        {
                            "channel": channel,
                            "address": address,
                            "text": message.sms_text if sms else message.telegram_text,
                            "source": source if sms else None,
                        },
                        ensure_ascii=False,
                    )
                    # The main target keeps the key it always had; a copy to the
                    # chosen channel (a required notice) gets its own.
                    key = f"c{campaign_id}:{message.account}:{phone}"
                    copy = index > 0
                    rows.append(
                        (channel, address, payload, priority, status, to_db(not_before),
                         None, campaign_id, message.account, None if copy else phone,
                         f"{key}:{channel}" if copy else key, to_db(now), None, int(copy))
                    )
        sql = (
            f"INSERT INTO outbox ({_INSERT_COLUMNS}, error, copy)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (idempotency_key) DO NOTHING"
        )
        async with self.db.transaction():
            await self.db.executemany(sql, rows + unreachable)
        return len([r for r in rows if not r[-1]]) + len(unreachable)

    # -- «СТОП» -----------------------------------------------------------------------

    async def opted_out_phones(self, phones: Iterable[str]) -> set[str]:
        """Those of `phones` whose person said «СТОП» (on any channel)."""
        found: set[str] = set()
        for chunk in _chunks(sorted(set(phones)), 500):
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetchall(
                f"SELECT DISTINCT phone FROM contacts WHERE opted_out = 1 AND phone IN ({marks})",
                chunk,
            )
            found.update(r["phone"] for r in rows)
        return found

    async def opted_out_rows(self, items: Sequence[OutboxItem]) -> list[int]:
        """The ids of campaign rows that must not go now: the campaign's kind respects
        «СТОП» (`storage.notices`) and the row's person has said it since it was queued."""
        kinds: dict[int, bool] = {}
        candidates: list[OutboxItem] = []
        for item in items:
            if item.campaign_id is None or item.phone is None:
                continue  # a reply, a code: asked for, never stopped
            if item.campaign_id not in kinds:
                row = await self.db.fetchone(
                    "SELECT kind, params FROM campaigns WHERE id = ?", (item.campaign_id,)
                )
                kinds[item.campaign_id] = row is not None and respects_opt_out(
                    row["kind"], json.loads(row["params"])
                )
            if kinds[item.campaign_id]:
                candidates.append(item)
        if not candidates:
            return []
        stopped = await self.opted_out_phones(i.phone for i in candidates if i.phone)
        return [i.id for i in candidates if i.phone in stopped]

    async def _phones(self, accounts: Sequence[str]) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {}
        for chunk in _chunks(sorted(set(accounts)), 500):
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetchall(
                f"SELECT account, phone FROM account_phones WHERE account IN ({marks})"
                " ORDER BY account, phone",
                chunk,
            )
            for r in rows:
                found.setdefault(r["account"], []).append(r["phone"])
        return {k: tuple(v) for k, v in found.items()}

    async def _messengers(
        self, phones: set[str], channels: tuple[str, ...]
    ) -> dict[str, tuple[str, str]]:
        """Per phone, the linked, unblocked messenger contact that wrote last."""
        found: dict[str, tuple[str, str]] = {}
        if not channels:
            return found
        for chunk in _chunks(sorted(phones), 500):
            marks = ",".join("?" * len(chunk))
            names = ",".join("?" * len(channels))
            rows = await self.db.fetchall(
                f"SELECT phone, channel, address FROM contacts WHERE channel IN ({names})"
                f" AND verified_by IS NOT NULL AND blocked = 0 AND phone IN ({marks})"
                " ORDER BY coalesce(last_inbound_at, '') DESC, id",
                [*channels, *chunk],
            )
            for r in rows:
                found.setdefault(r["phone"], (r["channel"], r["address"]))
        return found

    async def _chosen(self, phones: set[str]) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        for chunk in _chunks(sorted(phones), 500):
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetchall(
                "SELECT phone, channel, address FROM notice_channels"
                f" WHERE phone IN ({marks})",
                chunk,
            )
            for r in rows:
                found[r["phone"]] = (r["channel"], r["address"])
        return found

    # -- progress, cancel, evidence --------------------------------------------------------

    async def progress(self, campaign_id: int) -> Progress | None:
        campaign = await self.get(campaign_id)
        if campaign is None:
            return None
        # An expired row never sent was dropped on purpose (power back, validity over):
        # cancelled. One sent and then reported expired by the SMSC was not delivered.
        row = await self.db.fetchone(
            f"SELECT {_PROGRESS_COLUMNS} FROM outbox WHERE campaign_id = ? AND copy = 0",
            (campaign_id,),
        )
        assert row is not None
        counts = {state: int(row[state]) for state in STATES}
        return Progress(
            campaign_id, campaign.kind, int(row["recipients"]), counts,
            int(row["possible_duplicates"]),
        )

    async def unfinished(self) -> list[int]:
        """Campaigns with messages still queued or being sent."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT campaign_id FROM outbox WHERE status IN ('queued', 'sending')"
            " AND campaign_id IS NOT NULL ORDER BY campaign_id"
        )
        return [int(r["campaign_id"]) for r in rows]

    async def stop_unsent(
        self, campaign_id: int, now: datetime, *, status: str, reason: str
    ) -> int:
        """Cancel (or expire) the campaign's rows not yet handed to a channel: queued,
        deferred, or claimed by a sender whose lease ran out (it died). Rows in flight
        go out. Returns how many were stopped."""
        async with self.db.transaction():
            count = await self.db.execute(
                "UPDATE outbox SET status = :status, error = :reason, lease_until = NULL"
                " WHERE campaign_id = :c AND (status IN ('queued', 'deferred')"
                " OR (status = 'sending' AND lease_until <= :now))",
                {"status": status, "reason": reason, "c": campaign_id, "now": to_db(now)},
            )
            if status == "cancelled":
                await self.db.execute(
                    "UPDATE campaigns SET status = 'cancelled' WHERE id = ?", (campaign_id,)
                )
        return count

    async def undelivered(
        self, campaign_id: int, page: int = 1000
    ) -> AsyncIterator[UndeliveredRow]:
        """Rows without a delivery receipt, page by page (a paper notice goes to them)."""
        last = 0
        while True:
            rows = await self.db.fetchall(
                "SELECT id, account, phone, channel, status, sent_at, error FROM outbox"
                " WHERE campaign_id = ? AND status != 'delivered' AND copy = 0 AND id > ?"
                " ORDER BY id LIMIT ?",
                (campaign_id, last, page),
            )
            if not rows:
                return
            for r in rows:
                yield UndeliveredRow(
                    account=r["account"] or "",
                    phone=r["phone"] or "",
                    channel=r["channel"],
                    status=r["status"],
                    sent_at=from_db_opt(r["sent_at"]),
                    error=r["error"] or "",
                )
            last = int(rows[-1]["id"])


def _matching(spec: HouseSpec, houses: Iterable[str]) -> list[str]:
    return [house for house in houses if spec.matches(house)]


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
