"""The quarterly appeals report as a use case: load the appeals of a quarter and of the
previous one from the store, analyse (`report`), write the files (`render`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from handlers.quality.render import write_appeals_report
from handlers.quality.report import REPEAT_WINDOW, AppealsReport, Quarter, analyse_appeals
from storage.models import Outage
from storage.store import Store


async def load_appeals_report(
    store: Store, quarter: Quarter, tz: ZoneInfo, now: datetime, *, recurring_min: int = 3
) -> AppealsReport:
    """Analyse a quarter's appeals against the previous quarter's, as of `now`."""
    previous = quarter.previous()
    start, middle, end = previous.start(tz), quarter.start(tz), quarter.end(tz)
    # A month before the previous quarter, for repeats after an answer near its start.
    earlier = await store.appeals.between(start - REPEAT_WINDOW, start)
    before = await store.appeals.between(start, middle)
    current = await store.appeals.between(middle, end)
    outages: dict[int, Outage] = {}
    for outage_id in sorted({a.outage_id for a in (*before, *current) if a.outage_id}):
        outage = await store.outages.get(outage_id)
        if outage is not None:
            outages[outage_id] = outage
    return analyse_appeals(
        current,
        before,
        quarter=quarter,
        as_of=now,
        outages=outages,
        earlier=earlier,
        recurring_min=recurring_min,
    )


async def appeals_report(
    store: Store, quarter: Quarter, out_dir: Path, tz: ZoneInfo, now: datetime
) -> Path:
    """Write the quarterly appeals report into `out_dir`; returns the HTML report's path."""
    report = await load_appeals_report(store, quarter, tz, now)
    return write_appeals_report(report, out_dir, tz)
