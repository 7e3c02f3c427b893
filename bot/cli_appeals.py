"""Staff commands for appeals (registered by `bot.cli.register_extensions`):

    gateway appeals list [--status open|answered|closed] [--json]
    gateway appeals show N [--json]
    gateway appeals answer N TEXT [--staff NAME]
    gateway appeals due [--hours 24]        (bot/cli_reports.py: the staff digest's list)

The use cases are `handlers.appeals.list_appeals / show_appeal / answer_appeal`; this
module only prints and, for an answer, puts the customer's message into the outbox,
addressed to the channel the appeal came from (an SMS from the number the customer
wrote to). The running gateway's sender delivers it.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from bot.settings import Settings

EXIT_USAGE = 2
EXIT_NOT_FOUND = 1


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `appeals …` to the `gateway` command line."""
    appeals = sub.add_parser("appeals", parents=[common], help="customer appeals (staff)")
    what = appeals.add_subparsers(dest="appeals", metavar="ACTION")
    what.required = True

    p = what.add_parser("list", parents=[common], help="list appeals")
    p.add_argument("--status", choices=["open", "answered", "closed"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = what.add_parser("show", parents=[common], help="one appeal with its messages")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = what.add_parser("answer", parents=[common], help="answer an appeal")
    p.add_argument("id", type=int)
    p.add_argument("text", nargs="+")
    p.add_argument("--staff", help="who answers (default: the OS user)")
    p.set_defaults(func=cmd_answer)

    # `appeals due` belongs to the quality part (handlers/quality/digest.py).
    from bot.cli_reports import cmd_appeals_due

    p = what.add_parser("due", parents=[common], help="open appeals past or near their due time")
    p.add_argument("--hours", type=int, default=24, help="horizon in hours (default 24)")
    p.set_defaults(func=cmd_appeals_due)


def _row(appeal: Any, tz: Any) -> dict[str, Any]:
    return {
        "id": appeal.id,
        "status": appeal.status,
        "category": appeal.category,
        "channel": appeal.channel,
        "account": appeal.account,
        "created_at": appeal.created_at.astimezone(tz).isoformat(),
        "due_at": appeal.due_at.astimezone(tz).isoformat(),
        "repeats": appeal.repeats,
        "outage": appeal.outage_id,
        "text": appeal.text,
        "answer": appeal.answer,
    }


def moment(at: Any, tz: Any) -> str:
    """«03.12.2026 10:25» in the service time zone: how staff read times."""
    return str(at.astimezone(tz).strftime("%d.%m.%Y %H:%M"))


# How staff read an appeal's status.
STATUS_NAMES = {"open": "в работе", "answered": "ответ отправлен", "closed": "закрыто"}
CHANNEL_NAMES = {"sms": "SMS", "telegram": "Telegram", "console": "консоль", "max": "MAX",
                 "email": "e-mail"}


async def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from handlers.appeals import list_appeals
    from handlers.texts import CATEGORY_NAMES
    from storage.store import Store

    tz = settings.service.tz
    async with await Store.open(settings.storage.target) as store:
        appeals = await list_appeals(store, args.status)
    if args.json:
        for appeal in appeals:
            print(json.dumps(_row(appeal, tz), ensure_ascii=False))
        return 0
    for appeal in appeals:
        first = " ".join(appeal.text.split())[:60]
        status = STATUS_NAMES.get(appeal.status, appeal.status)
        category = CATEGORY_NAMES.get(appeal.category, appeal.category)
        print(f"№{appeal.id:<5} {status:<16} {category:<24} до {moment(appeal.due_at, tz)}  "
              f"{first}")
    return 0


async def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from handlers.appeals import show_appeal
    from handlers.texts import CATEGORY_NAMES
    from storage.store import Store

    tz = settings.service.tz
    async with await Store.open(settings.storage.target) as store:
        shown = await show_appeal(store, args.id)
        if shown is None:
            print(f"gateway: обращение №{args.id} не найдено", file=sys.stderr)
            return EXIT_NOT_FOUND
        appeal, messages = shown
        answers = await store.appeals.answers(appeal.id)
        author = await store.contacts.by_id(appeal.contact_id)
        phone = author.phone if author is not None else None
        numbers = await store.registry.accounts_for_phone(phone) if phone else []
        if appeal.account and appeal.account not in numbers:
            numbers = [appeal.account, *numbers]
        accounts = [a for a in [await store.registry.get_account(n) for n in numbers] if a]
    row = _row(appeal, tz)
    row["messages"] = [
        {"text": text, "received_at": at.astimezone(tz).isoformat()} for text, at in messages
    ]
    # Staff see who wrote: the phone in full (this is not a log), the holder, the address.
    row["author"] = {"channel": appeal.channel, "address": appeal.address, "phone": phone}
    row["accounts"] = [
        {"account": a.number, "holder": a.holder, "address": a.address} for a in accounts
    ]
    row["answers"] = [
        {"text": text, "by": by, "at": at.astimezone(tz).isoformat()} for text, by, at in answers
    ]
    if args.json:
        print(json.dumps(row, ensure_ascii=False))
        return 0
    category = CATEGORY_NAMES.get(appeal.category, appeal.category)
    lines = [
        f"Обращение №{appeal.id}: {STATUS_NAMES.get(appeal.status, appeal.status)}",
        f"Тема: {category}",
        f"Поступило: {moment(appeal.created_at, tz)}, "
        f"{CHANNEL_NAMES.get(appeal.channel, appeal.channel)}",
        f"Срок ответа: {moment(appeal.due_at, tz)}",
    ]
    who = phone or appeal.address
    if appeal.channel == "telegram":
        who = f"Telegram {appeal.address}" + (f", телефон {phone}" if phone else "")
    lines.append(f"Написал: {who}")
    for account in accounts:
        mark = ""
        if len(accounts) > 1:
            mark = " (указан в обращении)" if account.number == appeal.account else ""
        lines.append(f"Лицевой счёт {account.number}{mark}: {account.holder}, {account.address}")
    if len(accounts) > 1 and not appeal.account:
        lines.append("Счёт в обращении не указан: у телефона их несколько.")
    if not accounts:
        lines.append("Лицевой счёт: не известен")
    if appeal.outage_id:
        lines.append(f"Связано с отключением №{appeal.outage_id}")
    lines.append("Сообщения:")
    lines += [f"  [{moment(at, tz)}] {text}" for text, at in messages]
    lines.append("Ответы:" if answers else "Ответов пока нет.")
    lines += [f"  [{moment(at, tz)}] {by}: {text}" for text, by, at in answers]
    print("\n".join(lines))
    return 0


async def cmd_answer(args: argparse.Namespace, settings: Settings) -> int:
    from bot.answers import OutboxAnswers
    from handlers.inbox import InboxError, NotFound, answer_appeal_through_inbox
    from notifications.wake import LocalWake
    from storage.store import Store

    text = " ".join(args.text).strip()
    if not text:
        print("gateway: ответ пустой", file=sys.stderr)
        return EXIT_USAGE
    staff = args.staff or getpass.getuser()
    async with await Store.open(settings.storage.target) as store:
        try:
            # The running service's sender is woken to send it at once.
            wake = LocalWake(settings.storage.path).notify
            appeal, outbox_id = await answer_appeal_through_inbox(
                store, OutboxAnswers(store, wake), args.id, text, actor=staff
            )
        except NotFound:
            print(f"gateway: обращение №{args.id} не найдено", file=sys.stderr)
            return EXIT_NOT_FOUND
        except InboxError as exc:
            print(f"gateway: {exc.staff}", file=sys.stderr)
            return EXIT_USAGE
    if not outbox_id:
        print(f"Обращение №{appeal.id}: этот ответ уже отправлен, повторно не отправляется")
        return 0
    channel = CHANNEL_NAMES.get(appeal.channel, appeal.channel)
    print(f"Обращение №{appeal.id}: ответ записан и поставлен в очередь ({channel})")
    return 0
