"""Readings export (docs/interfaces.md §4): exact JSON lines and CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from storage.db import Database
from storage.export import EXPORT_KEYS, export_readings, export_value
from storage.models import NewReading
from storage.repos import ReadingRepo

MSK = ZoneInfo("Europe/Moscow")
# 10:15 in Moscow
AT = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)


def reading(value: str, **fields: object) -> NewReading:
    base: dict[str, object] = {
        "account": "1234567890", "meter_serial": "011234567", "zone": "T1",
        "value": Decimal(value), "period": "2026-11", "channel": "sms",
        "sender": "+79121234567", "received_at": AT,
    }
    return NewReading(**(base | fields))  # type: ignore[arg-type]


async def export(db: Database, **options: object) -> str:
    out = io.StringIO()
    kwargs: dict[str, object] = {"fmt": "jsonl", "include_console": False, "tz": MSK}
    await export_readings(db, out=out, **(kwargs | options))  # type: ignore[arg-type]
    return out.getvalue()


async def test_json_line_is_the_contract_example(db: Database) -> None:
    await ReadingRepo(db).save([reading("4521")])
    assert await export(db) == (
        '{"account": "1234567890", "meter_serial": "011234567", "zone": "T1", "value": "4521",'
        ' "period": "2026-11", "channel": "sms", "sender": "+79121234567",'
        ' "received_at": "2026-11-20T10:15:00+03:00"}\n'
    )


async def test_csv_has_the_same_keys_as_columns(db: Database) -> None:
    await ReadingRepo(db).save([
        reading("4521.7"),
        reading("1876", zone="T2", channel="telegram", sender="telegram:111222333"),
    ])
    text = await export(db, fmt="csv")
    assert text.splitlines() == [
        "account,meter_serial,zone,value,period,channel,sender,received_at",
        "1234567890,011234567,T1,4521.7,2026-11,sms,+79121234567,2026-11-20T10:15:00+03:00",
        "1234567890,011234567,T2,1876,2026-11,telegram,telegram:111222333,"
        "2026-11-20T10:15:00+03:00",
    ]
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert tuple(parsed[0]) == EXPORT_KEYS
    jsonl = [json.loads(line) for line in (await export(db)).splitlines()]
    assert parsed == jsonl


async def test_only_current_accepted_readings(db: Database) -> None:
    repo = ReadingRepo(db)
    await repo.save([reading("4500")])
    await repo.save([reading("4521")])  # a correction replaces the first
    await repo.save([reading("9999", zone="T2", status="pending")])  # waits for ДА/НЕТ
    await repo.save([reading("100", meter_serial="222", channel="console", sender="console")])
    await repo.save([reading("4400", period="2026-10")])
    lines = [json.loads(line) for line in (await export(db)).splitlines()]
    assert [(r["period"], r["meter_serial"], r["zone"], r["value"]) for r in lines] == [
        ("2026-10", "011234567", "T1", "4400"),
        ("2026-11", "011234567", "T1", "4521"),
    ]
    with_console = [json.loads(line) for line in
                    (await export(db, include_console=True, period="2026-11")).splitlines()]
    assert [(r["meter_serial"], r["channel"]) for r in with_console] == [
        ("011234567", "sms"), ("222", "console")]


async def test_period_filter_and_validation(db: Database) -> None:
    await ReadingRepo(db).save([reading("4400", period="2026-10"), reading("4521")])
    assert [json.loads(x)["period"] for x in (await export(db, period="2026-10")).splitlines()
            ] == ["2026-10"]
    assert await export(db, period="2027-01") == ""
    with pytest.raises(ValueError, match="period"):
        await export(db, period="2026-1")
    with pytest.raises(ValueError, match="format"):
        await export(db, fmt="xml")


async def test_truncate_fractions(db: Database) -> None:
    await ReadingRepo(db).save([reading("4521.7"), reading("0.9", zone="T2")])
    values = [json.loads(x)["value"] for x in (await export(db, truncate=True)).splitlines()]
    assert values == ["4521", "0"]


@pytest.mark.parametrize(
    ("value", "truncate", "expected"),
    [
        ("4521", False, "4521"),
        ("4521.70", False, "4521.70"),  # stored as sent
        ("4521.70", True, "4521"),
        ("1E+3", False, "1000"),  # never exponent notation
        ("99999.99", True, "99999"),  # down, never up
    ],
)
def test_export_value(value: str, truncate: bool, expected: str) -> None:
    assert export_value(Decimal(value), truncate=truncate) == expected


async def test_time_zone_is_a_parameter(db: Database) -> None:
    await ReadingRepo(db).save([reading("4521")])
    line = json.loads(await export(db, tz=ZoneInfo("Asia/Yekaterinburg")))
    assert line["received_at"] == "2026-11-20T12:15:00+05:00"


async def test_streams_more_than_a_page(db: Database) -> None:
    await ReadingRepo(db).save([
        reading(str(i), account=f"{i:010d}") for i in range(2500)
    ])
    assert len((await export(db)).splitlines()) == 2500
    assert len(await ReadingRepo(db).export_rows("2026-11", False)) == 2500


STRANGER = "+79990000000"
OWNER = "+79121234567"

LANES = [
    # (value, linked, sender) saved in order → the exported (value, sender)
    ([("4600", False, STRANGER)], ("4600", STRANGER)),
    ([("4521", True, OWNER), ("4600", False, STRANGER)], ("4521", OWNER)),
    ([("4600", False, STRANGER), ("4521", True, OWNER)], ("4521", OWNER)),
    ([("4600", False, STRANGER), ("4610", False, "+79990000001")], ("4610", "+79990000001")),
    ([("4521", True, OWNER), ("4600", False, STRANGER), ("4530", True, OWNER)], ("4530", OWNER)),
]


@pytest.mark.parametrize(("saved", "exported"), LANES)
async def test_an_unlinked_reading_is_exported_only_while_no_linked_one_exists(
    db: Database, saved: list[tuple[str, bool, str]], exported: tuple[str, str]
) -> None:
    repo = ReadingRepo(db)
    for value, linked, sender in saved:
        await repo.save([reading(value, linked=linked, sender=sender)])
    rows = await repo.export_rows(None, include_console=False)
    assert [(str(r.value), r.sender) for r in rows] == [exported]
    # The base of the owner's checks is never a stranger's value.
    current = await repo.current("1234567890", "011234567", "T1", "2026-11")
    owners = [v for v, linked, _ in saved if linked]
    assert (str(current.value) if current else None) == (owners[-1] if owners else None)
