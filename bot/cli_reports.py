"""Staff commands of the quality programme (contracts.md §9):

    gateway report appeals --quarter 2026Q4 [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.settings import Settings

EXIT_USAGE = 2


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `report …` to the `gateway` command line."""
    report = sub.add_parser("report", parents=[common], help="quality reports for staff")
    what = report.add_subparsers(dest="report", metavar="REPORT")
    what.required = True

    p = what.add_parser(
        "appeals", parents=[common], help="quarterly analysis of appeals (Markdown/HTML, CSV)"
    )
    p.add_argument(
        "--quarter", help="quarter like 2026Q4 (default: the last complete quarter)"
    )
    p.add_argument(
        "--out", type=Path, help="directory for the report (default: var/reports/appeals-Q)"
    )
    p.set_defaults(func=cmd_report_appeals)


async def cmd_report_appeals(args: argparse.Namespace, settings: Settings) -> int:
    """Write the quarterly appeals report and print the path of its HTML page."""
    from handlers.quality.quarterly import appeals_report
    from handlers.quality.report import Quarter
    from storage.db import utcnow
    from storage.store import Store

    tz = settings.service.tz
    now = utcnow()
    try:
        quarter = Quarter.parse(args.quarter) if args.quarter else Quarter.of(now, tz).previous()
    except ValueError as exc:
        print(f"gateway: --quarter: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out = args.out or Path("var/reports") / f"appeals-{quarter.label}"
    store = await Store.open(settings.storage.path)
    async with store:
        path = await appeals_report(store, quarter, out, tz, now)
    print(path)
    return 0
