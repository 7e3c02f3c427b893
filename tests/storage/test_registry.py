"""Registry import (docs/interfaces.md §3): validation, idempotency, phone replacement,
last row wins, and a real SIGKILL in the middle of an import."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import random
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from storage.csvfile import CsvFileError, CsvRow, Rejected
from storage.db import Database, SqliteDatabase
from storage.phones import _slow, to_e164
from storage.registry import REGISTRY_COLUMNS, CustomerRow, import_customers, parse_customer
from storage.repos import RegistryRepo
from tests.stores import DbMaker

ROOT = Path(__file__).resolve().parents[2]

GOOD = {
    "account": "1234567890", "phones": "+7 912 123-45-67", "name": "Иванов Иван Петрович",
    "settlement": "г. Сыктывкар", "street": "ул. Комарова", "house": "21 А", "apartment": "7",
    "meter_serial": "011234567", "zones": "2", "digits": "5", "last_t1": "4390",
    "last_t2": "1815,5", "last_t3": "", "last_date": "2026-10-24", "balance": "1234,56",
}


def csv_text(*rows: dict[str, str], delimiter: str = ";") -> bytes:
    """A registry file: each row is GOOD with some fields changed."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(REGISTRY_COLUMNS)
    for row in rows:
        writer.writerow((GOOD | row)[column] for column in REGISTRY_COLUMNS)
    return out.getvalue().encode("utf-8")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"zones": "4"}, "zones '4' must be 1, 2 or 3"),
        ({"zones": ""}, "zones '' must be 1, 2 or 3"),
        ({"meter_serial": "  "}, "meter_serial is empty"),
        ({"account": "12З4567890"}, "account '12З4567890' must be digits"),  # Cyrillic З
        ({"account": "123 456"}, "account '123 456' must be digits"),
        ({"phones": "+79121234567|8 912 ЗВОНИТЬ"}, "phone '8 912 ЗВОНИТЬ' cannot be read"),
        ({"phones": "12345"}, "phone '12345' cannot be read"),
        ({"last_date": "24.10.2026"}, "last_date '24.10.2026' is not a date YYYY-MM-DD"),
        ({"last_date": "2026-10-32"}, "last_date '2026-10-32' is not a valid date"),
        ({"balance": "12.345,67"}, "balance '12.345,67' is not a decimal number"),
        ({"balance": "сто"}, "balance 'сто' is not a decimal number"),
        ({"last_t1": "4521.7.1"}, "last_t1 '4521.7.1' is not a decimal number"),
        ({"last_t1": "-5"}, "last_t1 '-5' must not be negative"),
        ({"last_t3": "100"}, "last_t3 given for a 2-zone meter"),
        ({"zones": "1"}, "last_t2 given for a 1-zone meter"),
        ({"digits": "0"}, "digits '0' must be a whole number from 1 to 12"),
        ({"digits": "13"}, "digits '13' must be a whole number from 1 to 12"),
        ({"digits": "5.5"}, "digits '5.5' must be a whole number from 1 to 12"),
    ],
)
def test_bad_rows(fields: dict[str, str], reason: str) -> None:
    assert parse_customer(CsvRow(9, GOOD | fields)) == Rejected(9, reason)


def test_good_row_normalised() -> None:
    row = parse_customer(CsvRow(2, GOOD | {
        "account": "0012345678", "phones": "89121234567 | +7 (912) 123-45-67 |9041112233|",
        "name": "  Иванов   Иван ", "last_t1": "04390", "balance": "-1 200,5",
    }))
    assert row == CustomerRow(
        line=2, account="0012345678", phones=("+79121234567", "+79041112233"),
        holder="Иванов Иван", settlement="г. Сыктывкар", street="ул. Комарова", house="21 А",
        apartment="7", serial="011234567", zones=2, digits=5, last_t1="4390",
        last_t2="1815.5", last_t3=None, last_date="2026-10-24", balance="-1200.5",
    )


def test_empty_optional_fields() -> None:
    row = parse_customer(CsvRow(2, GOOD | {
        "phones": "", "last_t1": "", "last_t2": "", "last_date": "", "balance": "",
    }))
    assert isinstance(row, CustomerRow)
    assert (row.phones, row.last_t1, row.last_date, row.balance) == ((), None, None, "0")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+7 912 123-45-67", "+79121234567"),
        ("89121234567", "+79121234567"),
        ("8 (912) 123-45-67", "+79121234567"),
        ("8-912-123-45-67", "+79121234567"),
        ("9121234567", "+79121234567"),
        ("79121234567", "+79121234567"),  # an MSISDN as SMSCs send it
        ("тел. 89121234567", "+79121234567"),
        ("8 800 200-00-00", "+78002000000"),
        # «8 10» is the Russian international prefix, not a national number: it once
        # took the fast path and came out as +71049301234567
        ("8 10 49 30 1234567", "+49301234567"),
        ("81049301234567", "+49301234567"),
        ("+49 30 1234567", "+49301234567"),
        ("+375 29 123-45-67", "+375291234567"),
        ("+8 912 123 45 67", None),
        ("912123456", None),
        ("", None),
        ("  ", None),
    ],
)
def test_phone_notations(raw: str, expected: str | None) -> None:
    assert to_e164(raw) == expected


