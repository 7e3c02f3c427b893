"""Customer registry import from billing (docs/interfaces.md §3, docs/architecture.md "Registry").

The file has one row per meter. The import is an idempotent upsert applied in file
order, a batch of rows per transaction:

- where rows of one account disagree on account fields (holder, address, balance,
  phones), the last row wins, because later batches overwrite earlier ones;
- an account's phones are replaced by those of its row (the registry is the source of
  truth: a phone removed there, a former owner's, loses its link); so are its e-mail
  addresses when the file has the optional `emails` column (a file without it leaves
  them as they are);
- a bad row is rejected with its line number and reason, and the good rows load.

Because every batch is an upsert whose result depends only on the rows, a process killed
in the middle (SIGKILL included: each batch is one WAL transaction) and run again ends in
the state of one clean import. Unchanged rows are not rewritten (`… DO UPDATE … WHERE`
something differs), so importing the same file twice leaves even `updated_at` alone.

Meters and accounts absent from the file are left as they are: billing may send a part of
the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from storage.address import house_key, settlement_key, street_key
from storage.csvfile import (
    CsvFile,
    CsvRow,
    FieldError,
    Rejected,
    Source,
    decimal_text,
    parse_account,
    parse_date,
    parse_decimal,
)
from storage.db import Database, to_db, utcnow
from storage.pg import PgDatabase
from storage.phones import to_e164

REGISTRY_COLUMNS = (
    "account", "phones", "name", "settlement", "street", "house", "apartment",
    "meter_serial", "zones", "digits", "last_t1", "last_t2", "last_t3", "last_date",
    "balance",
)
# Optional columns: a file without them leaves what they hold as it was.
OPTIONAL_COLUMNS = ("emails",)

# Rows per transaction. A commit writes every page the batch dirtied to the WAL, and rows
# arrive in no key order, so a batch touches index leaves all over the three tables: with
# 5 000 rows the same pages were written over and over (a 500 000-account import took
# 36 s; 20 000 rows: 28 s, 50 000: no faster and 70 MB more memory). A batch holds the
# write lock for about half a second, which the running service's writers wait out
# (busy_timeout), and a killed import loses at most one batch of work.
DEFAULT_BATCH = 20_000

# A larger page cache while importing: the three tables' indexes are updated in key order
# that is not file order, and a 64 MiB cache keeps their inner pages in memory.
_IMPORT_CACHE_KIB = 65536
# Checkpoint the WAL every ~40 MB instead of every 4 MB while importing. Each checkpoint
# fsyncs the WAL and the database and rewrites the index pages touched since the last
# one; on the VMs we run on the fsyncs alone were a third of the import's time. Crash
# safety is unchanged: every committed batch is in the WAL either way.
_IMPORT_CHECKPOINT_PAGES = 10000


@dataclass(frozen=True, slots=True)
class CustomerRow:
    """One valid registry row: an account's fields and one of its meters."""

    line: int
    account: str
    phones: tuple[str, ...]
    holder: str
    settlement: str
    street: str
    house: str
    apartment: str
    serial: str
    zones: int
    digits: int
    last_t1: str | None
    last_t2: str | None
    last_t3: str | None
    last_date: str | None
    balance: str
    # None: the file has no `emails` column, and the account's addresses stay as they are.
    emails: tuple[str, ...] | None = None


@dataclass(slots=True)
class ImportReport:
    """What an import did. `rows` counts data rows read, rejected ones included."""

    rows: int = 0
    accounts: int = 0
    meters: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def parse_phones(text: str, region: str = "RU") -> tuple[str, ...]:
    """`|`-separated phones in any notation → E.164, duplicates dropped, order kept."""
    phones: list[str] = []
    for piece in text.split("|"):
        raw = piece.strip()
        if not raw:
            continue
        phone = to_e164(raw, region)
        if phone is None:
            raise FieldError(f"phone {raw!r} cannot be read")
        if phone not in phones:
            phones.append(phone)
    return tuple(phones)


_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+$")


