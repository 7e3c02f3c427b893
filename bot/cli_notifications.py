"""Staff commands of notifications (docs/interfaces.md §8, §10):

    gateway broadcast outage --settlement … [--street …] [--houses "1-15,17,21А"|все]
            --reason … --start "YYYY-MM-DD HH:MM" --until "…" [--planned]
            [--dry-run] [--yes] [--allow-empty] [--json] [--no-follow]
    gateway broadcast cancel N
    gateway outage list [--active] [--json]
    gateway outage restored N [--json]
    gateway outage cancel N [--json]
    gateway outage extend N --until "…" [--json]
    gateway import invoices FILE.csv [--json]
    gateway import debts FILE.csv [--json]
    gateway campaigns list [--json]
    gateway campaigns show N [--json] [--undelivered]

Times are local, `YYYY-MM-DD HH:MM` or `DD.MM.YYYY HH:MM`. Exit status 3: refused (a
broadcast to nobody without --allow-empty, above confirm_above without --yes, an outage
already restored or cancelled); 2: bad input; 1: no such outage or campaign.

The commands write to the database; the running service's sender picks the rows up (it
polls the outbox). `broadcast outage` follows the campaign with a progress bar on a
terminal until every message has left (Ctrl-C stops following, not the campaign).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.cli_formats import DEBTS, EXIT_REJECTED, INVOICES, STRICT_HELP, file_help
from bot.settings import Settings

EXIT_MISSING = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3

_TIMES = '"YYYY-MM-DD HH:MM" or "DD.MM.YYYY HH:MM"'
_TIMES_RU = "ДД.ММ.ГГГГ ЧЧ:ММ или ГГГГ-ММ-ДД ЧЧ:ММ"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `broadcast …`, `outage …`, `import invoices|debts`, `campaigns …`."""
    broadcast = sub.add_parser("broadcast", parents=[common], help="notices to an area")
    what = broadcast.add_subparsers(dest="broadcast", metavar="ACTION")
    what.required = True
    p = what.add_parser("outage", parents=[common], help="record an outage and notify the area")
    p.add_argument("--settlement", required=True)
    p.add_argument("--street", default="")
    p.add_argument("--houses", default="", help='house list, e.g. "1-15,17,21А"')
    p.add_argument("--reason", required=True)
    p.add_argument("--start", required=True, help=f"local time, {_TIMES}")
    p.add_argument("--until", required=True, help=f"expected restoration, local time, {_TIMES}")
    p.add_argument("--planned", action="store_true", help="planned work (quiet hours apply)")
    p.add_argument("--dry-run", action="store_true", help="only report the audience")
    p.add_argument("--yes", action="store_true", help="confirm a large broadcast")
    p.add_argument(
        "--allow-empty", action="store_true",
        help="record the outage even when nobody is at that address (--yes does not)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--no-follow", action="store_true", help="do not show sending progress")
    p.set_defaults(func=cmd_broadcast_outage)
    p = what.add_parser("cancel", parents=[common], help="stop a campaign's unsent messages")
    p.add_argument("campaign", type=int)
    p.set_defaults(func=cmd_broadcast_cancel)

    outage = sub.add_parser("outage", parents=[common], help="outages")
    what = outage.add_subparsers(dest="outage", metavar="ACTION")
    what.required = True
    p = what.add_parser("restored", parents=[common], help="power is back: notify, close")
    p.add_argument("outage_id", type=int, metavar="N")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_outage_restored)
    p = what.add_parser("list", parents=[common], help="outages, newest first")
    p.add_argument("--active", action="store_true", help="only not restored or cancelled")
    p.add_argument("--limit", type=_limit, default=100, help="at most N, newest first")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_outage_list)
    p = what.add_parser(
        "cancel", parents=[common], help="called off: end it, tell those already told"
    )
    p.add_argument("outage_id", type=int, metavar="N")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_outage_cancel)
    p = what.add_parser(
        "extend", parents=[common], help="a new expected restoration, told to those told"
    )
    p.add_argument("outage_id", type=int, metavar="N")
    p.add_argument("--until", required=True, help=f"the new time, local, {_TIMES}")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_outage_extend)

    imports = import_subcommands(sub, common)
    for kind, text, layout in (
        ("invoices", "invoice notices", INVOICES), ("debts", "debt warnings", DEBTS)
    ):
        p = imports.add_parser(kind, parents=[common], help=f"{text} from a billing CSV file",
                               **file_help(layout))
        p.add_argument("file", type=Path, metavar="FILE.csv")
        p.add_argument("--json", action="store_true")
        p.add_argument("--strict", action="store_true", help=STRICT_HELP)
        p.set_defaults(func=cmd_import_billing, kind=kind)

    campaigns = sub.add_parser("campaigns", parents=[common], help="notice campaigns")
    what = campaigns.add_subparsers(dest="campaigns", metavar="ACTION")
    what.required = True
    p = what.add_parser("list", parents=[common], help="campaigns, newest first")
    p.add_argument("--limit", type=_limit, default=100, help="at most N, newest first")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_campaigns_list)
    p = what.add_parser("show", parents=[common], help="a campaign's progress")
    p.add_argument("campaign", type=int, metavar="N")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--undelivered", action="store_true",
        help="list accounts and phones without a delivery receipt (CSV)",
    )
    p.set_defaults(func=cmd_campaigns_show)