def test_fast_path_agrees_with_phonenumbers() -> None:
    # The fast path is only a shortcut: on any digit string it must give what
    # phonenumbers gives (the slow path every other notation takes).
    rng = random.Random(5)
    for _ in range(20_000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.choice((10, 11))))
        raw = rng.choice(("{}", "+{}", "({})", "8 {}")).format(digits)
        assert to_e164(raw) == _slow(raw, "RU"), raw


async def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """The registry tables, without `updated_at` (the time of the import)."""
    return {
        "accounts": [tuple(r) for r in await db.fetchall(
            "SELECT number, holder, settlement, street, house, apartment, settlement_key,"
            " street_key, house_key, balance, segment FROM accounts ORDER BY number")],
        "phones": [tuple(r) for r in await db.fetchall(
            "SELECT account, phone FROM account_phones ORDER BY account, phone")],
        "meters": [tuple(r) for r in await db.fetchall(
            "SELECT * FROM meters ORDER BY account, serial")],
    }


async def test_import_report_and_rows(make_db: DbMaker) -> None:
    data = csv_text(
        {},
        {"meter_serial": "011234568", "zones": "3", "last_t3": "77"},
        {"account": "12a"},
        {"account": "0012345678", "phones": "", "zones": "1", "last_t2": ""},
    )
    async with make_db() as db:
        report = await import_customers(db, data)
        assert (report.rows, report.accounts, report.meters) == (4, 2, 3)
        assert report.rejected == [(4, "account '12a' must be digits")]
        account = await RegistryRepo(db).get_account("1234567890")
        assert account is not None
        assert account.phones == ("+79121234567",)
        assert [m.serial for m in account.meters] == ["011234567", "011234568"]
        assert account.meters[1].zones == 3
        assert str(account.meters[0].last["T2"]) == "1815.5"
        row = await db.fetchone("SELECT * FROM accounts WHERE number = '1234567890'")
        assert row is not None
        assert (row["settlement_key"], row["street_key"], row["house_key"]) == (
            "сыктывкар", "комарова", "21а")
        assert row["balance"] == "1234.56"
        zeros = await RegistryRepo(db).get_account("0012345678")
        assert zeros is not None
        assert zeros.phones == ()


async def test_same_file_twice_same_state(make_db: DbMaker) -> None:
    data = csv_text({}, {"account": "0012345678", "phones": "89041112233|89121234567"})
    async with make_db() as db:
        await import_customers(db, data)
        first = await dump(db)
        stamps = await db.fetchall("SELECT number, updated_at FROM accounts ORDER BY number")
        await asyncio.sleep(0.01)
        report = await import_customers(db, data)
        assert report.accounts == 2
        assert await dump(db) == first
        # unchanged rows are not rewritten: even updated_at stays
        again = await db.fetchall("SELECT number, updated_at FROM accounts ORDER BY number")
        assert [tuple(r) for r in again] == [tuple(r) for r in stamps]


async def test_phones_replaced_and_removed_phone_loses_link(make_db: DbMaker) -> None:
    async with make_db() as db:
        await import_customers(db, csv_text({"phones": "+79121234567|+79041112233"}))
        repo = RegistryRepo(db)
        assert await repo.phone_on_account("+79041112233", "1234567890")
        # the former owner's phone is gone from the registry: its link goes too
        await import_customers(db, csv_text({"phones": "8 912 123-45-67|89505556677"}))
        assert not await repo.phone_on_account("+79041112233", "1234567890")
        assert await repo.accounts_for_phone("+79041112233") == []
        account = await repo.get_account("1234567890")
        assert account is not None
        assert account.phones == ("+79121234567", "+79505556677")


async def test_an_account_not_in_the_file_keeps_its_phones(make_db: DbMaker) -> None:
    async with make_db() as db:
        await import_customers(db, csv_text({"account": "1111111111"}))
        await import_customers(db, csv_text({"account": "2222222222"}))
        assert await RegistryRepo(db).accounts_for_phone("+79121234567") == [
            "1111111111", "2222222222"]