def parse_emails(text: str) -> tuple[str, ...]:
    """`|`-separated e-mail addresses → lower case, duplicates dropped, order kept
    (docs/interfaces.md §14)."""
    emails: list[str] = []
    for piece in text.split("|"):
        raw = piece.strip()
        if not raw:
            continue
        if not _EMAIL.match(raw):
            raise FieldError(f"e-mail {raw!r} is not an address")
        if raw.lower() not in emails:
            emails.append(raw.lower())
    return tuple(emails)


def parse_customer(row: CsvRow, region: str = "RU") -> CustomerRow | Rejected:
    """Validate one registry row (docs/interfaces.md §3); the first problem is the reason."""
    f = row.fields
    try:
        account = parse_account(f["account"])
        serial = f["meter_serial"].strip()
        if not serial:
            raise FieldError("meter_serial is empty")
        zones_text = f["zones"].strip()
        if zones_text not in ("1", "2", "3"):
            raise FieldError(f"zones {zones_text!r} must be 1, 2 or 3")
        zones = int(zones_text)
        digits_text = f["digits"].strip()
        if not digits_text.isdigit() or not digits_text.isascii() or not (
            1 <= int(digits_text) <= 12
        ):
            raise FieldError(f"digits {digits_text!r} must be a whole number from 1 to 12")
        last: list[str | None] = []
        for zone in (1, 2, 3):
            column = f"last_t{zone}"
            text = f[column].strip()
            if not text:
                last.append(None)
            elif zone > zones:
                raise FieldError(f"{column} given for a {zones}-zone meter")
            else:
                last.append(decimal_text(parse_decimal(text, column, signed=False)))
        date_text = f["last_date"].strip()
        last_date = parse_date(date_text, "last_date").isoformat() if date_text else None
        balance_text = f["balance"]
        balance = decimal_text(parse_decimal(balance_text, "balance")) if balance_text.strip() \
            else "0"
        phones = parse_phones(f["phones"], region)
        emails = parse_emails(f["emails"]) if "emails" in f else None
    except FieldError as exc:
        return Rejected(row.line, str(exc))
    return CustomerRow(
        line=row.line,
        account=account,
        phones=phones,
        holder=" ".join(f["name"].split()),
        settlement=f["settlement"].strip(),
        street=f["street"].strip(),
        house=f["house"].strip(),
        apartment=f["apartment"].strip(),
        serial=serial,
        zones=zones,
        digits=int(digits_text),
        last_t1=last[0],
        last_t2=last[1],
        last_t3=last[2],
        last_date=last_date,
        balance=balance,
        emails=emails,
    )


_UPSERT_ACCOUNT = """
INSERT INTO accounts (number, holder, settlement, street, house, apartment,
                      settlement_key, street_key, house_key, balance, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (number) DO UPDATE SET
    holder = excluded.holder, settlement = excluded.settlement, street = excluded.street,
    house = excluded.house, apartment = excluded.apartment,
    settlement_key = excluded.settlement_key, street_key = excluded.street_key,
    house_key = excluded.house_key, balance = excluded.balance,
    updated_at = excluded.updated_at
WHERE accounts.holder <> excluded.holder OR accounts.settlement <> excluded.settlement
   OR accounts.street <> excluded.street OR accounts.house <> excluded.house
   OR accounts.apartment <> excluded.apartment OR accounts.balance <> excluded.balance
   OR accounts.settlement_key <> excluded.settlement_key
   OR accounts.street_key <> excluded.street_key OR accounts.house_key <> excluded.house_key
"""

