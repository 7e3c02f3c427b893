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
import hashlib
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


async def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from handlers.appeals import list_appeals
    from storage.store import Store

    tz = settings.service.tz
    async with await Store.open(settings.storage.path) as store:
        appeals = await list_appeals(store, args.status)
    if args.json:
        for appeal in appeals:
            print(json.dumps(_row(appeal, tz), ensure_ascii=False))
        return 0
    for appeal in appeals:
        due = appeal.due_at.astimezone(tz).strftime("%d.%m %H:%M")
        first = " ".join(appeal.text.split())[:60]
        print(f"{appeal.id:>6}  {appeal.status:<8} {appeal.category:<17} до {due}  {first}")
    return 0


async def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from handlers.appeals import show_appeal
    from storage.store import Store

    tz = settings.service.tz
    async with await Store.open(settings.storage.path) as store:
        shown = await show_appeal(store, args.id)
    if shown is None:
        print(f"gateway: appeal {args.id} not found", file=sys.stderr)
        return EXIT_NOT_FOUND
    appeal, messages = shown
    row = _row(appeal, tz)
    row["messages"] = [
        {"text": text, "received_at": at.astimezone(tz).isoformat()} for text, at in messages
    ]
    if args.json:
        print(json.dumps(row, ensure_ascii=False))
        return 0
    for key, value in row.items():
        if key != "messages":
            print(f"{key:>10}: {value}")
    for item in row["messages"]:
        print(f"  [{item['received_at']}] {item['text']}")
    return 0


async def cmd_answer(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core import ChannelName, Outbound, reply_route
    from handlers.appeals import answer_appeal
    from notifications.wake import LocalWake
    from storage.outbox import PRIORITY_URGENT, NewMessage
    from storage.store import Store

    text = " ".join(args.text).strip()
    if not text:
        print("gateway: the answer is empty", file=sys.stderr)
        return EXIT_USAGE
    staff = args.staff or getpass.getuser()
    async with await Store.open(settings.storage.path) as store, store.db.transaction():
        try:
            appeal, reply = await answer_appeal(store, args.id, text, staff)
        except LookupError:
            print(f"gateway: appeal {args.id} not found", file=sys.stderr)
            return EXIT_NOT_FOUND
        assert reply.to is not None
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        channel = ChannelName(reply.to.channel)
        outbound = Outbound(
            channel=channel,
            address=reply.to.address,
            text=reply.text,
            # Answers come from the number the customer wrote to (design.md, Numbers),
            # and an e-mail answer keeps the customer's thread.
            **reply_route(channel, appeal.reply_source),
        )
        await store.outbox.enqueue(
            NewMessage(
                channel=channel.value,
                address=reply.to.address,
                payload=outbound.model_dump_json(),
                priority=PRIORITY_URGENT,
                account=appeal.account,
                phone=reply.to.address if reply.to.address.startswith("+") else None,
                # One answer per (appeal, text): running the command twice sends once.
                idempotency_key=f"appeal-answer:{appeal.id}:{digest}",
            )
        )
    LocalWake(settings.storage.path).notify()  # the running service sends it at once
    print(f"appeal {appeal.id}: answered; the reply to {channel.value} is queued")
    return 0
