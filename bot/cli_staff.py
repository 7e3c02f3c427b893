"""`gateway staff add|list|disable` (docs/interfaces.md §12): accounts of the web
workspace. The password comes from stdin with `--password-stdin` (scripts), otherwise
it is asked twice on the terminal; without a terminal and without the flag the command
exits 2 rather than wait for input nobody can type."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from bot.settings import Settings

EXIT_USAGE = 2


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    staff = sub.add_parser("staff", parents=[common], help="staff accounts of the web workspace")
    actions = staff.add_subparsers(dest="staff_command", metavar="ACTION")
    actions.required = True

    p = actions.add_parser("add", parents=[common], help="create a staff account")
    p.add_argument("login")
    p.add_argument("--role", required=True, choices=["operator", "supervisor"])
    p.add_argument(
        "--password-stdin", action="store_true",
        help="read the password from the first line of stdin instead of asking",
    )
    p.set_defaults(func=cmd_staff_add)

    p = actions.add_parser("list", parents=[common], help="list staff accounts")
    p.set_defaults(func=cmd_staff_list, reads_only=True)  # never creates a store

    p = actions.add_parser("disable", parents=[common], help="disable a staff account")
    p.add_argument("login")
    p.set_defaults(func=cmd_staff_disable)


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(
            "staff add: no terminal to ask the password on; pipe it with --password-stdin",
            file=sys.stderr,
        )
        return None
    first = getpass.getpass("Пароль: ")
    second = getpass.getpass("Пароль ещё раз: ")
    if first != second:
        print("staff add: the passwords differ; nothing created", file=sys.stderr)
        return None
    return first


async def cmd_staff_add(args: argparse.Namespace, settings: Settings) -> int:
    from staff.accounts import StaffError, add_account, check_login, check_password
    from storage.db import utcnow
    from storage.store import Store

    try:
        check_login(args.login)
    except StaffError as exc:
        print(f"staff add: {exc}", file=sys.stderr)
        return EXIT_USAGE
    password = _read_password(args.password_stdin)
    if password is None:
        return EXIT_USAGE
    try:
        check_password(password)
    except StaffError as exc:
        print(f"staff add: {exc}", file=sys.stderr)
        return EXIT_USAGE
    async with await Store.open(settings.storage.target) as store:
        try:
            account = await add_account(store.staff, args.login, args.role, password, utcnow())
        except StaffError as exc:
            print(f"staff add: {exc}", file=sys.stderr)
            return EXIT_USAGE
    print(f"created {account.login} ({account.role})")
    return 0


async def cmd_staff_list(args: argparse.Namespace, settings: Settings) -> int:
    from storage.store import Store

    async with await Store.open(settings.storage.target) as store:
        accounts = await store.staff.all()
    tz = settings.service.tz
    for account in accounts:
        state = (
            f"disabled {account.disabled_at.astimezone(tz):%Y-%m-%d %H:%M}"
            if account.disabled_at else "active"
        )
        created = account.created_at.astimezone(tz)
        print(f"{account.login}\t{account.role}\t{state}\tcreated {created:%Y-%m-%d %H:%M}")
    if not accounts:
        print("no staff accounts; create one with: gateway staff add LOGIN --role supervisor",
              file=sys.stderr)
    return 0


async def cmd_staff_disable(args: argparse.Namespace, settings: Settings) -> int:
    from staff.accounts import StaffError, check_login
    from storage.db import utcnow
    from storage.store import Store

    try:
        login = check_login(args.login)
    except StaffError as exc:
        print(f"staff disable: {exc}", file=sys.stderr)
        return EXIT_USAGE
    async with await Store.open(settings.storage.target) as store:
        done = await store.staff.disable(login, utcnow())
        known = done or await store.staff.get(login) is not None
    if not known:
        print(f"staff disable: no account {login!r}", file=sys.stderr)
        return 1
    print(f"disabled {login}" if done else f"{login} was disabled already")
    return 0