def _limit(text: str) -> int:
    if not (text.isdigit() and 1 <= int(text) <= 10_000):
        raise argparse.ArgumentTypeError("a whole number from 1 to 10000")
    return int(text)


def import_subcommands(sub: Any, common: argparse.ArgumentParser) -> Any:
    """The subcommands of `gateway import`, shared with the registry's `import customers`:
    whichever part registers first creates `import`, the others add to it."""
    parser = sub.choices.get("import")
    if parser is None:
        parser = sub.add_parser("import", parents=[common], help="load billing files")
        action = parser.add_subparsers(dest="import_kind", metavar="WHAT")
        action.required = True
        return action
    for action in parser._actions:  # argparse keeps no public handle on it
        if isinstance(action, argparse._SubParsersAction):
            return action
    action = parser.add_subparsers(dest="import_kind", metavar="WHAT")
    action.required = True
    return action


async def _service(settings: Settings) -> Any:
    from notifications.campaigns import Notifications
    from notifications.wake import LocalWake
    from storage.store import Store

    store = await Store.open(settings.storage.target)
    # The running service's sender looks at once (docs/architecture.md, the outbox).
    wake = LocalWake(settings.storage.path)
    return store, Notifications.from_settings(store, settings, wake=wake.notify)


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False), flush=True)


def _time(text: str, option: str, tz: Any) -> datetime | None:
    """A local time from the command line, or None once the error is printed."""
    from notifications.campaigns import parse_local_time

    try:
        return parse_local_time(text, tz)
    except ValueError:
        print(f"gateway: {option}: не понял время «{text[:40]}»: нужно {_TIMES_RU}",
              file=sys.stderr)
        return None


