"""Registry commands (docs/interfaces.md §3, §4):

    gateway import customers FILE.csv [--json]
    gateway export readings [--period YYYY-MM] [--format jsonl|csv] [--include-console]
    gateway export unlinked [--outcome held|accepted|limited] [--limit N]

The work is done by `storage.registry.import_customers` and
`storage.export.export_readings`; this module only parses arguments and prints.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli_formats import CUSTOMERS, EXIT_REJECTED, STRICT_HELP, file_help
from bot.settings import Settings

EXIT_USAGE = 2

# Below this size an import takes about a second: no progress bar.
_PROGRESS_FROM_BYTES = 2 * 2**20


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `import customers` and `export readings`."""
    from bot.cli_notifications import import_subcommands

    imports = import_subcommands(sub, common)
    p = imports.add_parser(
        "customers", parents=[common], help="the customer registry from billing (CSV)",
        **file_help(CUSTOMERS),
    )
    p.add_argument("file", type=Path, metavar="FILE.csv")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--strict", action="store_true", help=STRICT_HELP)
    p.set_defaults(func=cmd_import_customers)

    export = sub.add_parser("export", parents=[common], help="data for billing")
    what = export.add_subparsers(dest="export_kind", metavar="WHAT")
    what.required = True
    p = what.add_parser(
        "readings", parents=[common], help="accepted readings as JSON lines or CSV"
    )
    p.add_argument("--period", type=_period, metavar="YYYY-MM", help="only this period")
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", dest="fmt")
    p.add_argument(
        "--include-console", action="store_true", help="also readings typed in `gateway chat`"
    )
    p.set_defaults(func=cmd_export_readings)
    p = what.add_parser(
        "unlinked", parents=[common],
        help="readings sent from numbers not on the account, newest first (for staff)",
    )
    p.add_argument("--outcome", choices=["held", "accepted", "limited"],
                   help="only these: held for a check, accepted as unlinked, or refused")
    p.add_argument("--limit", type=int, default=100, metavar="N", help="at most N (100)")
    p.set_defaults(func=cmd_export_unlinked)
    from bot.cli_inbox import add_export

    add_export(what, common)  # `export labelled`: messages people labelled (the inbox)


def _period(text: str) -> str:
    from storage.csvfile import FieldError, parse_period

    try:
        return parse_period(text, "--period")
    except FieldError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


async def cmd_import_customers(args: argparse.Namespace, settings: Settings) -> int:
    from storage.csvfile import CsvFileError
    from storage.open import database_for
    from storage.registry import ImportReport, import_customers

    path: Path = args.file
    try:
        size = (await asyncio.to_thread(path.stat)).st_size
    except OSError as exc:
        print(f"gateway import customers: {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    async with database_for(settings.storage.target) as db:
        try:
            if size >= _PROGRESS_FROM_BYTES and sys.stderr.isatty() and not args.json:
                report = await _import_with_bar(db, path, size, settings)
            else:
                report = await import_customers(
                    db, path, region=settings.service.phone_region
                )
        except CsvFileError as exc:
            print(f"gateway import customers: {path}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    assert isinstance(report, ImportReport)
    if args.json:
        print(json.dumps({
            "rows": report.rows,
            "accounts": report.accounts,
            "meters": report.meters,
            "rejected": [{"line": line, "reason": reason} for line, reason in report.rejected],
        }, ensure_ascii=False))
        return EXIT_REJECTED if args.strict and report.rejected else 0
    print(f"rows read:         {report.rows}")
    print(f"accounts upserted: {report.accounts}")
    print(f"meters upserted:   {report.meters}")
    print(f"rows rejected:     {len(report.rejected)}")
    for line, reason in report.rejected:
        print(f"  line {line}: {reason}")
    # Rejected rows are the file's problem, not the command's: exit 0, or 4 with --strict
    # (docs/interfaces.md §3).
    return EXIT_REJECTED if args.strict and report.rejected else 0


async def _import_with_bar(db: Any, path: Path, size: int, settings: Settings) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from storage.registry import import_customers

    columns = (
        TextColumn("importing {task.description}"), BarColumn(), DownloadColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(path.name, total=size)

        def advance(done: int) -> None:
            bar.update(task, completed=min(done, size))

        report = await import_customers(
            db, path, region=settings.service.phone_region, progress=advance
        )
        bar.update(task, completed=size)
    return report


async def cmd_export_unlinked(args: argparse.Namespace, settings: Settings) -> int:
    """One JSON object a line: who sent what for which account, and what became of it
    (docs/architecture.md «Identification»: staff check the held ones)."""
    from storage.open import database_for
    from storage.repos import ReadingRepo

    tz = settings.service.tz
    async with database_for(settings.storage.target) as db:
        for item in await ReadingRepo(db).unlinked(args.outcome, max(1, args.limit)):
            print(json.dumps({
                "received_at": item.received_at.astimezone(tz).isoformat(timespec="seconds"),
                "channel": item.channel, "sender": item.sender, "account": item.account,
                "outcome": item.outcome, "reason": item.reason, "text": item.text,
            }, ensure_ascii=False))
    sys.stdout.flush()
    return 0


async def cmd_export_readings(args: argparse.Namespace, settings: Settings) -> int:
    from storage.export import export_readings
    from storage.open import database_for

    async with database_for(settings.storage.target) as db:
        await export_readings(
            db,
            period=args.period,
            fmt=args.fmt,
            include_console=args.include_console,
            out=sys.stdout,
            tz=settings.service.tz,
            truncate=settings.readings.export_truncate,
        )
    sys.stdout.flush()
    return 0
