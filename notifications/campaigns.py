"""Campaign use cases: outage broadcasts and «power restored», billing notices from CSV,
reading reminders, appeal answers, cancel and progress.

The CLI (`bot/cli_notifications.py`), the admin API (`notifications/api.py`) and the
staff commands in Telegram (`notifications/staff.py`) all call `Notifications`, so the
three give the same answers (docs/interfaces.md §8, §10, §11).

Kinds, priorities and routes (docs/architecture.md «Notifications»):

| kind | priority | quiet hours | route | «СТОП» |
|---|---|---|---|---|
| outage, unplanned | urgent | go at once | Telegram if linked, else SMS | ignored (safety) |
| outage, planned | bulk | deferred | Telegram if linked, else SMS | respected |
| restored | urgent | go at once | the outage's people, rerouted | ignored (safety) |
| invoice | bulk | deferred | Telegram if linked, else SMS | respected |
| debt | bulk | deferred | SMS always (receipts are evidence) | ignored (required by law) |
| reminder | bulk | deferred | Telegram if linked, else SMS | respected |

The «СТОП» column is `storage.notices.NOTICE_KINDS`, the one table every audience and
the sender read (`Notifications._routing`).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bot.settings import Settings
from notifications import templates
from notifications.quiet import QuietHours
from notifications.smsparts import sms_parts
from parsers.counted import counted
from storage.address import every_house
from storage.campaigns import (
    AreaAudience,
    BillingMessage,
    Campaign,
    CampaignAudience,
    CampaignRepo,
    Progress,
    Routing,
    SubscriberAudience,
    UndeliveredRow,
)
from storage.csvfile import (
    DEBT_COLUMNS,
    INVOICE_COLUMNS,
    CsvFile,
    DebtRow,
    InvoiceRow,
    Rejected,
    Source,
    parse_debt,
    parse_invoice,
)
from storage.db import utcnow
from storage.models import Outage
from storage.notices import respects_opt_out
from storage.outbox import PRIORITY_BULK, PRIORITY_URGENT
from storage.store import Store

log = logging.getLogger(__name__)

# An outage notice fits two SMS parts (docs/interfaces.md §8); longer input is cut to fit.
SMS_OUTAGE_PARTS = 2
_MIN_CLIPPED = 12
# Two concatenated GSM parts hold at most 2 × 153 characters: a longer reason or area
# can never fit and is cut to this before the fitting loop starts.
_FIT_BOUND = SMS_OUTAGE_PARTS * 153

# Bounds of what staff may send (docs/interfaces.md §11): a reason ≤ 500 characters, a house
# list ≤ 2 000; a settlement or street name longer than 200 is no name.
MAX_REASON = 500
MAX_HOUSES = 2000
MAX_PLACE = 200

R = TypeVar("R", InvoiceRow, DebtRow)

# Billing rows are checked against the registry and queued this many at a time.
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class NoticeConfig:
    """What the campaigns need from settings."""

    tz: ZoneInfo
    company: str
    quiet: QuietHours
    confirm_above: int
    telegram: bool  # Telegram is on: route linked people there
    # Channels besides SMS that run: people who chose one get notices there (§14).
    running: frozenset[str] = frozenset()
    window_first_day: int = 18
    window_last_day: int = 25
    reminder_hour: int = 10
    # The name signed under SMS notices (`[service] sms_signature`); empty: `company`.
    sms_signature: str = ""

    @property
    def signature(self) -> str:
        return self.sms_signature or self.company

    @classmethod
    def from_settings(cls, settings: Settings) -> NoticeConfig:
        n, tz = settings.notifications, settings.service.tz
        start, end = n.quiet_window
        return cls(
            tz=tz,
            company=settings.service.company,
            quiet=QuietHours(start, end, tz),
            confirm_above=n.confirm_above,
            telegram=settings.telegram.enabled,
            running=frozenset(
                name for name, on in (
                    ("telegram", settings.telegram.enabled),
                    ("max", settings.max.enabled),
                    ("email", settings.email.enabled),
                ) if on
            ),
            window_first_day=settings.readings.window_first_day,
            window_last_day=settings.readings.window_last_day,
            reminder_hour=n.reminder_hour,
            sms_signature=settings.service.sms_signature,
        )


@dataclass(frozen=True, slots=True)
class OutageRequest:
    """An outage as staff describe it (docs/interfaces.md §8). Times are aware."""

    settlement: str
    reason: str
    start: datetime
    until: datetime
    street: str = ""
    houses: str = ""
    planned: bool = False


@dataclass(frozen=True, slots=True)
class BroadcastReport:
    """The §8 JSON object. `needs_confirmation`: more recipients than `confirm_above`
    and no `--yes`; nothing was recorded."""

    campaign: int | None
    outage: int | None
    accounts: int
    recipients: int
    sms: int
    telegram: int
    sms_parts: int
    sample: str
    needs_confirmation: bool = False
    # Nobody at those addresses and no `allow_empty`: nothing was recorded (a misspelt
    # street was recorded as an active outage for nobody).
    empty: bool = False
    email: int = 0
    max: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "outage": self.outage,
            "accounts": self.accounts,
            "recipients": self.recipients,
            "by_channel": {
                "sms": self.sms, "telegram": self.telegram,
                **({"email": self.email} if self.email else {}),
                **({"max": self.max} if self.max else {}),
            },
            "sms_parts": self.sms_parts,
            "sample": self.sample,
        }


def _clip(value: str, keep: int | None = None) -> str:
    """`value` cut to `keep` characters (default: at least eight fewer, at least
    `_MIN_CLIPPED`), ending in «…», cut after a whole word or house number where one
    ends (a reason cut to «аварийное п…» or a list to «…, 1…» reads as nonsense or as
    another house)."""
    bare = value.removesuffix("…")
    cut = bare[: keep if keep is not None else max(_MIN_CLIPPED - 1, len(bare) - 8)]
    if len(cut) < len(bare) and bare[len(cut)] not in " ,;":
        boundary = max(cut.rfind(" "), cut.rfind(","), cut.rfind(";"))
        if boundary > 0:
            cut = cut[:boundary]
    return cut.rstrip(" ,.;") + "…"


def _fit_sms(render: Callable[[str, str], str], reason: str, where: str) -> str:
    """`render(reason, where)` cut to `SMS_OUTAGE_PARTS` parts: a long reason first,
    then a long area (house list), each ending in «…».

    Linear in the input: nothing longer than two whole parts can fit, so each part is
    first cut to that in one step; the loop then shortens by at least eight characters
    a round from there, a bounded number of rounds (each clip of a 50 000-character
    reason by eight used to cost 8 s, a 100 000-house list 14 minutes)."""
    if len(reason) > _FIT_BOUND:
        reason = _clip(reason, _FIT_BOUND)
    if len(where) > _FIT_BOUND:
        where = _clip(where, _FIT_BOUND)
    while True:
        text = render(reason, where).replace("….", "…")
        if sms_parts(text) <= SMS_OUTAGE_PARTS:
            return text
        if len(reason) > _MIN_CLIPPED:
            reason = _clip(reason)
        elif len(where) > _MIN_CLIPPED:
            where = _clip(where)
        else:
            return text  # as short as it can honestly be


def _digest(source: Source) -> str | None:
    """sha256 of a billing file's lines (None for a stream, which cannot be re-read).
    A BOM, CRLF line ends, trailing spaces and blank lines do not count: the same
    export saved again or with an extra line end is the same file (it was queued
    again and everyone got the notice twice). A plain LF file hashes as its bytes."""
    if isinstance(source, bytes):
        return _lines_digest(io.BytesIO(source))
    if isinstance(source, str | Path):
        try:
            with Path(source).open("rb") as fh:
                return _lines_digest(fh)
        except OSError:
            return None  # CsvFile reports the unreadable file in its own words
    return None


def _lines_digest(lines: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for number, line in enumerate(lines):
        text = line.removeprefix(b"\xef\xbb\xbf") if number == 0 else line
        text = text.rstrip(b" \t\r\n")
        if text:
            digest.update(text + b"\n")
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The result of a billing file (docs/interfaces.md §10, §11)."""

    campaign: int
    accepted: int
    recipients: int
    rejected: list[Rejected] = field(default_factory=list)
    # The same file was imported before as this campaign: nothing was queued again.
    duplicate_of: int | None = None
    # Sent anew after a cancel: messages not queued because the cancelled campaign
    # of this file had already reached that (account, phone).
    already_sent: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "accepted": self.accepted,
            **({"duplicate_of": self.duplicate_of} if self.duplicate_of is not None else {}),
            **({"already_sent": self.already_sent} if self.already_sent else {}),
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
        }


