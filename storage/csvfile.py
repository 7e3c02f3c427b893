"""Billing CSV files (docs/interfaces.md §3 and §10): reading and field validation.

One set of rules for every file billing sends us (customer registry, invoices, debts):
UTF-8 with or without a BOM, a header row, the delimiter (`;` or `,`) taken from the
header line. A bad row never stops a file: it comes out as `Rejected(line, reason)` and
the good rows load. Only a file that cannot be read at all (missing, no header, a
required column absent, the header not UTF-8) raises `CsvFileError`.

The reader does no database work; the validators are pure functions of one row, so the
import (registry) and the campaign builders (invoices, debts) share them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self


class CsvFileError(Exception):
    """The file as a whole cannot be read (the CLI exits with status 2)."""


@dataclass(frozen=True, slots=True)
class CsvRow:
    """A data row: `line` is its first line in the file (the header is line 1)."""

    line: int
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that was not loaded, with the reason shown to the operator."""

    line: int
    reason: str


# Surrogates are how `errors="surrogateescape"` keeps bytes that are not UTF-8: a row
# holding one had bad encoding. Decoding the whole file that way, then checking each row,
# costs one regex search per row instead of decoding line by line in Python.
_SURROGATE = re.compile("[\udc80-\udcff]")
# ... and a NUL is what a binary file or a broken export looks like, never data.
_SUSPECT = re.compile("[\x00\udc80-\udcff]")
_BOM = "\ufeff"

Source = str | Path | bytes | BinaryIO


class CsvFile:
    """An open billing CSV file. Iterate for `CsvRow | Rejected` in file order.

    `required` names the columns that must be in the header (compared without regard to
    case and surrounding spaces); other columns are kept too. Use as a context manager,
    or `close()` it, when built from a path.
    """

    def __init__(self, source: Source, *, required: Sequence[str] = ()) -> None:
        self._owned: BinaryIO | None = None
        binary: BinaryIO
        if isinstance(source, str | Path):
            try:
                binary = open(source, "rb")  # noqa: SIM115 - closed by close()
            except OSError as exc:
                raise CsvFileError(f"{source}: {exc.strerror or exc}") from exc
            self._owned = binary
        elif isinstance(source, bytes):
            binary = io.BytesIO(source)
        else:
            binary = source
        self._binary = binary
        try:
            self._text = io.TextIOWrapper(
                binary, encoding="utf-8", errors="surrogateescape", newline=""
            )
            self.header, self.delimiter = self._read_header(required)
        except BaseException:
            self.close()
            raise

    def _read_header(self, required: Sequence[str]) -> tuple[tuple[str, ...], str]:
        first = self._text.readline()
        if first.startswith(_BOM):
            first = first[1:]
        if not first.strip():
            raise CsvFileError("the file is empty: a header row is required")
        if _SURROGATE.search(first):
            raise CsvFileError("line 1: the header is not UTF-8")
        # The header names have neither delimiter inside them, so whichever occurs more
        # often in the header line is the delimiter.
        delimiter = ";" if first.count(";") > first.count(",") else ","
        try:
            names = next(csv.reader([first], delimiter=delimiter))
        except csv.Error as exc:  # e.g. a header field over csv.field_size_limit()
            raise CsvFileError(f"line 1: the header cannot be read ({exc})") from None
        header = tuple(name.strip().lower() for name in names)
        missing = [name for name in required if name not in header]
        if missing:
            raise CsvFileError(
                f"line 1: missing column(s) {', '.join(missing)}"
                f" (delimiter {delimiter!r}; header: {', '.join(header)})"
            )
        return header, delimiter

    @property
    def position(self) -> int:
        """Bytes consumed so far (read ahead by a buffer): for progress bars."""
        try:
            return self._binary.tell()
        except (OSError, ValueError):
            return 0

    def __iter__(self) -> Iterator[CsvRow | Rejected]:
        header = self.header
        width = len(header)
        reader = csv.reader(self._text, delimiter=self.delimiter)
        end = 1  # last line consumed (the header)
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                # e.g. a NUL byte; the reader has consumed the line and can go on
                line = end + 1
                end = reader.line_num + 1
                yield Rejected(line, f"unreadable CSV: {exc}")
                continue
            line = end + 1
            end = reader.line_num + 1
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # a blank line (often the last one)
            if len(fields) > width and not any(f.strip() for f in fields[width:]):
                fields = fields[:width]  # a trailing delimiter after the last column
            if len(fields) != width:
                yield Rejected(line, f"expected {width} fields, found {len(fields)}")
                continue
            if _SUSPECT.search(joined := "".join(fields)):
                reason = "contains a NUL byte" if "\x00" in joined else "not valid UTF-8"
                yield Rejected(line, reason)
                continue
            yield CsvRow(line, dict(zip(header, fields, strict=True)))

    def close(self) -> None:
        """Close a file opened from a path; a stream given by the caller stays open."""
        text: io.TextIOWrapper | None = getattr(self, "_text", None)
        if text is not None and not text.closed:
            del self._text
            # A TextIOWrapper closes its buffer when it goes: detach from a caller's stream.
            text.detach()
        if self._owned is not None:
            owned, self._owned = self._owned, None
            owned.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- field validators: each returns the value or raises FieldError ----------------------


