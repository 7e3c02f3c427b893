"""The inbox for operators without a browser, and the labelled export:

    gateway inbox list [--state open|answered|closed] [--json]
    gateway inbox show N [--json]
    gateway inbox reply N TEXT [--after M] [--staff LOGIN]
    gateway inbox close N [--label JSON] [--staff LOGIN]
    gateway export labelled [--format jsonl] [--mask]

Over the use cases of `handlers.inbox` (the same the JSON API and the web workspace
call); this module parses arguments and prints, in Russian for staff.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from typing import Any

from bot.cli_appeals import CHANNEL_NAMES, moment
from bot.settings import Settings

EXIT_USAGE = 2
EXIT_NOT_FOUND = 1
EXIT_CONFLICT = 3

KIND_NAMES = {"unrecognised": "не распознано", "handover": "просят специалиста",
              "appeal": "обращение"}
STATE_NAMES = {"open": "ждёт ответа", "answered": "отвечено", "closed": "закрыто"}


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `inbox …` to the `gateway` command line."""
    inbox = sub.add_parser("inbox", parents=[common], help="messages waiting for a person")
    what = inbox.add_subparsers(dest="inbox", metavar="ACTION")
    what.required = True

    p = what.add_parser("list", parents=[common], help="items, most urgent first")
    p.add_argument("--state", choices=["open", "answered", "closed"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = what.add_parser("show", parents=[common], help="one item with its conversation")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = what.add_parser("reply", parents=[common], help="answer the customer")
    p.add_argument("id", type=int)
    p.add_argument("text", nargs="+")
    p.add_argument("--after", type=int, help="the last message id you saw (refused if "
                   "someone answered after it)")
    p.add_argument("--staff", help="who answers (default: the OS user)")
    p.set_defaults(func=cmd_reply)

    p = what.add_parser("close", parents=[common], help="close an item")
    p.add_argument("id", type=int)
    p.add_argument("--label", help='the parse fields, JSON: {"intent": "appeal", …}')
    p.add_argument("--staff", help="who closes (default: the OS user)")
    p.set_defaults(func=cmd_close)


def add_export(what: Any, common: argparse.ArgumentParser) -> None:
    """`export labelled` (under `gateway export`, bot/cli_registry.py)."""
    p = what.add_parser(
        "labelled", parents=[common], help="messages people labelled, as parse JSON lines"
    )
    p.add_argument("--format", choices=["jsonl"], default="jsonl", dest="fmt")
    p.add_argument("--mask", action="store_true",
                   help="replace phones, names and account numbers (for a repository)")
    p.set_defaults(func=cmd_export_labelled)


def _short(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


async def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from bot.api_inbox import item_json
    from handlers.inbox import list_items
    from storage.store import Store

    tz = settings.service.tz
    now = datetime.now(UTC)
    async with await Store.open(settings.storage.target) as store:
        items = await list_items(store, state=args.state, now=now)
    if args.json:
        for thread in items:
            print(json.dumps(item_json(thread, tz, now), ensure_ascii=False))
        return 0
    if not items:
        print("Входящих нет.")
    for t in items:
        due = f"до {moment(t.due_at, tz)}" if t.due_at else "без срока"
        late = " ПРОСРОЧЕНО" if t.state == "open" and t.due_at and t.due_at < now else ""
        print(f"№{t.id:<5} {STATE_NAMES[t.state]:<12} {KIND_NAMES[t.kind]:<18} "
              f"{CHANNEL_NAMES.get(t.channel, t.channel):<9} {due}{late}  {_short(t.text)}")
    return 0


async def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from bot.api_inbox import item_json, message_json
    from handlers.inbox import NotFound, get_thread
    from storage.store import Store

    tz = settings.service.tz
    async with await Store.open(settings.storage.target) as store:
        try:
            view = await get_thread(store, args.id)
        except NotFound:
            print(f"gateway: входящее №{args.id} не найдено", file=sys.stderr)
            return EXIT_NOT_FOUND
    t = view.thread
    if args.json:
        body = item_json(t, tz, datetime.now(UTC))
        body["messages"] = [message_json(m, tz) for m in view.messages]
        body["customer"] = {"phone": view.phone, "accounts": [a.number for a in view.accounts]}
        print(json.dumps(body, ensure_ascii=False))
        return 0
    print(f"Входящее №{t.id}: {STATE_NAMES[t.state]}, {KIND_NAMES[t.kind]}, "
          f"{CHANNEL_NAMES.get(t.channel, t.channel)} {t.address}")
    if t.due_at:
        print(f"Ответить до: {moment(t.due_at, tz)}")
    if t.appeal_id:
        print(f"Обращение №{t.appeal_id}")
    print(f"Телефон: {view.phone or 'не подтверждён'}")
    for account in view.accounts:
        print(f"Лицевой счёт {account.number}: {account.holder}, {account.address}")
    for m in view.messages:
        who = {"customer": "клиент", "bot": "бот"}.get(m.author, m.author)
        extra = f" [вложение: {m.attachment.get('kind')}]" if m.attachment else ""
        print(f"  #{m.id} [{moment(m.at, tz)}] {who}: {m.text}{extra}")
    return 0


async def cmd_reply(args: argparse.Namespace, settings: Settings) -> int:
    from bot.answers import OutboxAnswers
    from handlers.inbox import AlreadyAnswered, InboxError, NotFound, reply
    from notifications.wake import LocalWake
    from storage.store import Store

    text = " ".join(args.text)
    async with await Store.open(settings.storage.target) as store:
        try:
            # The running service's sender is woken to send it at once.
            out = OutboxAnswers(store, LocalWake(settings.storage.path).notify)
            outbox_id = await reply(store, out, args.id, text,
                                    actor=args.staff or getpass.getuser(), after=args.after)
        except NotFound:
            print(f"gateway: входящее №{args.id} не найдено", file=sys.stderr)
            return EXIT_NOT_FOUND
        except AlreadyAnswered as exc:
            print(f"gateway: уже ответил(а) {exc.by}; ответ не отправлен", file=sys.stderr)
            return EXIT_CONFLICT
        except InboxError as exc:
            print(f"gateway: {exc.staff}", file=sys.stderr)
            return EXIT_USAGE
    print(f"Входящее №{args.id}: ответ поставлен в очередь (№{outbox_id} в очереди отправки)")
    return 0


async def cmd_close(args: argparse.Namespace, settings: Settings) -> int:
    from handlers.inbox import InboxError, NotFound, close
    from storage.store import Store

    label = None
    if args.label is not None:
        try:
            label = json.loads(args.label)
        except ValueError:
            print("gateway: --label: нужен JSON-объект", file=sys.stderr)
            return EXIT_USAGE
        if not isinstance(label, dict):
            print("gateway: --label: нужен JSON-объект", file=sys.stderr)
            return EXIT_USAGE
    async with await Store.open(settings.storage.target) as store:
        try:
            await close(store, args.id, actor=args.staff or getpass.getuser(), label=label)
        except NotFound:
            print(f"gateway: входящее №{args.id} не найдено", file=sys.stderr)
            return EXIT_NOT_FOUND
        except InboxError as exc:
            print(f"gateway: {exc.field}: {exc.staff}", file=sys.stderr)
            return EXIT_USAGE
    print(f"Входящее №{args.id} закрыто" + (" с разметкой" if label else ""))
    return 0


async def cmd_export_labelled(args: argparse.Namespace, settings: Settings) -> int:
    from handlers.labelled import labelled_objects
    from storage.store import Store

    async with await Store.open(settings.storage.target) as store:
        rows = await store.inbox.labelled()
    for obj in labelled_objects(rows, mask=args.mask):
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return 0