class OutageError(ValueError):
    """The outage request is wrong. The message says what to fix in English (the API's
    language, for the developers who integrate); `russian` says it to staff (the CLI,
    Telegram, the workspace); `field` names the request field at fault."""

    def __init__(self, message: str, russian: str, field: str = "") -> None:
        super().__init__(message)
        self.russian = russian
        self.field = field or message.partition(":")[0].strip()


class OutageStateError(OutageError):
    """The outage cannot do that in its state (`status`: restored or cancelled)."""

    def __init__(self, outage_id: int, status: str) -> None:
        ended = "уже отменено" if status == "cancelled" else "уже закрыто: свет дали"
        super().__init__(
            f"outage: {outage_id} is already {status}", f"отключение №{outage_id} {ended}",
            "outage",
        )
        self.status = status


_UNTIL_BEFORE_START = "конец отключения должен быть позже начала"
_FIELDS_RU = {
    "settlement": "населённый пункт", "street": "улица", "houses": "список домов",
    "reason": "причина",
}


@dataclass(frozen=True, slots=True)
class OutageView:
    """An outage as the list shows it (docs/interfaces.md §8 `outage list`)."""

    outage: Outage

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        o = self.outage
        return {
            "outage": o.id,
            "status": o.status,
            "planned": o.planned,
            "settlement": o.settlement,
            "street": o.street,
            "houses": o.houses,
            "reason": o.reason,
            "start": local_time(o.start_at, tz),
            "until": local_time(o.until_at, tz),
            "ended_at": local_time(o.restored_at, tz) if o.restored_at else None,
            "campaign": o.campaign_id,
            "restored_campaign": o.restored_campaign_id,
        }


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    """A campaign as the list shows it: what, when, and its §10 progress."""

    campaign: Campaign
    progress: Progress

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        c = self.campaign
        return {
            **self.progress.as_json(),
            "title": c.title,
            "status": c.status,
            "created_at": local_time(c.created_at, tz),
        }


