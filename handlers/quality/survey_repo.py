"""Survey storage over the tables of migration 002 (and the audience from the registry).

The one module of `handlers.quality` with SQL in it. It belongs in `storage/` beside the
other repositories; it lives here until the storage owner takes it over, so that this
part does not edit a shared module while others do (move it as is: it imports only
`storage`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, Row, from_db, from_db_opt, insert_id, to_db

SEGMENTS = ("household", "business")
SCALES = ("score", "yesno")


@dataclass(frozen=True, slots=True)
class Survey:
    id: int
    title: str
    intro: str
    status: str  # draft | sent | closed
    days: int
    campaign_id: int | None
    created_at: datetime
    sent_at: datetime | None
    closes_at: datetime | None


@dataclass(frozen=True, slots=True)
class Question:
    id: int
    survey_id: int
    segment: str
    position: int
    text: str
    scale: str  # score (1–5) | yesno


@dataclass(frozen=True, slots=True)
class Recipient:
    id: int
    survey_id: int
    segment: str
    phone: str
    account: str | None
    channel: str
    address: str
    sent_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Answer:
    recipient_id: int
    question_id: int
    value: int
    answered_at: datetime


@dataclass(frozen=True, slots=True)
class Person:
    """A customer of the registry as one recipient: a phone with its accounts' groups."""

    phone: str
    household: str | None  # the person's first household account, if any
    business: str | None  # the person's first business account, if any


def _survey(row: Row) -> Survey:
    return Survey(
        id=row["id"],
        title=row["title"],
        intro=row["intro"],
        status=row["status"],
        days=row["days"],
        campaign_id=row["campaign_id"],
        created_at=from_db(row["created_at"]),
        sent_at=from_db_opt(row["sent_at"]),
        closes_at=from_db_opt(row["closes_at"]),
    )


def _recipient(row: Row) -> Recipient:
    return Recipient(
        id=row["id"],
        survey_id=row["survey_id"],
        segment=row["segment"],
        phone=row["phone"],
        account=row["account"],
        channel=row["channel"],
        address=row["address"],
        sent_at=from_db(row["sent_at"]),
        completed_at=from_db_opt(row["completed_at"]),
    )


