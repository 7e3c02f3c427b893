"""The registry's optional `emails` column (docs/interfaces.md §3, §14)."""

from __future__ import annotations

import csv
import io

import pytest

from storage.csvfile import CsvRow, Rejected
from storage.registry import REGISTRY_COLUMNS, CustomerRow, import_customers, parse_customer
from storage.repos import RegistryRepo
from tests.storage.test_registry import GOOD
from tests.stores import DbMaker


def with_emails(*emails: str | None, account: str = "1234567890") -> bytes:
    """A registry file with the `emails` column (None: a file without the column)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    columns = REGISTRY_COLUMNS + (() if emails == (None,) else ("emails",))
    writer.writerow(columns)
    for value in emails:
        row = GOOD | {"account": account, "emails": value or ""}
        writer.writerow(row[c] for c in columns)
    return out.getvalue().encode()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ivan@Mail.ru", ("ivan@mail.ru",)),
        (" ivan@mail.ru | IVAN@mail.ru |ivan@work.example|",
         ("ivan@mail.ru", "ivan@work.example")),
        ("", ()),
        ("иван@почта.рф", ("иван@почта.рф",)),
    ],
)
def test_emails_parsed(raw: str, expected: tuple[str, ...]) -> None:
    row = parse_customer(CsvRow(2, GOOD | {"emails": raw}))
    assert isinstance(row, CustomerRow)
    assert row.emails == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ivan", "e-mail 'ivan' is not an address"),
        ("ivan@mail", "e-mail 'ivan@mail' is not an address"),
        ("a@b.ru;c@d.ru", "e-mail 'a@b.ru;c@d.ru' is not an address"),
        ("Иван <ivan@mail.ru>", "e-mail 'Иван <ivan@mail.ru>' is not an address"),
        ("ivan @mail.ru", "e-mail 'ivan @mail.ru' is not an address"),
    ],
)
def test_bad_emails_reject_the_row(raw: str, reason: str) -> None:
    assert parse_customer(CsvRow(7, GOOD | {"emails": raw})) == Rejected(7, reason)


def test_a_file_without_the_column_says_nothing_of_emails() -> None:
    row = parse_customer(CsvRow(2, dict(GOOD)))
    assert isinstance(row, CustomerRow)
    assert row.emails is None


async def test_emails_replaced_kept_and_looked_up(make_db: DbMaker) -> None:
    async with make_db() as db:
        repo = RegistryRepo(db)
        await import_customers(db, with_emails("Ivan@Mail.ru|ivan@work.example"))
        assert await repo.accounts_for_email("IVAN@mail.ru") == ["1234567890"]
        assert await repo.email_on_account("ivan@work.example", "1234567890")
        # A file without the column leaves the addresses as they are.
        await import_customers(db, with_emails(None))
        assert await repo.accounts_for_email("ivan@mail.ru") == ["1234567890"]
        # With the column, the addresses are replaced: a removed one loses its link.
        await import_customers(db, with_emails("ivan@mail.ru"))
        assert not await repo.email_on_account("ivan@work.example", "1234567890")
        assert await repo.accounts_for_email("ivan@work.example") == []
        # An empty cell removes them all.
        await import_customers(db, with_emails(""))
        assert await repo.accounts_for_email("ivan@mail.ru") == []


async def test_one_address_on_several_accounts(make_db: DbMaker) -> None:
    async with make_db() as db:
        await import_customers(db, with_emails("family@mail.ru", account="1111111111"))
        await import_customers(db, with_emails("family@mail.ru", account="2222222222"))
        assert await RegistryRepo(db).accounts_for_email("family@mail.ru") == [
            "1111111111", "2222222222"]
