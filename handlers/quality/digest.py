"""Service levels for staff: open appeals past or approaching their due time, as a
morning digest to the staff Telegram chat (`[telegram] staff_chat_id`) and as
`gateway appeals due [--hours 24]`.

The design promises each appeal an answer by its due time (outage and power quality:
24 hours; others: 3 working days); the digest is what keeps that promise visible before
it is broken, not only in the quarterly report after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from handlers.quality.report import CATEGORY_LABELS, CHANNEL_LABELS
from storage.db import utcnow
from storage.models import Appeal
from storage.store import Store

log = logging.getLogger(__name__)

MAX_LINES: Final = 30  # per section: a Telegram message holds 4096 characters
_OPEN_LIMIT: Final = 100_000


@dataclass(frozen=True, slots=True)
class DueAppeals:
    """Open appeals past their due time and those due within the horizon."""

    now: datetime
    hours: int
    overdue: tuple[Appeal, ...]  # most overdue first
    approaching: tuple[Appeal, ...]  # soonest due first


async def due_appeals(store: Store, now: datetime, hours: int) -> DueAppeals:
    """Open appeals whose due time is before `now + hours`."""
    horizon = now + timedelta(hours=hours)
    # `recent('open')` comes ordered by due time: the most urgent first.
    open_ = await store.appeals.recent("open", limit=_OPEN_LIMIT)
    overdue = tuple(a for a in open_ if a.due_at <= now)
    approaching = tuple(a for a in open_ if now < a.due_at <= horizon)
    return DueAppeals(now, hours, overdue, approaching)


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 1:
        return f"{max(1, round(hours * 60))} мин"
    if hours < 48:
        return f"{round(hours)} ч"
    return f"{round(hours / 24)} дн."


def _line(appeal: Appeal, now: datetime) -> str:
    tz = now.tzinfo
    due = appeal.due_at.astimezone(tz).strftime("%d.%m %H:%M")
    when = (
        f"просрочено на {_span(now - appeal.due_at)}"
        if appeal.due_at <= now
        else f"через {_span(appeal.due_at - now)}"
    )
    category = CATEGORY_LABELS.get(appeal.category, appeal.category)
    channel = CHANNEL_LABELS.get(appeal.channel, appeal.channel)
    return f"№{appeal.id} · {category} · {channel} · срок {due}, {when}"


def digest_text(due: DueAppeals) -> str:
    """The digest as plain text (Russian, for staff). Times are shown in the time zone
    of `due.now`."""
    now = due.now
    head = (
        f"Обращения на {now:%d.%m.%Y %H:%M}: просрочено {len(due.overdue)}, "
        f"срок в ближайшие {due.hours} ч — {len(due.approaching)}."
    )
    if not due.overdue and not due.approaching:
        return head + "\nВсе сроки в порядке."
    lines = [head]
    for title, items in (
        ("Просрочено:", due.overdue),
        (f"Срок в ближайшие {due.hours} ч:", due.approaching),
    ):
        if not items:
            continue
        lines += ["", title]
        lines += [_line(a, now) for a in items[:MAX_LINES]]
        if len(items) > MAX_LINES:
            lines.append(f"… и ещё {len(items) - MAX_LINES} (gateway appeals due)")
    return "\n".join(lines)


async def due_digest(store: Store, now: datetime, hours: int = 24) -> str:
    """The staff digest of appeals past or within `hours` of their due time. Pass `now`
    in the service's time zone: the digest shows times in `now`'s zone."""
    return digest_text(await due_appeals(store, now, hours))


def next_run(now: datetime, tz: ZoneInfo, hour: int) -> datetime:
    """The next `hour`:00 local time strictly after `now`."""
    local = now.astimezone(tz)
    candidate = datetime.combine(local.date(), time(hour), tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(hour), tzinfo=tz)
    return candidate


async def run_digest_scheduler(
    store: Store,
    send_to_staff: Callable[[str], Awaitable[None]],
    tz: ZoneInfo,
    hour: int = 9,
    *,
    hours: int = 24,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Send the digest every day at `hour`:00 local time until cancelled. A failed
    digest is logged and the next one comes the next morning (staff can always run
    `gateway appeals due`). `clock` and `sleep` are for tests."""
    target = next_run(clock(), tz, hour)
    while True:
        wait = (target - clock()).total_seconds()
        if wait > 0:
            await sleep(wait)
        try:
            await send_to_staff(await due_digest(store, clock().astimezone(tz), hours))
        except asyncio.CancelledError:
            raise
        except Exception:  # the scheduler outlives one failed digest
            log.exception("quality: the staff digest failed")
        # From the later of now and the target: an early wake-up does not send twice.
        target = next_run(max(clock(), target), tz, hour)