async def test_last_row_wins_across_batches(make_db: DbMaker) -> None:
    data = csv_text(
        {"name": "Старый Владелец", "phones": "89041112233", "balance": "10"},
        {"account": "5555555555"},
        {"account": "6666666666"},
        # the same account again, in a later batch, with another meter
        {"name": "Новый Владелец", "phones": "89505556677", "balance": "-5,5",
         "meter_serial": "999", "house": "3"},
        # a rejected last row does not count
        {"name": "Ошибка", "zones": "7"},
    )
    async with make_db() as db:
        report = await import_customers(db, data, batch_size=2)
        assert report.rejected == [(6, "zones '7' must be 1, 2 or 3")]
        account = await RegistryRepo(db).get_account("1234567890")
        assert account is not None
        assert (account.holder, account.house, str(account.balance)) == (
            "Новый Владелец", "3", "-5.5")
        assert account.phones == ("+79505556677",)
        assert [m.serial for m in account.meters] == ["011234567", "999"]
        assert report.accounts == 3
        assert report.meters == 4


async def test_same_meter_twice_last_row_wins(make_db: DbMaker) -> None:
    data = csv_text({"last_t1": "100"}, {"last_t1": "200", "last_date": "2026-11-20"})
    async with make_db() as db:
        report = await import_customers(db, data)
        assert report.meters == 1
        row = await db.fetchone("SELECT last_t1, last_date FROM meters")
        assert row is not None
        assert tuple(row) == ("200", "2026-11-20")


async def test_comma_delimiter_and_bom(make_db: DbMaker) -> None:
    data = b"\xef\xbb\xbf" + csv_text({"name": "Иванов", "balance": "12.5"}, delimiter=",")
    async with make_db() as db:
        report = await import_customers(db, data)
        assert (report.rows, report.rejected) == (1, [])


async def test_unreadable_file_raises(tmp_path: Path, make_db: DbMaker) -> None:
    async with make_db() as db:
        with pytest.raises(CsvFileError):
            await import_customers(db, tmp_path / "absent.csv")
        with pytest.raises(CsvFileError, match="missing column"):
            await import_customers(db, b"account;phones\n1;2\n")


async def test_progress_reports_bytes(make_db: DbMaker) -> None:
    data = csv_text(*({"account": str(1000 + i)} for i in range(10)))
    seen: list[int] = []
    async with make_db() as db:
        await import_customers(db, data, batch_size=3, progress=seen.append)
    assert len(seen) >= 4
    assert seen == sorted(seen)
    assert seen[-1] == len(data)


# -- SIGKILL in the middle of an import ---------------------------------------------------

_CHILD = """
import asyncio, sys
from storage.db import Database, SqliteDatabase
from storage.registry import import_customers

async def main() -> None:
    async with SqliteDatabase(sys.argv[1]) as db:
        def committed(position: int) -> None:
            print(position, flush=True)
        await import_customers(db, sys.argv[2], batch_size=1000, progress=committed)
    print("done", flush=True)

asyncio.run(main())
"""


def _sync_dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    async def run() -> dict[str, list[tuple[Any, ...]]]:
        async with SqliteDatabase(path) as db:
            return await dump(db)

    return asyncio.run(run())


async def test_killed_import_rerun_equals_clean_import(tmp_path: Path) -> None:
    from bench.gen_registry import write

    source = tmp_path / "registry.csv"
    rows = write(source, 40_000, seed=7, broken=20)
    assert rows > 45_000
    killed_db = tmp_path / "killed.db"
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, str(killed_db), str(source),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        for _ in range(5):  # five batches committed, then the kill lands mid-import
            line = await asyncio.wait_for(child.stdout.readline(), timeout=30)
            assert line, "the import died before committing five batches"
            assert line != b"done\n", "the import ended before it could be killed"
    finally:
        if child.returncode is None:
            os.kill(child.pid, signal.SIGKILL)
        await asyncio.wait_for(child.wait(), timeout=30)
    assert child.returncode == -signal.SIGKILL

    # The killed database is consistent and holds part of the registry.
    with sqlite3.connect(killed_db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (partial,) = conn.execute("SELECT count(*) FROM meters").fetchone()
    assert 5000 <= partial < rows

    async with SqliteDatabase(killed_db) as db:
        rerun = await import_customers(db, source, batch_size=1000)
        after_rerun = await dump(db)
    async with SqliteDatabase(tmp_path / "clean.db") as db:
        clean = await import_customers(db, source, batch_size=1000)
        after_clean = await dump(db)
    assert rerun.rejected == clean.rejected
    assert len(clean.rejected) == 20
    assert (rerun.accounts, rerun.meters) == (clean.accounts, clean.meters)
    assert clean.meters == rows - 20
    assert after_rerun == after_clean