class SurveyRepo:
    """Surveys, their questionnaires, recipients and answers."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        title: str,
        intro: str,
        days: int,
        questions: list[tuple[str, str, str]],
        now: datetime,
    ) -> int:
        """A draft survey with its questions as (segment, text, scale) in order."""
        async with self.db.transaction():
            survey_id = await insert_id(self.db, 
                "INSERT INTO surveys (title, intro, days, created_at) VALUES (?, ?, ?, ?)",
                (title, intro, days, to_db(now)),
            )
            positions: dict[str, int] = {}
            for segment, text, scale in questions:
                position = positions.get(segment, 0)
                positions[segment] = position + 1
                await self.db.execute(
                    "INSERT INTO survey_questions (survey_id, segment, position, text, scale)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (survey_id, segment, position, text, scale),
                )
        return survey_id

    async def get(self, survey_id: int) -> Survey | None:
        row = await self.db.fetchone("SELECT * FROM surveys WHERE id = ?", (survey_id,))
        return None if row is None else _survey(row)

    async def all(self) -> list[Survey]:
        return [_survey(r) for r in await self.db.fetchall("SELECT * FROM surveys ORDER BY id")]

    async def questions(self, survey_id: int, segment: str | None = None) -> list[Question]:
        sql = "SELECT * FROM survey_questions WHERE survey_id = ?"
        params: list[object] = [survey_id]
        if segment is not None:
            sql += " AND segment = ?"
            params.append(segment)
        rows = await self.db.fetchall(sql + " ORDER BY segment, position", params)
        return [
            Question(r["id"], r["survey_id"], r["segment"], r["position"], r["text"], r["scale"])
            for r in rows
        ]

    async def people(self) -> list[Person]:
        """Every phone of the registry with its first account of each customer group."""
        rows = await self.db.fetchall(
            "SELECT ap.phone AS phone,"
            " min(CASE WHEN a.segment = 'household' THEN a.number END) AS household,"
            " min(CASE WHEN a.segment = 'business' THEN a.number END) AS business"
            " FROM account_phones ap JOIN accounts a ON a.number = ap.account"
            " GROUP BY ap.phone ORDER BY ap.phone"
        )
        return [Person(r["phone"], r["household"], r["business"]) for r in rows]

    async def opted_out_phones(self) -> set[str]:
        """Phones whose person said «СТОП» on any of their contacts."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT phone FROM contacts WHERE opted_out = 1 AND phone IS NOT NULL"
        )
        return {r["phone"] for r in rows}

    async def telegram_chats(self) -> dict[str, str]:
        """phone → the Telegram user linked to it (the newest, when several), excluding
        users who blocked the bot."""
        rows = await self.db.fetchall(
            "SELECT phone, address FROM contacts WHERE channel = 'telegram'"
            " AND phone IS NOT NULL AND verified_by IS NOT NULL AND blocked = 0 ORDER BY id"
        )
        return {r["phone"]: r["address"] for r in rows}

    async def start_campaign(self, survey: Survey, now: datetime) -> int:
        """The survey's campaign (kind 'survey'), created on first use."""
        if survey.campaign_id is not None:
            return survey.campaign_id
        campaign_id = await insert_id(self.db, 
            "INSERT INTO campaigns (kind, title, status, params, created_at)"
            " VALUES ('survey', ?, 'active', ?, ?)",
            (survey.title, json.dumps({"survey_id": survey.id}), to_db(now)),
        )
        await self.db.execute(
            "UPDATE surveys SET campaign_id = ? WHERE id = ?", (campaign_id, survey.id)
        )
        return campaign_id

    async def mark_sent(self, survey_id: int, now: datetime, closes_at: datetime) -> None:
        await self.db.execute(
            "UPDATE surveys SET status = 'sent', sent_at = coalesce(sent_at, ?),"
            " closes_at = coalesce(closes_at, ?) WHERE id = ?",
            (to_db(now), to_db(closes_at), survey_id),
        )
        await self.db.execute(
            "UPDATE campaigns SET recipients ="
            " (SELECT count(*) FROM survey_recipients WHERE survey_id = ?)"
            " WHERE id = (SELECT campaign_id FROM surveys WHERE id = ?)",
            (survey_id, survey_id),
        )

    async def add_recipient(
        self,
        survey_id: int,
        *,
        segment: str,
        phone: str,
        account: str | None,
        channel: str,
        address: str,
        now: datetime,
    ) -> int:
        """Returns the new recipient's id, or 0 when the person was asked already."""
        return await insert_id(self.db, 
            "INSERT INTO survey_recipients (survey_id, segment, phone, account, channel,"
            " address, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (survey_id, phone) DO NOTHING",
            (survey_id, segment, phone, account, channel, address, to_db(now)),
        )

    async def asked_elsewhere(self, phone: str, channel: str) -> list[Recipient]:
        """This person's unfinished places in running surveys on another channel (a
        Telegram question re-routed to SMS when the bot was blocked)."""
        rows = await self.db.fetchall(
            "SELECT r.* FROM survey_recipients r JOIN surveys s ON s.id = r.survey_id"
            " WHERE r.phone = ? AND r.channel != ? AND r.completed_at IS NULL"
            " AND s.status = 'sent' ORDER BY r.id DESC",
            (phone, channel),
        )
        return [_recipient(r) for r in rows]

    async def recipients(self, survey_id: int) -> list[Recipient]:
        rows = await self.db.fetchall(
            "SELECT * FROM survey_recipients WHERE survey_id = ? ORDER BY id", (survey_id,)
        )
        return [_recipient(r) for r in rows]

    async def recipient(self, recipient_id: int) -> Recipient | None:
        row = await self.db.fetchone(
            "SELECT * FROM survey_recipients WHERE id = ?", (recipient_id,)
        )
        return None if row is None else _recipient(row)

    async def answer(
        self, recipient_id: int, question_id: int, value: int, at: datetime
    ) -> None:
        """Record an answer; answering the same question again replaces it."""
        await self.db.execute(
            "INSERT INTO survey_answers (recipient_id, question_id, value, answered_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (recipient_id, question_id)"
            " DO UPDATE SET value = excluded.value, answered_at = excluded.answered_at",
            (recipient_id, question_id, value, to_db(at)),
        )

    async def complete(self, recipient_id: int, at: datetime) -> None:
        await self.db.execute(
            "UPDATE survey_recipients SET completed_at = ? WHERE id = ?",
            (to_db(at), recipient_id),
        )

    async def answers(self, survey_id: int) -> list[Answer]:
        rows = await self.db.fetchall(
            "SELECT sa.* FROM survey_answers sa"
            " JOIN survey_recipients sr ON sr.id = sa.recipient_id"
            " WHERE sr.survey_id = ? ORDER BY sa.id",
            (survey_id,),
        )
        return [
            Answer(r["recipient_id"], r["question_id"], r["value"], from_db(r["answered_at"]))
            for r in rows
        ]