_UPSERT_METER = """
INSERT INTO meters (account, serial, zones, digits, last_t1, last_t2, last_t3, last_date)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (account, serial) DO UPDATE SET
    zones = excluded.zones, digits = excluded.digits, last_t1 = excluded.last_t1,
    last_t2 = excluded.last_t2, last_t3 = excluded.last_t3, last_date = excluded.last_date
WHERE meters.zones <> excluded.zones OR meters.digits <> excluded.digits
   OR (meters.last_t1 <> excluded.last_t1
       OR (meters.last_t1 IS NULL) <> (excluded.last_t1 IS NULL))
   OR (meters.last_t2 <> excluded.last_t2
       OR (meters.last_t2 IS NULL) <> (excluded.last_t2 IS NULL))
   OR (meters.last_t3 <> excluded.last_t3
       OR (meters.last_t3 IS NULL) <> (excluded.last_t3 IS NULL))
   OR (meters.last_date <> excluded.last_date
       OR (meters.last_date IS NULL) <> (excluded.last_date IS NULL))
"""

# What this import touched, for the report's distinct counts. A table rather than Python
# sets: sets of a million keys cost over 100 MB; this costs the page cache. On SQLite a
# temporary table (one connection); on PostgreSQL, where each statement may take another
# pool connection, an unlogged table of this import's own (dropped at the end).
_SEEN_TABLE = "temp.registry_import_seen"
_SEEN = "INSERT INTO {seen} (kind, key) VALUES (?, ?) ON CONFLICT DO NOTHING"
# Separates account and meter serial in a seen key (PostgreSQL text holds no NUL).
_KEY_SEP = "\x1f"

_DELETE_PHONES = "DELETE FROM account_phones WHERE account = ?"
_INSERT_PHONE = "INSERT INTO account_phones (account, phone) VALUES (?, ?) ON CONFLICT DO NOTHING"
_DELETE_EMAILS = "DELETE FROM account_emails WHERE account = ?"
_INSERT_EMAIL = "INSERT INTO account_emails (account, email) VALUES (?, ?) ON CONFLICT DO NOTHING"


# PostgreSQL: each batch is COPied into staging tables of its transaction, then merged
# set-based with the same conflict rules as the row statements above.
_PG_STAGING = """
CREATE TEMP TABLE import_accounts (number TEXT, holder TEXT, settlement TEXT, street TEXT,
    house TEXT, apartment TEXT, settlement_key TEXT, street_key TEXT, house_key TEXT,
    balance TEXT, updated_at TEXT) ON COMMIT DROP;
CREATE TEMP TABLE import_phones (account TEXT, phone TEXT) ON COMMIT DROP;
CREATE TEMP TABLE import_email_accounts (account TEXT) ON COMMIT DROP;
CREATE TEMP TABLE import_emails (account TEXT, email TEXT) ON COMMIT DROP;
CREATE TEMP TABLE import_meters (account TEXT, serial TEXT, zones INTEGER, digits INTEGER,
    last_t1 TEXT, last_t2 TEXT, last_t3 TEXT, last_date TEXT) ON COMMIT DROP;
"""
_PG_MERGE = (
    "INSERT INTO accounts (number, holder, settlement, street, house, apartment,"
    " settlement_key, street_key, house_key, balance, updated_at)"
    " SELECT * FROM import_accounts ON CONFLICT" + _UPSERT_ACCOUNT.split("ON CONFLICT", 1)[1]
    # By the primary key's index (a join with the unanalysed staging table scanned the
    # whole, growing table each batch).
    + ";\nDELETE FROM account_phones WHERE account = ANY(ARRAY(SELECT number"
    " FROM import_accounts));"
    # DO NOTHING also absorbs a pair repeated within the batch (no DISTINCT sort).
    # Most of this statement's time is the foreign key's check, one per row.
    "\nINSERT INTO account_phones (account, phone) SELECT account, phone"
    " FROM import_phones ON CONFLICT DO NOTHING;"
    "\nDELETE FROM account_emails WHERE account = ANY(ARRAY(SELECT account"
    " FROM import_email_accounts));"
    "\nINSERT INTO account_emails (account, email) SELECT account, email"
    " FROM import_emails ON CONFLICT DO NOTHING;"
    "\nINSERT INTO meters (account, serial, zones, digits, last_t1, last_t2, last_t3,"
    " last_date) SELECT * FROM import_meters ON CONFLICT"
    + _UPSERT_METER.split("ON CONFLICT", 1)[1]
    # No index: appended here, counted distinct once at the end.
    + ";\nINSERT INTO {seen} (kind, key) SELECT 0, number FROM import_accounts;"
    "\nINSERT INTO {seen} (kind, key) SELECT 1, account || chr(31) || serial"
    " FROM import_meters;"
)


