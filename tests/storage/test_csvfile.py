"""Billing CSV rules (docs/interfaces.md §3, §10): reading, rejects, validators."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from storage.csvfile import (
    DEBT_COLUMNS,
    INVOICE_COLUMNS,
    CsvFile,
    CsvFileError,
    CsvRow,
    DebtRow,
    InvoiceRow,
    Rejected,
    parse_debt,
    parse_invoice,
    read_rows,
)


def lines(text: str) -> bytes:
    return text.encode("utf-8")


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [
        (b"a;b\n1;2\n", ";"),
        (b"a,b\n1,2\n", ","),
        (b"\xef\xbb\xbfa;b\r\n1;2\r\n", ";"),  # BOM and CRLF, as 1C exports
        (b" A ; B \n1;2\n", ";"),  # header names compared without case and spaces
    ],
)
def test_delimiter_and_bom(data: bytes, delimiter: str) -> None:
    with CsvFile(data, required=("a", "b")) as f:
        assert f.delimiter == delimiter
        assert f.header == ("a", "b")
        assert list(f) == [CsvRow(2, {"a": "1", "b": "2"})]


def test_comma_inside_quotes_with_semicolon_delimiter() -> None:
    rows = read_rows(lines('name;house\n"Иванов, Иван";"5,А"\n'))
    assert rows == [CsvRow(2, {"name": "Иванов, Иван", "house": "5,А"})]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # wrong number of fields
        ("1;2;3\n", [Rejected(2, "expected 2 fields, found 3")]),
        ("1\n", [Rejected(2, "expected 2 fields, found 1")]),
        # a trailing delimiter after the last column is not an extra field
        ("1;2;\n", [CsvRow(2, {"a": "1", "b": "2"})]),
        # blank lines are skipped, but counted
        ("\n1;2\n\n3;4\n", [CsvRow(3, {"a": "1", "b": "2"}), CsvRow(5, {"a": "3", "b": "4"})]),
        # a quoted field spanning lines: the row is numbered by its first line
        ('"x\ny";2\n5;6\n', [CsvRow(2, {"a": "x\ny", "b": "2"}), CsvRow(4, {"a": "5", "b": "6"})]),
    ],
)
def test_rows_and_rejects(body: str, expected: list[CsvRow | Rejected]) -> None:
    assert read_rows(lines("a;b\n" + body)) == expected


def test_bad_encoding_rejects_only_that_row() -> None:
    data = lines("a;b\n1;2\n") + "Иванов;3\n".encode("cp1251") + lines("4;5\n")
    assert read_rows(data) == [
        CsvRow(2, {"a": "1", "b": "2"}),
        Rejected(3, "not valid UTF-8"),
        CsvRow(4, {"a": "4", "b": "5"}),
    ]


def test_nul_byte_is_a_rejected_row() -> None:
    assert read_rows(b"a;b\n1\x002;3\n4;5\n") == [
        Rejected(2, "contains a NUL byte"),
        CsvRow(3, {"a": "4", "b": "5"}),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf\n", "empty"),
        (b"a;c\n1;2\n", r"missing column\(s\) b"),
        ("а;b\n".encode("cp1251"), "not UTF-8"),
    ],
)
def test_unreadable_file(data: bytes, message: str) -> None:
    with pytest.raises(CsvFileError, match=message):
        CsvFile(data, required=("a", "b"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CsvFileError, match="No such file"):
        CsvFile(tmp_path / "absent.csv")


def test_path_source_and_caller_stream_left_open(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n1,2\n")
    assert read_rows(path) == [CsvRow(2, {"a": "1", "b": "2"})]
    stream = io.BytesIO(b"a,b\n1,2\n")
    assert len(read_rows(stream)) == 1
    assert not stream.closed


def _invoice(**fields: str) -> CsvRow:
    base = {"account": "0012345678", "period": "2026-11", "amount": "1234,56",
            "due_date": "2026-12-10"}
    return CsvRow(7, base | fields)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, InvoiceRow(7, "0012345678", "2026-11", Decimal("1234.56"), date(2026, 12, 10))),
        ({"amount": " 12 345.60 "}, InvoiceRow(7, "0012345678", "2026-11",
                                               Decimal("12345.60"), date(2026, 12, 10))),
        ({"account": "12-34"}, "account '12-34' must be digits"),
        ({"account": ""}, "account is empty"),
        ({"period": "2026-13"}, "period '2026-13' is not a period YYYY-MM"),
        ({"period": "11.2026"}, "period '11.2026' is not a period YYYY-MM"),
        ({"amount": "12.345,67"}, "amount '12.345,67' is not a decimal number"),
        ({"amount": "1e3"}, "amount '1e3' is not a decimal number"),
        ({"due_date": "10.12.2026"}, "due_date '10.12.2026' is not a date YYYY-MM-DD"),
        ({"due_date": "2026-02-30"}, "due_date '2026-02-30' is not a valid date"),
    ],
)
def test_invoice_rows(fields: dict[str, str], expected: InvoiceRow | str) -> None:
    result = parse_invoice(_invoice(**fields))
    if isinstance(expected, str):
        assert result == Rejected(7, expected)
    else:
        assert result == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, DebtRow(3, "1234567890", Decimal("5120.00"), date(2026, 12, 20))),
        ({"amount": "0"}, "amount '0' must be above zero for a debt"),
        ({"amount": "-10"}, "amount '-10' must be above zero for a debt"),
        ({"restriction_date": ""}, "restriction_date '' is not a date YYYY-MM-DD"),
    ],
)
def test_debt_rows(fields: dict[str, str], expected: DebtRow | str) -> None:
    base = {"account": "1234567890", "amount": "5120,00", "restriction_date": "2026-12-20"}
    result = parse_debt(CsvRow(3, base | fields))
    assert result == (Rejected(3, expected) if isinstance(expected, str) else expected)


def test_invoice_file_end_to_end() -> None:
    data = lines(
        "account,period,amount,due_date\n"
        "1234567890,2026-11,1500.00,2026-12-10\n"
        "12a,2026-11,1,2026-12-10\n"
    )
    with CsvFile(data, required=INVOICE_COLUMNS) as f:
        results = [parse_invoice(r) if isinstance(r, CsvRow) else r for r in f]
    assert [type(r) for r in results] == [InvoiceRow, Rejected]
    assert results[1] == Rejected(3, "account '12a' must be digits")
    with pytest.raises(CsvFileError, match="restriction_date"):
        CsvFile(data, required=DEBT_COLUMNS)
