"""Staff commands of the quality programme (docs/interfaces.md §9; issue 8):

    gateway report appeals --quarter 2026Q4 [--out DIR]
    gateway report survey N [--out DIR]
    gateway survey create --file SURVEY.toml
    gateway survey create --title T --group household|business|both --question "…:score" …
    gateway survey send N [--limit N] [--dry-run] [--yes]
    gateway survey list
    gateway appeals due [--hours 24]      (registered by bot/cli_appeals.py: `cmd_appeals_due`)

The use cases live in `handlers.quality`; this module parses, prints and exits.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.cli_formats import SURVEY, file_help
from bot.settings import Settings
from parsers.counted import counted

EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_NOT_FOUND = 1


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `report …` and `survey …` to the `gateway` command line."""
    report = sub.add_parser("report", parents=[common], help="quality reports for staff")
    what = report.add_subparsers(dest="report", metavar="REPORT")
    what.required = True

    p = what.add_parser(
        "appeals", parents=[common], help="quarterly analysis of appeals (Markdown/HTML, CSV)"
    )
    p.add_argument("--quarter", help="quarter like 2026Q4 (default: the last complete one)")
    p.add_argument("--out", type=Path, help="directory (default: var/reports/appeals-QUARTER)")
    p.set_defaults(func=cmd_report_appeals)

    p = what.add_parser("survey", parents=[common], help="a survey's response rate and scores")
    p.add_argument("id", type=int)
    p.add_argument("--out", type=Path, help="directory (default: var/reports/survey-N)")
    p.set_defaults(func=cmd_report_survey)

    survey = sub.add_parser("survey", parents=[common], help="satisfaction surveys")
    action = survey.add_subparsers(dest="survey", metavar="ACTION")
    action.required = True

    p = action.add_parser("create", parents=[common], help="create a draft survey",
                          **file_help(SURVEY))
    p.add_argument("--file", type=Path, help="survey definition, .toml or .json")
    p.add_argument("--title")
    p.add_argument("--intro", default="", help="first line of the first message")
    p.add_argument("--days", type=int, default=14, help="answers are taken this many days")
    p.add_argument(
        "--group", choices=["household", "business", "both"], default="household",
        help="customer group of the --question options",
    )
    p.add_argument(
        "--question", action="append", default=[], metavar='"TEXT:score|yesno"',
        help="a question (repeat for several)",
    )
    p.set_defaults(func=cmd_survey_create)

    p = action.add_parser("send", parents=[common], help="send a survey to its audience")
    p.add_argument("id", type=int)
    p.add_argument("--limit", type=int, help="a random sample of this many people")
    p.add_argument("--dry-run", action="store_true", help="only count the audience")
    p.add_argument("--yes", action="store_true", help="confirm a large audience")
    p.set_defaults(func=cmd_survey_send)

    p = action.add_parser("list", parents=[common], help="list surveys")
    p.set_defaults(func=cmd_survey_list)


def _default_quarter(now: Any, tz: Any) -> Any:
    from handlers.quality.report import Quarter

    return Quarter.of(now, tz).previous()