class _Keys:
    """Address keys, memoised: a registry names few settlements and streets many times."""

    def __init__(self) -> None:
        self.settlements: dict[str, str] = {}
        self.streets: dict[str, str] = {}
        self.houses: dict[str, str] = {}

    def of(self, row: CustomerRow) -> tuple[str, str, str]:
        s = self.settlements.get(row.settlement)
        if s is None:
            s = self.settlements[row.settlement] = settlement_key(row.settlement)
        st = self.streets.get(row.street)
        if st is None:
            st = self.streets[row.street] = street_key(row.street)
        h = self.houses.get(row.house)
        if h is None:
            h = self.houses[row.house] = house_key(row.house)
        return s, st, h


async def _write(
    db: Database, batch: Iterable[CustomerRow], keys: _Keys, now: str, seen: str
) -> None:
    # Within a batch only the last row of an account (and of a meter) matters; earlier
    # batches were already written in file order, so the last row wins across batches.
    accounts: dict[str, CustomerRow] = {}
    meters: dict[tuple[str, str], CustomerRow] = {}
    for row in batch:
        accounts[row.account] = row
        meters[(row.account, row.serial)] = row
    account_params = [
        (r.account, r.holder, r.settlement, r.street, r.house, r.apartment, *keys.of(r),
         r.balance, now)
        for r in accounts.values()
    ]
    phone_params = [(r.account, phone) for r in accounts.values() for phone in r.phones]
    # Addresses are replaced only for rows of a file that has the column.
    with_emails = [r for r in accounts.values() if r.emails is not None]
    email_params = [(r.account, e) for r in with_emails for e in r.emails or ()]
    meter_params = [
        (r.account, r.serial, r.zones, r.digits, r.last_t1, r.last_t2, r.last_t3, r.last_date)
        for r in meters.values()
    ]
    if isinstance(db, PgDatabase):
        async with db.transaction(), db.connection() as conn:
            # A batch lost with a server crash is imported again by re-running the
            # file (the import is idempotent): no need to wait for each commit's flush.
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.execute(_PG_STAGING)
            await conn.copy_records_to_table("import_accounts", records=account_params)
            await conn.copy_records_to_table("import_phones", records=phone_params)
            await conn.copy_records_to_table(
                "import_email_accounts", records=[(r.account,) for r in with_emails]
            )
            await conn.copy_records_to_table("import_emails", records=email_params)
            await conn.copy_records_to_table("import_meters", records=meter_params)
            await conn.execute(_PG_MERGE.format(seen=seen))
        return
    async with db.transaction():
        await db.executemany(_UPSERT_ACCOUNT, account_params)
        await db.executemany(_DELETE_PHONES, [(number,) for number in accounts])
        await db.executemany(_INSERT_PHONE, phone_params)
        await db.executemany(_DELETE_EMAILS, [(r.account,) for r in with_emails])
        await db.executemany(_INSERT_EMAIL, email_params)
        await db.executemany(_UPSERT_METER, meter_params)
        insert_seen = _SEEN.format(seen=seen)
        await db.executemany(insert_seen, [(0, number) for number in accounts])
        await db.executemany(insert_seen, [(1, f"{a}{_KEY_SEP}{s}") for a, s in meters])


def _read_batch(
    rows: Iterator[CsvRow | Rejected], size: int, region: str, report: ImportReport
) -> list[CustomerRow]:
    """Up to `size` valid rows; rejected ones go to the report. Fewer means end of file."""
    batch: list[CustomerRow] = []
    for item in rows:
        report.rows += 1
        parsed = item if isinstance(item, Rejected) else parse_customer(item, region)
        if isinstance(parsed, Rejected):
            report.rejected.append((parsed.line, parsed.reason))
            continue
        batch.append(parsed)
        if len(batch) >= size:
            break
    return batch