def check_outage_request(req: OutageRequest) -> OutageRequest:
    """The request within bounds, the house list «все» read as every house; raises
    OutageError naming the field. The CLI, the API and the staff commands all pass here,
    so a 100 000-house list is refused before any work is done with it."""
    for name, value, limit in (
        ("settlement", req.settlement, MAX_PLACE),
        ("street", req.street, MAX_PLACE),
        ("houses", req.houses, MAX_HOUSES),
        ("reason", req.reason, MAX_REASON),
    ):
        if len(value) > limit:
            raise OutageError(
                f"{name}: at most {limit} characters (got {len(value)})",
                f"{_FIELDS_RU[name]}: не больше {counted(limit, 'символ')} "
                f"(сейчас {len(value)})",
            )
    if not req.settlement.strip():
        raise OutageError("settlement: required", "укажите населённый пункт")
    if not req.reason.strip():
        raise OutageError("reason: required", "укажите причину отключения")
    if req.until <= req.start:
        raise OutageError("until: must be after start", _UNTIL_BEFORE_START)
    if every_house(req.houses) and req.houses:
        req = replace(req, houses="")
    return req


class Notifications:
    """Campaign use cases over the store. `wake` tells a sender in this process that
    work was queued (the CLI runs in another process: the service polls)."""

    def __init__(
        self,
        store: Store,
        config: NoticeConfig,
        *,
        clock: Callable[[], datetime] = utcnow,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.campaigns = CampaignRepo(store.db)
        self.clock = clock
        self.wake = wake or (lambda: None)

    @classmethod
    def from_settings(
        cls, store: Store, settings: Settings, *, wake: Callable[[], None] | None = None
    ) -> Notifications:
        return cls(store, NoticeConfig.from_settings(settings), wake=wake)

    def _routing(
        self, kind: str, params: dict[str, Any] | None = None, *, required: bool = False
    ) -> Routing:
        """How a campaign of `kind` reaches people; «СТОП» per `storage.notices`;
        `required`: a notice the law requires by SMS (storage.routing)."""
        return Routing(
            telegram=not required and self.config.telegram,
            respect_opt_out=respects_opt_out(kind, params),
            running=self.config.running,
            required=required,
        )

    def _bulk_timing(self, now: datetime) -> tuple[str, datetime]:
        """Status and not-before of a bulk row queued now: deferred in quiet hours."""
        when = self.config.quiet.not_before(now)
        return ("deferred" if when > now else "queued"), when

    # -- outages -------------------------------------------------------------------------

    def outage_text(self, req: OutageRequest) -> str:
        """The full notice (Telegram), signed with the company's name."""
        return self._outage_notice(
            req, req.reason.strip(), self._where(req), self.config.company
        )

    def outage_sms_text(self, req: OutageRequest) -> str:
        """The notice cut to `SMS_OUTAGE_PARTS` parts: a long reason, then a long house
        list, end in «…». Written at night in a storm, a reason can run long; thousands
        of 4-part SMS would cost twice the two the notice is meant to fit in."""
        signature = self.config.signature
        return _fit_sms(
            lambda reason, where: self._outage_notice(req, reason, where, signature),
            req.reason.strip(), self._where(req),
        )

    @staticmethod
    def _where(req: OutageRequest) -> str:
        return templates.area(req.settlement, req.street, req.houses)

    def _outage_notice(
        self, req: OutageRequest, reason: str, where: str, signature: str
    ) -> str:
        return templates.outage_notice(
            planned=req.planned,
            where=where,
            reason=reason,
            start=req.start,
            until=req.until,
            tz=self.config.tz,
            company=signature,
        )

    async def outage(
        self,
        req: OutageRequest,
        *,
        dry_run: bool = False,
        yes: bool = False,
        allow_empty: bool = False,
    ) -> BroadcastReport:
        """Record an outage and queue its notice to the people at those addresses; with
        `dry_run` only count them. Above `confirm_above` recipients without `yes`,
        nothing is recorded and the report says `needs_confirmation`; with no recipient
        at all and no `allow_empty` (which `yes` does not imply), nothing is recorded
        and the report says `empty`."""
        req = check_outage_request(req)
        audience = AreaAudience(req.settlement, req.street, req.houses)
        routing = self._routing("outage", {"planned": req.planned})
        full, text = self.outage_text(req), self.outage_sms_text(req)
        counts = await self.campaigns.count(audience, routing)
        preview = BroadcastReport(
            None, None, counts.accounts, counts.recipients, counts.sms, counts.telegram,
            sms_parts(text), text, email=counts.email, max=counts.max,
        )
        if dry_run:
            return preview
        if counts.recipients == 0 and not allow_empty:
            return replace(preview, empty=True)
        if counts.recipients > self.config.confirm_above and not yes:
            return replace(preview, needs_confirmation=True)
        now = self.clock()
        if req.planned:
            priority = PRIORITY_BULK
            status, not_before = self._bulk_timing(now)
        else:
            # A customer sitting in the dark wants the news: no quiet hours.
            priority, status, not_before = PRIORITY_URGENT, "queued", now
        async with self.store.db.transaction():
            outage = await self.store.outages.create(
                settlement=req.settlement.strip(),
                street=req.street.strip(),
                houses=req.houses.strip(),
                reason=req.reason.strip(),
                start_at=req.start,
                until_at=req.until,
                planned=req.planned,
            )
            campaign = await self.campaigns.create(
                "outage",
                templates.area(req.settlement, req.street, req.houses),
                {"outage": outage.id, "planned": req.planned,
                 "templates": {"sms": text, "telegram": full}},
            )
            await self.store.outages.set_campaign(outage.id, campaign, restored=False)
            # The SMS validity period ends with the outage: a notice not sent before
            # the power is back is dropped, not sent late (docs/architecture.md).
            await self.campaigns.enqueue_audience(
                campaign, audience, routing, priority=priority, status=status,
                not_before=not_before, valid_until=req.until,
            )
            recipients = await self.campaigns.finish_building(campaign)
            by_channel = await self.campaigns.by_channel(campaign)
        self.wake()
        log.info("outage %d: campaign %d to %d recipients", outage.id, campaign, recipients)
        return BroadcastReport(
            campaign, outage.id, counts.accounts, recipients, by_channel.get("sms", 0),
            by_channel.get("telegram", 0), preview.sms_parts, text,
            email=by_channel.get("email", 0),
            max=by_channel.get("max", 0),
        )

    async def outage_addresses(
        self, req: OutageRequest, limit: int = 200
    ) -> list[tuple[str, str, str, int]]:
        """The houses an outage's area matches: (settlement, street, house, accounts),
        houses in natural order (3, 9, 11, 21А). Raises OutageError as `outage` does."""
        req = check_outage_request(req)  # «все» is every house, limits as everywhere
        found = await self.campaigns.area_addresses(
            AreaAudience(req.settlement, req.street, req.houses), limit
        )

        def order(row: tuple[str, str, str, int]) -> tuple[str, str, int, str]:
            digits = re.match(r"\d+", row[2])
            return row[0], row[1], int(digits[0]) if digits else 0, row[2]

        return sorted(found, key=order)

    async def restored(self, outage_id: int) -> BroadcastReport | None:
        """Close the outage, drop its notices not sent yet, and tell the same people the
        power is back. Again on a closed outage: the report of the first «restored»."""
        outage = await self.store.outages.get(outage_id)
        if outage is None:
            return None
        # A planned outage closed before it began never cut anyone off: «restored» would
        # puzzle people; those who were told of it hear it is called off, nobody else.
        called_off = outage.status == "cancelled" or (
            outage.restored_campaign_id is None and outage.planned
            and self.clock() < outage.start_at
        )
        try:
            return await self._close(outage, called_off=called_off)
        except OutageStateError:
            # Another request closed it meanwhile: the report of that «restored».
            again = await self.store.outages.get(outage_id)
            if again is None or again.restored_campaign_id is None:
                raise
            return await self._close(again, called_off=again.status == "cancelled")

    async def cancel_outage(self, outage_id: int) -> BroadcastReport | None:
        """The outage is called off (docs/interfaces.md §8 `outage cancel`): it ends, its
        notices not sent yet are dropped, those already told hear it is called off, and
        «нет света» from the area is no longer answered with it. None if unknown;
        OutageStateError when it is already restored or cancelled."""
        outage = await self.store.outages.get(outage_id)
        if outage is None:
            return None
        if outage.status != "active":
            raise OutageStateError(outage_id, outage.status)
        return await self._close(outage, called_off=True)

    async def _close(self, outage: Outage, *, called_off: bool) -> BroadcastReport:
        where = templates.area(outage.settlement, outage.street, outage.houses)
        now = self.clock()
        start = outage.start_at.astimezone(self.config.tz).strftime("%d.%m %H:%M")

        def render(signature: str, area: str) -> str:
            if called_off and outage.planned:
                return templates.planned_called_off_notice(
                    where=area, start=start, company=signature
                )
            if called_off:
                return templates.outage_called_off_notice(where=area, company=signature)
            return templates.restored_notice(where=area, company=signature)

        # Like the outage notice: Telegram gets it all, the SMS fits two parts (a long
        # house list made every «restored» SMS three).
        signature = self.config.signature
        text = render(self.config.company, where)
        sms_text = _fit_sms(lambda _reason, area: render(signature, area), "", where)
        area = AreaAudience(outage.settlement, outage.street, outage.houses)
        accounts = await self.campaigns.accounts_in(area)
        if outage.restored_campaign_id is not None:
            return await self._report(
                outage.restored_campaign_id, outage.id, accounts, sms_text
            )
        audience: CampaignAudience | AreaAudience = (
            CampaignAudience(outage.campaign_id, reached_only=called_off)
            if outage.campaign_id is not None
            else area
        )
        async with self.store.db.transaction():
            await self._still_active(outage.id)
            if called_off:
                await self.store.outages.cancel(outage.id, now)
            else:
                await self.store.outages.restore(outage.id, now)
            for notice in await self._notices(outage):
                await self.campaigns.stop_unsent(
                    notice, now,
                    status="cancelled" if called_off else "expired",
                    reason="outage called off" if called_off
                    else "power restored before sending",
                )
            campaign = await self.campaigns.create(
                "restored", where,
                {"outage": outage.id, "templates": {"sms": sms_text, "telegram": text}},
            )
            await self.store.outages.set_campaign(outage.id, campaign, restored=True)
            await self.campaigns.enqueue_audience(
                campaign, audience, self._routing("restored"), priority=PRIORITY_URGENT,
                not_before=now,
            )
            await self.campaigns.finish_building(campaign)
        self.wake()
        return await self._report(campaign, outage.id, accounts, sms_text)

    async def _still_active(self, outage_id: int) -> None:
        """Raise OutageStateError when another request ended the outage meanwhile."""
        fresh = await self.store.outages.get(outage_id)
        if fresh is not None and fresh.status != "active":
            raise OutageStateError(outage_id, fresh.status)

    async def _notices(self, outage: Outage) -> list[int]:
        """The outage's notice campaigns: the first, then one per extension."""
        if outage.campaign_id is None:
            return []
        found = await self.campaigns.get(outage.campaign_id)
        extensions = found.params.get("extensions", []) if found else []
        return [outage.campaign_id, *(int(e) for e in extensions)]

    async def extend_outage(self, outage_id: int, until: datetime) -> BroadcastReport | None:
        """The repair runs late (docs/interfaces.md §8 `outage extend`): the outage's expected
        end moves to `until`; those already told get the new time (a new campaign of
        kind `outage`); notices not sent yet carry the new time and stay valid until it.
        None if unknown; OutageError for a time not after the start or already past,
        OutageStateError when the outage is restored or cancelled."""
        outage = await self.store.outages.get(outage_id)
        if outage is None:
            return None
        if outage.status != "active":
            raise OutageStateError(outage_id, outage.status)
        now = self.clock()
        if until <= outage.start_at:
            raise OutageError("until: must be after the outage's start", _UNTIL_BEFORE_START)
        if until <= now:
            raise OutageError("until: already past", "новое время восстановления уже прошло")
        req = OutageRequest(
            settlement=outage.settlement, street=outage.street, houses=outage.houses,
            reason=outage.reason, start=outage.start_at, until=until, planned=outage.planned,
        )
        where, tz = self._where(req), self.config.tz

        def render(reason: str, area: str, signature: str) -> str:
            return templates.outage_extended_notice(
                planned=req.planned, where=area, reason=reason, until=until, tz=tz,
                company=signature,
            ).replace("….", "…")

        # Like the outage notice: Telegram gets it all, signed in full; the SMS fits two
        # parts, signed short.
        signature = self.config.signature
        full = render(req.reason, where, self.config.company)
        sms_text = _fit_sms(lambda r, w: render(r, w, signature), req.reason, where)
        first = {"sms": self.outage_sms_text(req), "telegram": self.outage_text(req)}
        area = AreaAudience(outage.settlement, outage.street, outage.houses)
        accounts = await self.campaigns.accounts_in(area)
        priority = PRIORITY_BULK if outage.planned else PRIORITY_URGENT
        status, not_before = (
            self._bulk_timing(now) if outage.planned else ("queued", now)
        )
        async with self.store.db.transaction():
            # Read again in the transaction: an outage cancelled meanwhile is not
            # extended, and two extensions at once both stay on the list.
            await self._still_active(outage.id)
            notices = await self._notices(outage)
            await self.store.outages.extend(outage.id, until)
            # Who has not been told yet hears the outage once, with the new time.
            for notice in notices:
                await self.campaigns.set_valid_until(notice, until)
                first_notice = notice == outage.campaign_id
                await self.campaigns.update_params(
                    notice,
                    {"templates": first if first_notice
                     else {"sms": sms_text, "telegram": full}},
                )
            campaign = await self.campaigns.create(
                "outage", where,
                {"outage": outage.id, "extends": outage.campaign_id,
                 "templates": {"sms": sms_text, "telegram": full}},
            )
            if notices:
                await self.campaigns.enqueue_audience(
                    campaign, CampaignAudience(notices[0], reached_only=True),
                    self._routing("outage", {"planned": outage.planned}),
                    priority=priority, status=status,
                    not_before=not_before, valid_until=until,
                )
                await self.campaigns.update_params(
                    notices[0], {"extensions": [*notices[1:], campaign]}
                )
            await self.campaigns.finish_building(campaign)
        self.wake()
        log.info("outage %d: extended until %s, campaign %d", outage.id, until, campaign)
        return await self._report(campaign, outage.id, accounts, sms_text)

    async def outages(self, *, active_only: bool = False, limit: int = 200) -> list[OutageView]:
        """Outages, newest first (docs/interfaces.md §8 `outage list`); `active_only`: not
        restored or cancelled, planned ones not begun included."""
        found = await self.store.outages.recent(active_only=active_only, limit=limit)
        return [OutageView(o) for o in found]

    async def campaign_list(self, limit: int = 100) -> list[CampaignSummary]:
        """Campaigns, newest first, each with its progress (`campaigns list`)."""
        return [CampaignSummary(c, p) for c, p in await self.campaigns.recent(limit)]

    async def _report(
        self, campaign: int, outage: int, accounts: int, text: str
    ) -> BroadcastReport:
        by_channel = await self.campaigns.by_channel(campaign)
        found = await self.campaigns.get(campaign)
        recipients = found.recipients if found else 0
        return BroadcastReport(
            campaign, outage, accounts, recipients, by_channel.get("sms", 0),
            by_channel.get("telegram", 0), sms_parts(text), text,
            email=by_channel.get("email", 0),
            max=by_channel.get("max", 0),
        )

    # -- billing notices -----------------------------------------------------------------

    async def import_invoices(self, source: Source, name: str = "") -> ImportReport:
        """Each file becomes one invoice campaign (docs/interfaces.md §10)."""

        def message(row: InvoiceRow) -> BillingMessage:
            def text(signature: str) -> str:
                return templates.invoice_notice(
                    account=row.account, period=row.period, amount=row.amount,
                    due=row.due_date, company=signature,
                )

            return BillingMessage(row.account, text(self.config.signature),
                                  text(self.config.company))

        return await self._import(
            source, name=name, kind="invoice", columns=INVOICE_COLUMNS, parse=parse_invoice,
            message=message, routing=self._routing("invoice"),
        )

    async def import_debts(self, source: Source, name: str = "") -> ImportReport:
        """Each file becomes one debt campaign. Debt warnings go by SMS whatever the
        person's channel or «СТОП» (a legally required notice, ПП РФ № 354 п. 119), and
        each row keeps its sent and delivered times as evidence."""

        def message(row: DebtRow) -> BillingMessage:
            # SMS: the legally required content in two parts; messengers: in full.
            sms = templates.debt_notice_sms(
                account=row.account, amount=row.amount, restriction=row.restriction_date,
                signature=self.config.signature,
            )
            full = templates.debt_notice(
                account=row.account, amount=row.amount, restriction=row.restriction_date,
                company=self.config.company,
            )
            return BillingMessage(row.account, sms, full)

        return await self._import(
            source, name=name, kind="debt", columns=DEBT_COLUMNS, parse=parse_debt,
            message=message, routing=self._routing("debt", required=True),
        )

    async def _import(
        self,
        source: Source,
        *,
        name: str,
        kind: str,
        columns: tuple[str, ...],
        parse: Callable[[Any], R | Rejected],
        message: Callable[[R], BillingMessage],
        routing: Routing,
    ) -> ImportReport:
        if isinstance(source, str | Path) and not name:
            name = Path(source).name
        # The same file twice (a re-run command, a re-sent upload) would notify everyone
        # twice: the idempotency key is per campaign. A file is known by its content.
        # Hashing a 64 MB upload is CPU work: a worker thread, not the event loop.
        digest = await asyncio.to_thread(_digest, source)
        if digest is not None:
            earlier = await self.campaigns.find_import(kind, digest)
            if earlier is not None:
                log.warning("%s file %s was imported as campaign %d; not queued again",
                            kind, name, earlier)
                return ImportReport(earlier, 0, 0, [], duplicate_of=earlier)
        # Sent anew after a cancel: who the cancelled campaign reached is not told again.
        redo = await self.campaigns.cancelled_imports(kind, digest) if digest else []
        rejected: list[Rejected] = []
        accepted = recipients = already_sent = 0
        seen: dict[str, int] = {}
        with CsvFile(source, required=columns) as csv_file:  # CsvFileError: not a file
            campaign = await self.campaigns.create(
                kind, name, {"file": name, "digest": digest}
            )
            batch: list[R] = []

            async def flush() -> None:
                nonlocal accepted, recipients, already_sent
                known = await self.campaigns.known_accounts(r.account for r in batch)
                good = []
                for r in batch:
                    if r.account in known:
                        good.append(r)
                    else:
                        rejected.append(Rejected(r.line, f"unknown account {r.account}"))
                status, not_before = self._bulk_timing(self.clock())
                reached = await self.campaigns.reached(redo, [r.account for r in good])
                already_sent += len(reached)
                recipients += await self.campaigns.enqueue_billing(
                    campaign, [message(r) for r in good], routing,
                    priority=PRIORITY_BULK, status=status, not_before=not_before,
                    skip=reached,
                )
                accepted += len(good)
                batch.clear()

            for item in csv_file:
                row = item if isinstance(item, Rejected) else parse(item)
                if isinstance(row, Rejected):
                    rejected.append(row)
                    continue
                first = seen.setdefault(row.account, row.line)
                if first != row.line:
                    reason = f"account {row.account} repeats line {first}"
                    rejected.append(Rejected(row.line, reason))
                    continue
                batch.append(row)
                if len(batch) >= _BATCH:
                    await flush()
            if batch:
                await flush()
        await self.campaigns.finish_building(campaign)
        rejected.sort(key=lambda r: r.line)
        self.wake()
        log.info("%s campaign %d: %d rows accepted, %d rejected", kind, campaign, accepted,
                 len(rejected))
        return ImportReport(
            campaign, accepted, recipients, rejected, already_sent=already_sent
        )

    # -- reminders -----------------------------------------------------------------------

    async def reminders_due(self, now: datetime | None = None) -> int | None:
        """Queue the reading reminder if today is the window's first day, the hour has
        come and this period has none yet; returns the campaign, or None.

        The campaign row (kind `reminder`, title = the period) is the memory that a
        restart must not send it again; the idempotency key `reminder:<period>:<phone>`
        makes even a second campaign of the period add no rows."""
        moment = now or self.clock()
        local = moment.astimezone(self.config.tz)
        if local.day != self.config.window_first_day or local.hour < self.config.reminder_hour:
            return None
        period = f"{local:%Y-%m}"
        if await self.campaigns.find("reminder", period) is not None:
            return None
        def text(signature: str) -> str:
            return templates.reminder_notice(
                first_day=self.config.window_first_day, last_day=self.config.window_last_day,
                company=signature,
            )

        status, not_before = self._bulk_timing(moment)
        async with self.store.db.transaction():
            if await self.campaigns.find("reminder", period) is not None:
                return None
            campaign = await self.campaigns.create(
                "reminder", period,
                {"templates": {"sms": text(self.config.signature),
                               "telegram": text(self.config.company)}},
            )
            await self.campaigns.enqueue_audience(
                campaign, SubscriberAudience(), self._routing("reminder"),
                priority=PRIORITY_BULK, status=status, not_before=not_before,
                key_prefix=f"reminder:{period}:",
            )
            await self.campaigns.finish_building(campaign)
        self.wake()
        return campaign

    # -- cancel and progress ---------------------------------------------------------------

    async def cancel(self, campaign_id: int) -> int | None:
        """Stop the campaign's unsent messages; returns how many, None if unknown."""
        if await self.campaigns.get(campaign_id) is None:
            return None
        return await self.campaigns.stop_unsent(
            campaign_id, self.clock(), status="cancelled", reason="campaign cancelled"
        )

    async def progress(self, campaign_id: int) -> Progress | None:
        return await self.campaigns.progress(campaign_id)

    def undelivered(self, campaign_id: int) -> AsyncIterator[UndeliveredRow]:
        return self.campaigns.undelivered(campaign_id)


# «03.12.2026 18:00», as people in Russia write a date (docs/interfaces.md §8)
_RUSSIAN_TIME = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})[ T]+(\d{1,2}):(\d{2})")
TIME_FORMATS = "YYYY-MM-DD HH:MM or DD.MM.YYYY HH:MM"


def parse_local_time(text: str, tz: ZoneInfo) -> datetime:
    """«2026-11-26 10:00» or «26.11.2026 10:00» (also ISO 8601 with an offset; without
    one: the service's time zone) → an aware datetime. Raises ValueError naming the
    text and the formats."""
    value = text.strip()
    if len(value) > 40:  # no time is written longer; do not echo a novel back
        raise ValueError(f"expected {TIME_FORMATS}")
    try:
        russian = _RUSSIAN_TIME.fullmatch(value)
        if russian:
            day, month, year, hour, minute = (int(g) for g in russian.groups())
            moment = datetime(year, month, day, hour, minute)  # noqa: DTZ001 - tz below
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r}: expected {TIME_FORMATS}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    """«2026-11-26 10:00»: a time as staff read and type it (local, to the minute)."""
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M}"