async def cmd_report_appeals(args: argparse.Namespace, settings: Settings) -> int:
    """Write the quarterly appeals report and print the path of its HTML page."""
    from handlers.quality.quarterly import appeals_report
    from handlers.quality.report import Quarter
    from storage.db import utcnow
    from storage.store import Store

    tz = settings.service.tz
    now = utcnow()
    try:
        quarter = Quarter.parse(args.quarter) if args.quarter else _default_quarter(now, tz)
    except ValueError as exc:
        print(f"gateway: --quarter: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out = args.out or Path("var/reports") / f"appeals-{quarter.label}"
    async with await Store.open(settings.storage.target) as store:
        path = await appeals_report(store, quarter, out, tz, now)
    print(path)
    return 0


async def cmd_report_survey(args: argparse.Namespace, settings: Settings) -> int:
    """Write a survey's report and print the path of its HTML page."""
    from handlers.quality.render import write_survey_report
    from handlers.quality.surveys import SurveyError, survey_results
    from storage.store import Store

    async with await Store.open(settings.storage.target) as store:
        try:
            results = await survey_results(store, args.id)
        except SurveyError as exc:
            print(f"gateway: {exc}", file=sys.stderr)
            return EXIT_NOT_FOUND
    out = args.out or Path("var/reports") / f"survey-{args.id}"
    print(write_survey_report(results, out, settings.service.tz))
    return 0


async def cmd_survey_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create a draft survey from a file or the options; print its number."""
    from handlers.quality.surveys import (
        SurveyError,
        SurveySpec,
        create_survey,
        parse_question,
        read_survey_file,
    )
    from storage.db import utcnow
    from storage.store import Store

    try:
        if args.file:
            spec = read_survey_file(args.file)
        else:
            if not args.title or not args.question:
                raise SurveyError("нужны --file или --title и хотя бы один --question")
            groups = ["household", "business"] if args.group == "both" else [args.group]
            questions = tuple(parse_question(q, g) for g in groups for q in args.question)
            if not 1 <= args.days <= 90:
                raise SurveyError("--days: от 1 до 90")
            spec = SurveySpec(args.title.strip(), questions, args.intro.strip(), args.days)
    except (SurveyError, OSError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    async with await Store.open(settings.storage.target) as store:
        survey_id = await create_survey(store, spec, utcnow())
    groups_count = {g: sum(1 for q in spec.questions if q.segment == g)
                    for g in ("household", "business")}
    print(
        f"опрос №{survey_id} создан: «{spec.title}», вопросов: "
        f"население {groups_count['household']}, юрлица {groups_count['business']}. "
        f"Отправить: gateway survey send {survey_id}"
    )
    return 0


async def cmd_survey_send(args: argparse.Namespace, settings: Settings) -> int:
    """Send a survey through the outbox; a large audience needs --yes."""
    from handlers.quality.surveys import SurveyError, send_survey
    from storage.db import utcnow
    from storage.store import Store

    tz = settings.service.tz
    quiet = settings.notifications.quiet_window
    async with await Store.open(settings.storage.target) as store:
        try:
            plan = await send_survey(
                store, args.id, utcnow(), tz=tz, quiet_hours=quiet, limit=args.limit,
                dry_run=True,
            )
            print(
                f"опрос №{args.id}: {counted(plan.recipients, 'получатель')} "
                f"(население {plan.by_segment.get('household', 0)}, "
                f"юрлица {plan.by_segment.get('business', 0)}; "
                f"SMS {plan.by_channel.get('sms', 0)}, "
                f"Telegram {plan.by_channel.get('telegram', 0)}); "
                f"уже опрошены {plan.already}, отказались от рассылок {plan.opted_out}"
            )
            print(f"первое сообщение: {plan.sample}")
            if args.dry_run:
                return 0
            if plan.recipients > settings.notifications.confirm_above and not args.yes:
                print(
                    f"gateway: получателей больше {settings.notifications.confirm_above}: "
                    "подтвердите отправку флагом --yes",
                    file=sys.stderr,
                )
                return EXIT_REFUSED
            done = await send_survey(
                store, args.id, utcnow(), tz=tz, quiet_hours=quiet, limit=args.limit
            )
        except SurveyError as exc:
            print(f"gateway: {exc}", file=sys.stderr)
            return EXIT_NOT_FOUND
    print(f"поставлено в очередь: {done.recipients}, рассылка №{done.campaign_id}")
    if done.states_kept:
        print(
            f"у {done.states_kept} клиентов открыт другой диалог: их ответы на опрос "
            "не будут засчитаны"
        )
    return 0


async def cmd_survey_list(args: argparse.Namespace, settings: Settings) -> int:
    """List surveys."""
    from handlers.quality.survey_repo import SurveyRepo
    from storage.store import Store

    tz = settings.service.tz
    async with await Store.open(settings.storage.target) as store:
        surveys = await SurveyRepo(store.db).all()
    for s in surveys:
        sent = s.sent_at.astimezone(tz).strftime("%d.%m.%Y") if s.sent_at else "—"
        print(f"{s.id:>4}  {s.status:<6} отправлен {sent:<10}  {s.title}")
    return 0


async def cmd_appeals_due(args: argparse.Namespace, settings: Settings) -> int:
    """`gateway appeals due [--hours 24]`: open appeals past or near their due time
    (the same text as the staff digest)."""
    from handlers.quality.digest import due_digest
    from storage.db import utcnow
    from storage.store import Store

    if args.hours < 1:
        print("gateway: --hours: не меньше 1", file=sys.stderr)
        return EXIT_USAGE
    async with await Store.open(settings.storage.target) as store:
        text = await due_digest(store, utcnow().astimezone(settings.service.tz), args.hours)
    print(text)
    return 0
