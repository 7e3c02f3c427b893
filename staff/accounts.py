"""Staff accounts: creating, listing, disabling, and checking a password at login.

Passwords are kept only as argon2id hashes (argon2-cffi's defaults, RFC 9106's second
recommended parameter set). Hashing is deliberately slow (tens of milliseconds of CPU),
so it runs in a worker thread, off the event loop that carries SMS traffic.

Failed logins are rate-limited per login and per client address, counted in the store
so that every instance of one gateway sees the same count.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from storage.ports import StaffAccounts
from storage.staff import ROLES, Role, StaffAccount

LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 takes any length; a cap keeps a huge POST from costing CPU

# At most this many failures in the window: per login (guessing one account's password)
# and per address (trying many logins from one place).
FAILURE_WINDOW = timedelta(minutes=15)
FAILURES_PER_LOGIN = 5
FAILURES_PER_ADDRESS = 20

_hasher = PasswordHasher()
# Verified when the login is unknown, so an unknown login costs as long as a wrong password
# (the time does not tell which logins exist).
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class StaffError(ValueError):
    """Bad input to an account command: the message says what and is shown as is."""


def check_login(login: str) -> str:
    login = login.strip().lower()
    if not LOGIN.match(login):
        raise StaffError(
            "login: 2–32 characters, latin letters, digits, «.», «_» or «-», "
            "starting with a letter or digit"
        )
    return login


def check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise StaffError(f"role: {' or '.join(ROLES)}")


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"password: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise StaffError(f"password: at most {MAX_PASSWORD} characters")
    return password


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def add_account(
    repo: StaffAccounts, login: str, role: str, password: str, now: datetime
) -> StaffAccount:
    login, checked_role = check_login(login), check_role(role)
    password_hash = await hash_password(check_password(password))
    account = await repo.add(login, checked_role, password_hash, now)
    if account is None:
        raise StaffError(f"login: {login!r} exists already")
    return account


class LoginOutcome(Enum):
    OK = "ok"
    WRONG = "wrong"  # unknown login or wrong password: the page does not say which
    DISABLED = "disabled"
    LIMITED = "limited"


@dataclass(frozen=True, slots=True)
class LoginResult:
    outcome: LoginOutcome
    account: StaffAccount | None = None


async def authenticate(
    repo: StaffAccounts, login: str, password: str, address: str, now: datetime
) -> LoginResult:
    """Check a login attempt. The rate limit comes first, so a limited login is refused
    even with the right password (otherwise guessing could go on, only slower)."""
    login = login.strip().lower()[:64]
    by_login, by_address = await repo.failures_since(
        now - FAILURE_WINDOW, login=login, address=address
    )
    if by_login >= FAILURES_PER_LOGIN or by_address >= FAILURES_PER_ADDRESS:
        return LoginResult(LoginOutcome.LIMITED)
    account = await repo.get(login) if LOGIN.match(login) else None
    password = password[:MAX_PASSWORD]
    good = await asyncio.to_thread(
        _verify, account.password_hash if account else _DUMMY_HASH, password
    )
    if account is None or not good:
        await repo.record_failure(login, address, now)
        return LoginResult(LoginOutcome.WRONG)
    if account.disabled:
        return LoginResult(LoginOutcome.DISABLED, account)
    if _hasher.check_needs_rehash(account.password_hash):
        await repo.set_password_hash(login, await hash_password(password))
    await repo.forget_failures(now - FAILURE_WINDOW)
    return LoginResult(LoginOutcome.OK, account)