async def import_customers(
    db: Database,
    source: Source,
    *,
    region: str = "RU",
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import the customer registry CSV (docs/interfaces.md §3) into `db`.

    `source` is a path, the file's bytes or a binary stream. `region` reads phone
    numbers written without a country code. `progress`, when given, is called after each
    committed batch with the bytes of the file read so far (compare with the file size).
    Raises `storage.csvfile.CsvFileError` when the file cannot be read at all; bad rows
    only end up in `ImportReport.rejected`. Prints nothing.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = ImportReport()
    keys = _Keys()
    now = to_db(utcnow())
    sqlite = db.dialect == "sqlite"
    cache_before = checkpoint_before = 0
    if sqlite:
        seen = _SEEN_TABLE
        cache_before = int(await db.fetchval("PRAGMA cache_size"))
        checkpoint_before = int(await db.fetchval("PRAGMA wal_autocheckpoint"))
        await db.execute(f"PRAGMA cache_size = -{_IMPORT_CACHE_KIB}")
        await db.execute(f"PRAGMA wal_autocheckpoint = {_IMPORT_CHECKPOINT_PAGES}")
        await db.execute(f"DROP TABLE IF EXISTS {seen}")
        await db.execute(
            f"CREATE TABLE {seen} (kind INTEGER NOT NULL, key TEXT NOT NULL,"
            " PRIMARY KEY (kind, key)) WITHOUT ROWID"
        )
    else:
        seen = f"registry_import_seen_{uuid.uuid4().hex[:12]}"
        await db.execute(
            f"CREATE UNLOGGED TABLE {seen} (kind INTEGER NOT NULL, key TEXT NOT NULL)"
        )
    try:
        with CsvFile(source, required=REGISTRY_COLUMNS) as csv_file:
            rows = iter(csv_file)

            def read() -> tuple[list[CustomerRow], int, bool]:
                batch = _read_batch(rows, batch_size, region, report)
                return batch, csv_file.position, len(batch) < batch_size

            # Parsing runs in a worker thread so that the event loop stays free for other
            # work when the import runs inside the service. On SQLite it does not overlap
            # with the writes on purpose: both need the GIL (sqlite3 binds parameters
            # holding it), and contention made a 2-core import 15 % slower. PostgreSQL
            # merges a batch in its own process: the next batch is parsed meanwhile.
            overlap = db.dialect == "postgresql"
            writing: tuple[asyncio.Task[None], int] | None = None
            try:
                while True:
                    batch, position, last = await asyncio.to_thread(read)
                    if writing is not None:
                        await writing[0]
                        if progress is not None:
                            progress(writing[1])
                        writing = None
                    if overlap and batch:
                        task = asyncio.ensure_future(_write(db, batch, keys, now, seen))
                        writing = (task, position)
                    else:
                        if batch:
                            await _write(db, batch, keys, now, seen)
                        if progress is not None:
                            progress(position)
                    if last:
                        break
                if writing is not None:
                    await writing[0]
                    if progress is not None:
                        progress(writing[1])
                    writing = None
            finally:
                if writing is not None and not writing[0].done():
                    writing[0].cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await writing[0]
        counts = await db.fetchall(
            f"SELECT kind, count(DISTINCT key) FROM {seen} GROUP BY kind"
        )
        if not sqlite:
            # Planner statistics now, not at autovacuum's next look: a broadcast right
            # after the first import planned its audience query 6× slower without them.
            await db.execute("ANALYZE accounts, account_phones, account_emails, meters")
        by_kind = {int(row[0]): int(row[1]) for row in counts}
        report.accounts, report.meters = by_kind.get(0, 0), by_kind.get(1, 0)
    finally:
        await db.execute(f"DROP TABLE IF EXISTS {seen}")
        if sqlite:
            await db.execute(f"PRAGMA cache_size = {cache_before}")
            await db.execute(f"PRAGMA wal_autocheckpoint = {checkpoint_before}")
    return report