async def cmd_broadcast_outage(args: argparse.Namespace, settings: Settings) -> int:
    from notifications.campaigns import OutageError, OutageRequest
    from parsers.counted import counted

    tz = settings.service.tz
    start, until = _time(args.start, "--start", tz), _time(args.until, "--until", tz)
    if start is None or until is None:
        return EXIT_USAGE
    request = OutageRequest(
        settlement=args.settlement, street=args.street, houses=args.houses,
        reason=args.reason, start=start, until=until, planned=args.planned,
    )
    store, service = await _service(settings)
    async with store:
        try:
            report = await service.outage(
                request, dry_run=args.dry_run, yes=args.yes, allow_empty=args.allow_empty
            )
            if report.empty:
                if args.json:
                    _print_json(report.as_json())
                print(
                    f"gateway: по адресу {_where(args)} нет ни одного получателя: проверьте "
                    "написание населённого пункта и улицы. Ничего не записано; чтобы "
                    "записать отключение без рассылки, добавьте --allow-empty",
                    file=sys.stderr,
                )
                return EXIT_REFUSED
            if report.needs_confirmation:
                limit = settings.notifications.confirm_above
                if args.json or not sys.stdin.isatty():
                    if args.json:
                        _print_json(report.as_json())
                    print(
                        f"gateway: {counted(report.recipients, 'получатель')} — больше "
                        f"порога [notifications] confirm_above = {limit}; чтобы отправить, "
                        "добавьте --yes",
                        file=sys.stderr,
                    )
                    return EXIT_REFUSED
                _print_report(report, dry_run=True)
                answer = await asyncio.get_running_loop().run_in_executor(
                    None, input,
                    f"Отправить: {counted(report.recipients, 'получатель')}? [д/Н] ",
                )
                if answer.strip().lower() not in {"y", "yes", "д", "да"}:
                    print("не отправлено", file=sys.stderr)
                    return EXIT_REFUSED
                report = await service.outage(request, yes=True, allow_empty=args.allow_empty)
        except OutageError as exc:
            print(f"gateway: {exc.russian}", file=sys.stderr)
            return EXIT_USAGE
        if until <= datetime.now(tz):
            # The notice's validity ends with the outage: it was dropped, never sent.
            print(
                "gateway: внимание: время --until уже прошло; извещение об отключении "
                "после восстановления света не отправляется",
                file=sys.stderr,
            )
        if report.accounts == 0:
            # A misspelt settlement («Сыктвкар») recorded an outage for nobody, silently.
            print(
                f"gateway: внимание: в реестре нет ни одного абонента по адресу "
                f"{_where(args)}; проверьте написание населённого пункта и улицы",
                file=sys.stderr,
            )
        if args.json:
            _print_json(report.as_json())
            return 0
        _print_report(report, dry_run=args.dry_run)
        if report.campaign is not None and not args.no_follow and sys.stdout.isatty():
            await _follow(service, report.campaign)
    return 0


def _where(args: argparse.Namespace) -> str:
    return ", ".join(p for p in (args.settlement, args.street, args.houses) if p)


