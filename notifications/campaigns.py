"""Campaign use cases: outage broadcasts and «power restored», billing notices from CSV,
reading reminders, appeal answers, cancel and progress.

The CLI (`bot/cli_notifications.py`), the admin API (`notifications/api.py`) and the
staff commands in Telegram (`notifications/staff.py`) all call `Notifications`, so the
three give the same answers (contracts.md §8, §10, §11).

Kinds, priorities and routes (design.md «Notifications»):

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

import hashlib
import io
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bot.settings import Settings
from notifications import templates
from notifications.quiet import QuietHours
from notifications.smsparts import sms_parts
from storage.campaigns import (
    AreaAudience,
    BillingMessage,
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
from storage.notices import respects_opt_out
from storage.outbox import PRIORITY_BULK, PRIORITY_URGENT
from storage.store import Store

log = logging.getLogger(__name__)

# An outage notice fits two SMS parts (contracts.md §8); longer input is cut to fit.
SMS_OUTAGE_PARTS = 2
_MIN_CLIPPED = 12

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
                    ("telegram", settings.telegram.enabled), ("email", settings.email.enabled)
                ) if on
            ),
            window_first_day=settings.readings.window_first_day,
            window_last_day=settings.readings.window_last_day,
            reminder_hour=n.reminder_hour,
            sms_signature=settings.service.sms_signature,
        )


@dataclass(frozen=True, slots=True)
class OutageRequest:
    """An outage as staff describe it (contracts.md §8). Times are aware."""

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
    email: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "outage": self.outage,
            "accounts": self.accounts,
            "recipients": self.recipients,
            "by_channel": {
                "sms": self.sms, "telegram": self.telegram,
                **({"email": self.email} if self.email else {}),
            },
            "sms_parts": self.sms_parts,
            "sample": self.sample,
        }


def _clip(value: str) -> str:
    """`value` at least eight characters shorter (at least `_MIN_CLIPPED`), ending in
    «…», cut after a whole word or house number where one ends (a reason cut to
    «аварийное п…» or a list to «…, 1…» reads as nonsense or as another house)."""
    bare = value.removesuffix("…")
    cut = bare[: max(_MIN_CLIPPED - 1, len(bare) - 8)]
    if len(cut) < len(bare) and bare[len(cut)] not in " ,;":
        boundary = max(cut.rfind(" "), cut.rfind(","), cut.rfind(";"))
        if boundary > 0:
            cut = cut[:boundary]
    return cut.rstrip(" ,.;") + "…"


def _fit_sms(render: Callable[[str, str], str], reason: str, where: str) -> str:
    """`render(reason, where)` cut to `SMS_OUTAGE_PARTS` parts: a long reason first,
    then a long area (house list), each ending in «…»."""
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
    """The result of a billing file (contracts.md §10, §11)."""

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
    """The outage request is wrong (the message says what to fix)."""


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
        self, req: OutageRequest, *, dry_run: bool = False, yes: bool = False
    ) -> BroadcastReport:
        """Record an outage and queue its notice to the people at those addresses; with
        `dry_run` only count them. Above `confirm_above` recipients without `yes`,
        nothing is recorded and the report says `needs_confirmation`."""
        if not req.settlement.strip():
            raise OutageError("settlement: required")
        if not req.reason.strip():
            raise OutageError("reason: required")
        if req.until <= req.start:
            raise OutageError("until: must be after start")
        audience = AreaAudience(req.settlement, req.street, req.houses)
        routing = self._routing("outage", {"planned": req.planned})
        full, text = self.outage_text(req), self.outage_sms_text(req)
        counts = await self.campaigns.count(audience, routing)
        preview = BroadcastReport(
            None, None, counts.accounts, counts.recipients, counts.sms, counts.telegram,
            sms_parts(text), text, email=counts.email,
        )
        if dry_run:
            return preview
        if counts.recipients > self.config.confirm_above and not yes:
            return BroadcastReport(**{**_fields(preview), "needs_confirmation": True})
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
            # the power is back is dropped, not sent late (design.md).
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
        )

    async def restored(self, outage_id: int) -> BroadcastReport | None:
        """Close the outage, drop its notices not sent yet, and tell the same people the
        power is back. Again on a closed outage: the report of the first «restored»."""
        outage = await self.store.outages.get(outage_id)
        if outage is None:
            return None
        where = templates.area(outage.settlement, outage.street, outage.houses)
        now = self.clock()
        # A planned outage closed before it began never cut anyone off: «restored» would
        # puzzle people; those who were told of it hear it is called off, nobody else.
        called_off = outage.status == "cancelled" or (
            outage.restored_campaign_id is None and outage.planned and now < outage.start_at
        )
        start = outage.start_at.astimezone(self.config.tz).strftime("%d.%m %H:%M")

        def render(signature: str, area: str) -> str:
            if called_off:
                return templates.planned_called_off_notice(
                    where=area, start=start, company=signature
                )
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
            if called_off:
                await self.store.outages.cancel(outage.id, now)
            else:
                await self.store.outages.restore(outage.id, now)
            if outage.campaign_id is not None:
                await self.campaigns.stop_unsent(
                    outage.campaign_id, now,
                    status="cancelled" if called_off else "expired",
                    reason="planned outage called off" if called_off
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
        )

    # -- billing notices -----------------------------------------------------------------

    async def import_invoices(self, source: Source, name: str = "") -> ImportReport:
        """Each file becomes one invoice campaign (contracts.md §10)."""

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
        digest = _digest(source)
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


def _fields(report: BroadcastReport) -> dict[str, Any]:
    return {name: getattr(report, name) for name in BroadcastReport.__slots__}


def parse_local_time(text: str, tz: ZoneInfo) -> datetime:
    """«2026-11-26 10:00» (ISO 8601; without an offset: the service's time zone) → an
    aware datetime. Raises ValueError naming the text."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r}: expected YYYY-MM-DD HH:MM") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)
