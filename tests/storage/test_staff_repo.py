"""Contract tests of the `StaffAccounts` port (storage.ports), over every store
implementation through the `store` fixture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.store import Store

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


async def test_add_get_list_and_a_taken_login(store: Store) -> None:
    first = await store.staff.add("olga", "operator", "$argon2id$h1", T0)
    assert first is not None
    assert (first.login, first.role, first.password_hash, first.created_at) == (
        "olga", "operator", "$argon2id$h1", T0,
    )
    assert not first.disabled
    # a taken login changes nothing
    assert await store.staff.add("olga", "supervisor", "$argon2id$h2", T0) is None
    again = await store.staff.get("olga")
    assert again is not None
    assert (again.role, again.password_hash) == ("operator", "$argon2id$h1")
    await store.staff.add("anna", "supervisor", "$argon2id$h3", T0)
    assert [a.login for a in await store.staff.all()] == ["anna", "olga"]
    assert await store.staff.get("nobody") is None


async def test_disable_once_and_rehash(store: Store) -> None:
    await store.staff.add("olga", "operator", "$argon2id$h1", T0)
    assert await store.staff.disable("olga", T0 + timedelta(hours=1)) is True
    assert await store.staff.disable("olga", T0 + timedelta(hours=2)) is False
    assert await store.staff.disable("nobody", T0) is False
    account = await store.staff.get("olga")
    assert account is not None
    assert account.disabled_at == T0 + timedelta(hours=1)
    await store.staff.set_password_hash("olga", "$argon2id$new")
    account = await store.staff.get("olga")
    assert account is not None
    assert account.password_hash == "$argon2id$new"


async def test_failures_counted_per_login_and_per_address_within_the_window(
    store: Store,
) -> None:
    for minute, (login, address) in enumerate([
        ("olga", "10.0.0.1"), ("olga", "10.0.0.2"), ("anna", "10.0.0.1"), ("olga", "10.0.0.1"),
    ]):
        await store.staff.record_failure(login, address, T0 + timedelta(minutes=minute))
    assert await store.staff.failures_since(T0, login="olga", address="10.0.0.1") == (3, 3)
    assert await store.staff.failures_since(
        T0 + timedelta(minutes=2), login="olga", address="10.0.0.2"
    ) == (1, 0)
    await store.staff.forget_failures(T0 + timedelta(minutes=3))
    assert await store.staff.failures_since(T0, login="olga", address="10.0.0.1") == (1, 1)
