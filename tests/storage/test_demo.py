"""The demo registry (docs/interfaces.md §1): every kind of account, loaded only when empty."""

from __future__ import annotations

from storage.address import settlement_key
from storage.demo import demo_csv, load_demo_if_empty
from storage.registry import REGISTRY_COLUMNS, import_customers
from storage.repos import RegistryRepo
from tests.stores import DbMaker


async def test_loads_into_an_empty_database_only(make_db: DbMaker) -> None:
    async with make_db() as db:
        loaded = await load_demo_if_empty(db)
        assert loaded >= 25
        assert await RegistryRepo(db).count_accounts() == loaded
        assert await load_demo_if_empty(db) == 0


async def test_real_data_is_never_mixed_with_demo_data(make_db: DbMaker) -> None:
    header = ";".join(REGISTRY_COLUMNS).encode()
    row = "5550001111;;Клиент;Ухта;Мира;1;;S1;1;5;;;;;0".encode()
    async with make_db() as db:
        await import_customers(db, header + b"\n" + row + b"\n")
        assert await load_demo_if_empty(db) == 0
        assert await RegistryRepo(db).count_accounts() == 1


async def test_demo_file_is_clean_and_has_every_kind(make_db: DbMaker) -> None:
    async with make_db() as db:
        report = await import_customers(db, demo_csv())
        assert report.rejected == []
        repo = RegistryRepo(db)

        sample = await repo.get_account("1234567890")
        assert sample is not None
        assert "+79121234567" in sample.phones
        assert [m.zones for m in sample.meters] == [2]
        for number in ("0012345678", "987654321", "000123456789"):  # leading zeros kept
            assert await repo.get_account(number) is not None
        assert await repo.accounts_for_phone("+79121234567") == ["1234567890"]

        zones = {r[0] for r in await db.fetchall("SELECT DISTINCT zones FROM meters")}
        assert zones == {1, 2, 3}
        several_meters = await db.fetchval(
            "SELECT count(*) FROM (SELECT account FROM meters GROUP BY account"
            " HAVING count(*) > 1) AS several")
        assert several_meters >= 2
        shared_phones = await db.fetchval(
            "SELECT count(*) FROM (SELECT phone FROM account_phones GROUP BY phone"
            " HAVING count(*) > 1) AS several")
        assert shared_phones >= 1
        balances = [float(r[0]) for r in await db.fetchall("SELECT balance FROM accounts")]
        assert any(b > 0 for b in balances)
        assert any(b < 0 for b in balances)
        no_phone = await db.fetchval(
            "SELECT count(*) FROM accounts WHERE number NOT IN"
            " (SELECT account FROM account_phones)")
        assert no_phone >= 1

        # outage audiences: several streets and houses in each settlement
        for town in ("Сыктывкар", "Ухта", "Воркута", "Эжва"):
            streets = await db.fetchval(
                "SELECT count(DISTINCT street_key) FROM accounts WHERE settlement_key = ?",
                (settlement_key(town),))
            houses = await db.fetchval(
                "SELECT count(DISTINCT street_key || '/' || house_key) FROM accounts"
                " WHERE settlement_key = ?", (settlement_key(town),))
            assert streets >= 2, town
            assert houses >= 3, town
        komarova = await db.fetchval(
            "SELECT count(*) FROM accounts WHERE settlement_key = 'сыктывкар'"
            " AND street_key = 'комарова'")
        assert komarova >= 5
