"""Staff commands in Telegram, for the user ids in `[telegram] staff_ids`:

    /outage Сыктывкар; Комарова; 1-15,17; ремонт ЛЭП; 2026-11-26 10:00; 2026-11-26 18:00
            [; плановое]
    /outage! …      the same, confirmed (above `confirm_above` recipients)
    /restored N     power is back for outage N
    /calloff N      outage N is called off (those already told hear so)
    /extend N ДД.ММ.ГГГГ ЧЧ:ММ   outage N lasts longer (those told hear the new time)
    /outages        the outages not restored or cancelled
    /cancel N       stop campaign N
    /campaign N     progress of campaign N

`parse_staff_command` is pure; `run_staff_command` does the action through
`Notifications` (the same use cases as the CLI and the API) and returns the reply text.
The conversation router calls `staff_reply` for a Telegram contact whose user id is in
`staff_ids`, before the customer handlers; None means «not a staff command, go on».
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from notifications import templates
from notifications.campaigns import (
    Notifications,
    OutageError,
    OutageRequest,
    parse_local_time,
)

_COMMAND = re.compile(
    r"^/(outages|outage!?|restored|calloff|extend|cancel|campaign|staff)(?:@\w+)?(?:\s+(.*))?$",
    re.S,
)
_PLANNED = {"плановое", "планово", "planned", "план"}


@dataclass(frozen=True, slots=True)
class StaffCommand:
    """A parsed staff command; `error` set when it was ours but malformed."""

    name: str
    outage: OutageRequest | None = None
    number: int | None = None
    until: datetime | None = None
    confirmed: bool = False
    error: str | None = None
    text: str = ""


def parse_staff_command(text: str, tz: ZoneInfo) -> StaffCommand | None:
    """Text → a staff command, or None when the text is not one."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    name, rest = match[1], (match[2] or "").strip()
    if name == "extend":
        number, _, when = rest.partition(" ")
        if not number.isdigit() or not when.strip():
            return StaffCommand(name, error=templates.STAFF_EXTEND_USAGE, text=text)
        try:
            until = parse_local_time(when, tz)
        except ValueError:
            return StaffCommand(name, error=templates.STAFF_BAD_TIME.format(text=when.strip()))
        return StaffCommand(name, number=int(number), until=until, text=text)
    if name in {"restored", "calloff", "cancel", "campaign"}:
        if not rest.isdigit():
            return StaffCommand(name, error=f"Нужен номер: /{name} N", text=text)
        return StaffCommand(name, number=int(rest), text=text)
    if name in {"staff", "outages"}:
        return StaffCommand(name, text=text)
    confirmed = name.endswith("!")
    parts = [p.strip() for p in rest.split(";")]
    if len(parts) not in (6, 7):
        return StaffCommand("outage", error=templates.STAFF_OUTAGE_USAGE, text=text)
    settlement, street, houses, reason, start_text, until_text = parts[:6]
    planned = len(parts) == 7 and parts[6].lower() in _PLANNED
    if len(parts) == 7 and not planned:
        return StaffCommand("outage", error=templates.STAFF_OUTAGE_USAGE, text=text)
    try:
        start = parse_local_time(start_text, tz)
    except ValueError:
        return StaffCommand("outage", error=templates.STAFF_BAD_TIME.format(text=start_text))
    try:
        until = parse_local_time(until_text, tz)
    except ValueError:
        return StaffCommand("outage", error=templates.STAFF_BAD_TIME.format(text=until_text))
    request = OutageRequest(
        settlement=settlement, street=street, houses=houses, reason=reason,
        start=start, until=until, planned=planned,
    )
    return StaffCommand("outage", outage=request, confirmed=confirmed, text=text)


async def run_staff_command(service: Notifications, command: StaffCommand) -> str:
    """Do what the command asks; returns the reply for the staff member."""
    if command.error is not None:
        return command.error
    if command.name == "staff":
        return templates.STAFF_HELP
    if command.name == "outages":
        views = await service.outages(active_only=True)
        return templates.staff_outages([v.as_json(service.config.tz) for v in views])
    if command.name == "outage":
        assert command.outage is not None
        try:
            report = await service.outage(command.outage, yes=command.confirmed)
        except OutageError as exc:
            if "until" in str(exc):
                return templates.STAFF_BAD_WINDOW
            return f"{templates.STAFF_OUTAGE_USAGE}\n({exc.russian})"
        preview = templates.staff_preview(
            accounts=report.accounts, recipients=report.recipients, sms=report.sms,
            telegram=report.telegram, parts=report.sms_parts, sample=report.sample,
        )
        if report.empty:
            return f"{preview}\n{templates.STAFF_EMPTY_AUDIENCE}"
        if report.needs_confirmation:
            confirm = command.text.strip().replace("/outage", "/outage!", 1)
            return f"{preview}\n{templates.staff_confirm(confirm)}"
        assert report.campaign is not None
        assert report.outage is not None
        return f"{templates.staff_started(report.campaign, report.outage)}\n{preview}"
    assert command.number is not None
    if command.name == "restored":
        restored = await service.restored(command.number)
        if restored is None or restored.campaign is None:
            return templates.STAFF_NOT_FOUND.format(what="отключение", number=command.number)
        # A planned outage closed before it began is called off, not «свет дали»: say
        # which, and what went out.
        outage = await service.store.outages.get(command.number)
        return templates.staff_restored(
            restored.campaign, command.number, recipients=restored.recipients,
            text=restored.sample, called_off=outage is not None and outage.status == "cancelled",
        )
    if command.name in {"calloff", "extend"}:
        try:
            if command.name == "extend":
                assert command.until is not None
                changed = await service.extend_outage(command.number, command.until)
            else:
                changed = await service.cancel_outage(command.number)
        except OutageError as exc:
            return templates.staff_outage_refused(command.number, exc.russian)
        if changed is None or changed.campaign is None:
            return templates.STAFF_NOT_FOUND.format(what="отключение", number=command.number)
        return templates.staff_outage_changed(
            command.number, changed.campaign, recipients=changed.recipients,
            text=changed.sample, extended=command.name == "extend",
        )
    if command.name == "cancel":
        stopped = await service.cancel(command.number)
        if stopped is None:
            return templates.STAFF_NOT_FOUND.format(what="рассылка", number=command.number)
        return templates.staff_cancelled(command.number, stopped)
    progress = await service.progress(command.number)
    if progress is None:
        return templates.STAFF_NOT_FOUND.format(what="рассылка", number=command.number)
    counts = {**progress.counts, "recipients": progress.recipients}
    return templates.staff_progress(command.number, counts)


def is_staff(user_id: int | None, staff_ids: list[int]) -> bool:
    return user_id is not None and user_id in staff_ids


async def staff_reply(
    service: Notifications, text: str, user_id: int | None, staff_ids: list[int]
) -> str | None:
    """The router's entry point: the reply to a staff command from an allow-listed
    Telegram user, or None (not staff, or not a staff command)."""
    if not is_staff(user_id, staff_ids):
        return None
    command = parse_staff_command(text, service.config.tz)
    if command is None:
        return None
    return await run_staff_command(service, command)