def _print_report(report: Any, *, dry_run: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from parsers.counted import counted

    table = Table(show_header=False, box=None)
    if report.campaign is not None:
        table.add_row("рассылка", f"№{report.campaign}")
        table.add_row("отключение", f"№{report.outage}")
    elif dry_run:
        table.add_row("проверка", "ничего не записано и не отправлено")
    table.add_row("лицевые счета", str(report.accounts))
    table.add_row("получатели", counted(report.recipients, "получатель"))
    table.add_row("по каналам", f"SMS {report.sms}, Telegram {report.telegram}")
    table.add_row("частей SMS", str(report.sms_parts))
    table.add_row("текст", report.sample)
    Console().print(table)


async def _follow(service: Any, campaign: int) -> None:
    """A progress bar over the campaign until nothing is queued (deferred rows wait for
    the morning; the bar stops there too)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with (
        suppress(KeyboardInterrupt, asyncio.CancelledError),
        Progress(
            TextColumn("campaign {task.fields[campaign]}"), BarColumn(),
            MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
        ) as bar,
    ):
        task = bar.add_task("send", total=None, campaign=campaign, detail="")
        while True:
            progress = await service.progress(campaign)
            if progress is None:
                return
            c = progress.counts
            left = c["sent"] + c["delivered"] + c["failed"] + c["cancelled"]
            detail = f"delivered {c['delivered']}, failed {c['failed']}, deferred {c['deferred']}"
            bar.update(task, total=progress.recipients, completed=left, detail=detail)
            if c["queued"] == 0:
                return
            await asyncio.sleep(0.5)


async def cmd_broadcast_cancel(args: argparse.Namespace, settings: Settings) -> int:
    store, service = await _service(settings)
    async with store:
        stopped = await service.cancel(args.campaign)
    if stopped is None:
        print(f"gateway: рассылки №{args.campaign} нет", file=sys.stderr)
        return EXIT_MISSING
    from parsers.counted import counted

    print(f"рассылка №{args.campaign} остановлена, не отправлено: "
          f"{counted(stopped, 'сообщение')}")
    return 0


async def cmd_outage_restored(args: argparse.Namespace, settings: Settings) -> int:
    store, service = await _service(settings)
    async with store:
        report = await service.restored(args.outage_id)
    if report is None:
        print(f"gateway: отключения №{args.outage_id} нет", file=sys.stderr)
        return 1
    if args.json:
        _print_json(report.as_json())
    else:
        _print_report(report, dry_run=False)
    return 0


def _outage_failed(exc: Any) -> int:
    from notifications.campaigns import OutageStateError

    print(f"gateway: {exc.russian}", file=sys.stderr)
    return EXIT_REFUSED if isinstance(exc, OutageStateError) else EXIT_USAGE


_STATUS = {"active": "идёт", "restored": "восстановлено", "cancelled": "отменено"}


async def cmd_outage_list(args: argparse.Namespace, settings: Settings) -> int:
    from parsers.counted import counted

    tz = settings.service.tz
    store, service = await _service(settings)
    async with store:
        views = await service.outages(active_only=args.active, limit=args.limit)
    rows = [v.as_json(tz) for v in views]
    if args.json:
        _print_json({"outages": rows})
        return 0
    if not rows:
        print("активных отключений нет" if args.active else "отключений нет")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=counted(len(rows), "отключение"))
    for name in ("№", "состояние", "адрес", "с", "до", "причина", "рассылка"):
        table.add_column(name)
    for row in rows:
        state = _STATUS.get(row["status"], row["status"])
        if row["planned"]:
            state += ", плановое"
        where = ", ".join(p for p in (row["settlement"], row["street"], row["houses"]) if p)
        table.add_row(
            str(row["outage"]), state, where, row["start"], row["until"], row["reason"],
            "" if row["campaign"] is None else f"№{row['campaign']}",
        )
    Console().print(table)
    return 0


async def _change_outage(
    args: argparse.Namespace, settings: Settings, change: Callable[[Any], Awaitable[Any]]
) -> Any:
    """`change(service)` on outage `args.outage_id`: its report, or the exit status once
    the refusal is printed (no such outage, already ended, a bad time)."""
    from notifications.campaigns import OutageError

    store, service = await _service(settings)
    async with store:
        try:
            report = await change(service)
        except OutageError as exc:
            return _outage_failed(exc)
    if report is None:
        print(f"gateway: отключения №{args.outage_id} нет", file=sys.stderr)
        return EXIT_MISSING
    if args.json:
        _print_json(report.as_json())
        return 0
    return report


async def cmd_outage_cancel(args: argparse.Namespace, settings: Settings) -> int:
    from parsers.counted import counted

    report = await _change_outage(
        args, settings, lambda service: service.cancel_outage(args.outage_id)
    )
    if isinstance(report, int):
        return report
    told = counted(report.recipients, "получатель")
    print(f"отключение №{args.outage_id} отменено; сообщение об отмене: {told} "
          f"(рассылка №{report.campaign})")
    return 0


async def cmd_outage_extend(args: argparse.Namespace, settings: Settings) -> int:
    from notifications.campaigns import local_time
    from parsers.counted import counted

    tz = settings.service.tz
    until = _time(args.until, "--until", tz)
    if until is None:
        return EXIT_USAGE
    report = await _change_outage(
        args, settings, lambda service: service.extend_outage(args.outage_id, until)
    )
    if isinstance(report, int):
        return report
    told = counted(report.recipients, "получатель")
    print(f"отключение №{args.outage_id} продлено до {local_time(until, tz)}; новое время "
          f"сообщено: {told} (рассылка №{report.campaign})")
    print(f"текст: {report.sample}")
    return 0


async def cmd_campaigns_list(args: argparse.Namespace, settings: Settings) -> int:
    from parsers.counted import counted

    tz = settings.service.tz
    store, service = await _service(settings)
    async with store:
        found = await service.campaign_list(limit=args.limit)
    rows = [c.as_json(tz) for c in found]
    if args.json:
        _print_json({"campaigns": rows})
        return 0
    if not rows:
        print("рассылок нет")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=counted(len(rows), "рассылка"))
    for name in ("№", "вид", "создана", "получатели", "ход", "что"):
        table.add_column(name)
    for row in rows:
        states = ", ".join(
            f"{label} {row[state]}" for state, label in _STATES.items() if row[state]
        )
        table.add_row(
            str(row["campaign"]), _KINDS.get(row["kind"], row["kind"]), row["created_at"],
            str(row["recipients"]), states or "—", row["title"],
        )
    Console().print(table)
    return 0


_STATES = {
    "delivered": "доставлено", "sent": "отправлено", "queued": "в очереди",
    "deferred": "отложено", "failed": "ошибки", "cancelled": "отменено",
}
_KINDS = {
    "invoice": "счета", "debt": "долги", "outage": "отключение",
    "restored": "свет дали / отмена",
    "reminder": "напоминание", "survey": "опрос", "answer": "ответ",
}


async def cmd_import_billing(args: argparse.Namespace, settings: Settings) -> int:
    from storage.csvfile import CsvFileError

    store, service = await _service(settings)
    async with store:
        try:
            if args.kind == "invoices":
                report = await service.import_invoices(args.file)
            else:
                report = await service.import_debts(args.file)
        except CsvFileError as exc:
            print(f"gateway: {exc}", file=sys.stderr)
            return EXIT_USAGE
    # Rejected rows exit 0, or 4 with --strict (docs/interfaces.md §3, §10).
    status = EXIT_REJECTED if args.strict and report.rejected else 0
    if args.json:
        _print_json(report.as_json())
        return status
    if report.duplicate_of is not None:
        print(f"this file was imported before as campaign {report.duplicate_of}: nothing "
              "queued again (cancel that campaign first to send it to those it did not reach)")
        return 0
    sent_before = (
        f" ({report.already_sent} not again: sent by the cancelled campaign of this file)"
        if report.already_sent else ""
    )
    print(f"campaign {report.campaign}: {report.accepted} rows accepted, "
          f"{len(report.rejected)} rejected, {report.recipients} messages queued"
          f"{sent_before}")
    for rejected in report.rejected:
        print(f"  line {rejected.line}: {rejected.reason}")
    return status


async def cmd_campaigns_show(args: argparse.Namespace, settings: Settings) -> int:
    store, service = await _service(settings)
    async with store:
        progress = await service.progress(args.campaign)
        if progress is None:
            print(f"gateway: рассылки №{args.campaign} нет", file=sys.stderr)
            return 1
        if args.undelivered:
            out = csv.writer(sys.stdout, lineterminator="\n")
            out.writerow(["account", "phone", "channel", "status", "sent_at", "error"])
            async for row in service.undelivered(args.campaign):
                out.writerow([
                    row.account, row.phone, row.channel, row.status,
                    row.sent_at.isoformat() if row.sent_at else "", row.error,
                ])
            return 0
    if args.json:
        _print_json(progress.as_json())
        return 0
    body = progress.as_json()
    print(f"рассылка №{body['campaign']} ({_KINDS.get(body['kind'], body['kind'])})")
    print(f"{'получатели':>12}  {body['recipients']}")
    for state, label in _STATES.items():
        print(f"{label:>12}  {body[state]}")
    if "possible_duplicates" in body:
        print(f"{'возможно дважды':>12}  {body['possible_duplicates']}")
    return 0
