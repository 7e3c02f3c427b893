"""Readings export to billing (docs/interfaces.md §4): JSON lines or CSV, streamed.

One record per current accepted reading of (account, meter, zone, period). Readings
waiting for the customer's confirmation are never exported (only `accepted` ones are);
readings typed in `gateway chat` (channel `console`) only on request. A reading from a
sender not linked to the account is exported only while no linked contact has sent one
for the key (docs/architecture.md «Identification»).
"""

from __future__ import annotations

import csv
import json
from contextlib import aclosing
from datetime import tzinfo
from decimal import ROUND_DOWN, Decimal
from typing import Literal, TextIO

from storage.csvfile import parse_period
from storage.db import Database
from storage.models import ReadingRecord
from storage.repos import ReadingRepo

ExportFormat = Literal["jsonl", "csv"]

# The contract's keys, in the contract's order (also the CSV columns).
EXPORT_KEYS = (
    "account", "meter_serial", "zone", "value", "period", "channel", "sender", "received_at",
)


def export_value(value: Decimal, *, truncate: bool = False) -> str:
    """A reading as billing takes it: a plain decimal string, whole kWh when truncating.

    Truncation rounds down (towards zero): billing must never be told a meter shows more
    than it does.
    """
    if truncate:
        value = value.to_integral_value(rounding=ROUND_DOWN)
    return format(value, "f")


def export_record(
    reading: ReadingRecord, *, tz: tzinfo, truncate: bool = False
) -> dict[str, str]:
    """One reading as the contract's object (keys in `EXPORT_KEYS` order).

    `received_at` is printed in the service time zone with its offset, to the second.
    A reading a person typed for the customer adds `entered_by` (their login), only there.
    """
    record = {
        "account": reading.account,
        "meter_serial": reading.meter_serial,
        "zone": reading.zone,
        "value": export_value(reading.value, truncate=truncate),
        "period": reading.period,
        "channel": reading.channel,
        "sender": reading.sender,
        "received_at": reading.received_at.astimezone(tz).isoformat(timespec="seconds"),
    }
    if reading.entered_by:
        record["entered_by"] = reading.entered_by
    return record


async def export_readings(
    db: Database,
    *,
    period: str | None = None,
    fmt: ExportFormat = "jsonl",
    include_console: bool = False,
    out: TextIO,
    tz: tzinfo,
    truncate: bool = False,
) -> int:
    """Write the readings export to `out`; returns the number of readings written.

    `period` (`YYYY-MM`) limits it to one period, else every period. `fmt` is `jsonl`
    (one JSON object a line) or `csv` (a header row of the same keys, `,`-separated).
    `truncate` drops fractions (`[readings] export_truncate`). Raises ValueError for a
    malformed period or format. Writes to `out` only; prints nothing else.
    """
    if period is not None:
        period = parse_period(period)
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown export format {fmt!r}: jsonl or csv")
    writer = None
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_KEYS)
    count = 0
    # aclosing: a failed write (`| head` closing the pipe) closes the cursor now, not
    # after the database is gone («Task exception was never retrieved»).
    async with aclosing(ReadingRepo(db).iter_export_rows(period, include_console)) as rows:
        async for reading in rows:
            record = export_record(reading, tz=tz, truncate=truncate)
            if writer is not None:
                writer.writerow([record[key] for key in EXPORT_KEYS])
            else:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