class FieldError(ValueError):
    """A field's value is wrong; the message is the operator-facing reason."""


_DIGITS = re.compile(r"^\d{1,20}$")
_DECIMAL = re.compile(r"^-?\d+(?:[.,]\d+)?$")
_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Thousands separators billing exports may put in amounts («12 345,67»)
_SPACES = re.compile(r"[\s\u00a0\u202f]")


def parse_account(text: str) -> str:
    """An account number: digits only, leading zeros kept."""
    value = text.strip()
    if not value:
        raise FieldError("account is empty")
    if not _DIGITS.match(value) or not value.isascii():
        raise FieldError(f"account {value!r} must be digits")
    return value


def parse_decimal(text: str, column: str, *, signed: bool = True) -> Decimal:
    """A decimal number with `.` or `,` as the decimal mark (`-` allowed when signed)."""
    value = _SPACES.sub("", text)
    shown = text.strip()
    if not value:
        raise FieldError(f"{column} is empty")
    if not _DECIMAL.match(value) or not value.isascii():
        raise FieldError(f"{column} {shown!r} is not a decimal number")
    if not signed and value.startswith("-"):
        raise FieldError(f"{column} {shown!r} must not be negative")
    try:
        return Decimal(value.replace(",", "."))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
        raise FieldError(f"{column} {text.strip()!r} is not a number") from exc


def parse_date(text: str, column: str) -> date:
    """A date written `YYYY-MM-DD`."""
    value = text.strip()
    if not _ISO_DATE.match(value):
        raise FieldError(f"{column} {value!r} is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise FieldError(f"{column} {value!r} is not a valid date") from exc


def parse_period(text: str, column: str = "period") -> str:
    """A billing period written `YYYY-MM`; returned as written."""
    value = text.strip()
    match = _PERIOD.match(value)
    if not match or not 1 <= int(match[2]) <= 12:
        raise FieldError(f"{column} {value!r} is not a period YYYY-MM")
    return value


def decimal_text(value: Decimal) -> str:
    """A decimal as plain text for the database (never exponent notation)."""
    return format(value, "f")


# -- billing notices (docs/interfaces.md §10) ----------------------------------------------------

INVOICE_COLUMNS = ("account", "period", "amount", "due_date")
DEBT_COLUMNS = ("account", "amount", "restriction_date")


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    """One invoice notice: the amount of `period` is due by `due_date`."""

    line: int
    account: str
    period: str
    amount: Decimal
    due_date: date


@dataclass(frozen=True, slots=True)
class DebtRow:
    """One debt warning: `amount` owed; supply may be restricted from `restriction_date`."""

    line: int
    account: str
    amount: Decimal
    restriction_date: date


def parse_invoice(row: CsvRow) -> InvoiceRow | Rejected:
    """Validate an invoices-file row (open the file with `required=INVOICE_COLUMNS`)."""
    f = row.fields
    try:
        return InvoiceRow(
            line=row.line,
            account=parse_account(f["account"]),
            period=parse_period(f["period"]),
            amount=parse_decimal(f["amount"], "amount"),
            due_date=parse_date(f["due_date"], "due_date"),
        )
    except FieldError as exc:
        return Rejected(row.line, str(exc))


def parse_debt(row: CsvRow) -> DebtRow | Rejected:
    """Validate a debts-file row (open the file with `required=DEBT_COLUMNS`)."""
    f = row.fields
    try:
        account = parse_account(f["account"])
        amount = parse_decimal(f["amount"], "amount")
        if amount <= 0:
            raise FieldError(f"amount {f['amount'].strip()!r} must be above zero for a debt")
        return DebtRow(
            line=row.line,
            account=account,
            amount=amount,
            restriction_date=parse_date(f["restriction_date"], "restriction_date"),
        )
    except FieldError as exc:
        return Rejected(row.line, str(exc))


def read_rows(source: Source, *, required: Sequence[str] = ()) -> list[CsvRow | Rejected]:
    """Every row of a small file at once (invoices, debts, uploads through the API)."""
    with CsvFile(source, required=required) as csv_file:
        return list(csv_file)
