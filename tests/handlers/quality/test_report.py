"""The quarterly appeals report: tables for the rules, then a generated history whose
right answers are known (tests/handlers/quality/history.py)."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from handlers.quality.quarterly import appeals_report, load_appeals_report
from handlers.quality.report import (
    CountRow,
    Quarter,
    gap_rules,
    lemmas,
    repeat_stats,
    service_level,
)
from storage.models import Appeal, Outage
from storage.store import Store
from tests.handlers.quality.history import AS_OF, EXPECTED, TZ, generate_history

UTC_TZ = ZoneInfo("UTC")
T0 = datetime(2026, 10, 5, 10, 0, tzinfo=TZ)


def appeal(
    appeal_id: int = 1,
    *,
    contact_id: int = 1,
    category: str = "billing",
    text: str = "вопрос",
    status: str = "open",
    created: datetime = T0,
    due_hours: float = 72,
    answered_hours: float | None = None,
    repeats: int = 0,
    outage_id: int | None = None,
) -> Appeal:
    return Appeal(
        id=appeal_id,
        contact_id=contact_id,
        channel="sms",
        address="+79000000001",
        reply_source=None,
        account=None,
        category=category,
        text=text,
        status="answered" if answered_hours is not None else status,
        created_at=created,
        due_at=created + timedelta(hours=due_hours),
        answered_at=None if answered_hours is None else created + timedelta(hours=answered_hours),
        answer=None,
        repeats=repeats,
        outage_id=outage_id,
    )


# -- quarters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "previous", "start"),
    [
        ("2026Q4", Quarter(2026, 4), Quarter(2026, 3), datetime(2026, 10, 1, tzinfo=TZ)),
        ("2026q1", Quarter(2026, 1), Quarter(2025, 4), datetime(2026, 1, 1, tzinfo=TZ)),
        ("2026-Q2", Quarter(2026, 2), Quarter(2026, 1), datetime(2026, 4, 1, tzinfo=TZ)),
        (" 2027 К3 ", Quarter(2027, 3), Quarter(2027, 2), datetime(2027, 7, 1, tzinfo=TZ)),
    ],
)
def test_quarter_parse(text: str, expected: Quarter, previous: Quarter, start: datetime) -> None:
    quarter = Quarter.parse(text)
    assert quarter == expected
    assert quarter.previous() == previous
    assert quarter.start(TZ) == start
    assert quarter.previous().end(TZ) == start


@pytest.mark.parametrize("text", ["2026Q5", "2026", "Q4", "2026Q0", "26Q4", ""])
def test_quarter_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="2026Q4"):
        Quarter.parse(text)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # 31 Dec 22:00 UTC is already 1 Jan in Moscow: quarters follow local time.
        (datetime(2026, 12, 31, 22, 0, tzinfo=UTC_TZ), Quarter(2027, 1)),
        (datetime(2026, 9, 30, 20, 59, tzinfo=UTC_TZ), Quarter(2026, 3)),
        (datetime(2026, 9, 30, 21, 0, tzinfo=UTC_TZ), Quarter(2026, 4)),
    ],
)
def test_quarter_of_local_time(moment: datetime, expected: Quarter) -> None:
    assert Quarter.of(moment, TZ) == expected


# -- rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Отключили свет", {"отключить", "свет"}),
        ("отключение света, когда отключат?", {"отключение", "свет", "отключить"}),
        ("Здравствуйте! Начислили по среднему", {"начислить", "средний"}),
        ("Почему опять по нормативу?", {"норматив"}),
        ("", set()),
        ("123 456", set()),
    ],
)
def test_lemmas(text: str, expected: set[str]) -> None:
    assert lemmas(text) == expected


def test_service_level_table() -> None:
    as_of = T0 + timedelta(days=10)
    level = service_level(
        [
            appeal(1, answered_hours=10),  # on time
            appeal(2, answered_hours=72),  # on time: exactly at the due time
            appeal(3, answered_hours=73),  # late
            appeal(4, due_hours=24),  # open, past due at as_of
            appeal(5, created=as_of - timedelta(hours=1)),  # open, not yet due
            appeal(6, status="closed"),  # closed without a staff answer
        ],
        as_of,
    )
    assert (level.on_time, level.answered_late, level.open_overdue) == (2, 1, 1)
    assert (level.open_not_due, level.closed_without_answer, level.base) == (1, 1, 4)
    assert level.share_on_time == 0.5
    assert level.median_hours == 72


def test_service_level_empty() -> None:
    level = service_level([], T0)
    assert level.share_on_time is None
    assert level.median_hours is None


def test_repeat_stats() -> None:
    stats = repeat_stats(
        [
            appeal(1, contact_id=1, outage_id=7, repeats=2),
            appeal(2, contact_id=2, outage_id=7),
            appeal(3, contact_id=2, outage_id=7),  # the same contact again (another day)
            appeal(4, contact_id=3, outage_id=9),
            appeal(5, contact_id=4, repeats=1),
        ]
    )
    assert [(g.outage_id, g.appeals, g.contacts, g.repeats) for g in stats.outage_groups] == [
        (7, 3, 2, 2),
        (9, 1, 1, 0),
    ]
    assert (stats.linked_appeals, stats.extra_outage_appeals) == (4, 2)
    assert (stats.appeals_with_repeats, stats.repeat_messages, stats.total) == (2, 3, 5)


OUTAGE = Outage(
    id=7, settlement="Сыктывкар", street="", houses="", reason="авария",
    start_at=T0 - timedelta(hours=5), until_at=T0, planned=False, status="active",
)


@pytest.mark.parametrize(
    ("subject", "earlier", "expected"),
    [
        # answered 10 days before, same contact and category: the answer did not settle it
        (appeal(2, created=T0), [appeal(1, created=T0 - timedelta(days=11),
                                        answered_hours=24)], ("repeat_after_answer",)),
        # answered 31 days before: a new question, not a repeat
        (appeal(2, created=T0), [appeal(1, created=T0 - timedelta(days=32),
                                        answered_hours=24)], ()),
        # the earlier appeal was never answered: a repeat joins it, no gap
        (appeal(2, created=T0), [appeal(1, created=T0 - timedelta(days=3))], ()),
        # the appeal itself is in the history and answered: not a repeat of itself
        (appeal(2, created=T0, answered_hours=1), [appeal(2, created=T0, answered_hours=1)],
         ()),
        (appeal(2, text="Начислили по среднему"), [], ("estimated_billing",)),
        (appeal(2, text="Расчёт по нормативу неверный"), [], ("estimated_billing",)),
        # only billing appeals: a meter appeal mentioning the norm is about the meter
        (appeal(2, category="meter", text="по нормативу"), [], ()),
        (appeal(2, category="outage", created=T0 + timedelta(minutes=1), outage_id=7), [],
         ("outage_overrun",)),
        (appeal(2, category="outage", created=T0, outage_id=7), [], ()),
    ],
)
def test_gap_rules(subject: Appeal, earlier: list[Appeal], expected: tuple[str, ...]) -> None:
    assert gap_rules(subject, lemmas(subject.text), earlier, {7: OUTAGE}) == expected


@pytest.mark.parametrize(
    ("current", "previous", "delta", "pct"),
    [(12, 5, 7, 140.0), (0, 4, -4, -100.0), (3, 0, 3, None), (0, 0, 0, None)],
)
def test_count_row(current: int, previous: int, delta: int, pct: float | None) -> None:
    row = CountRow("k", "K", current, previous)
    assert row.delta == delta
    assert row.delta_pct == pct


# -- a generated history with known answers ------------------------------------------


async def test_report_numbers_on_generated_history(store: Store) -> None:
    await generate_history(store)
    report = await load_appeals_report(store, Quarter(2026, 4), TZ, AS_OF)
    e = EXPECTED

    assert (report.total, report.previous_total) == (e.total, e.previous_total)
    assert [(r.key, r.current, r.previous) for r in report.by_category] == list(e.by_category)
    assert [(r.key, r.current, r.previous) for r in report.by_channel] == list(e.by_channel)

    s = report.service
    assert (s.on_time, s.answered_late, s.open_overdue) == (
        e.on_time, e.answered_late, e.open_overdue)
    assert (s.open_not_due, s.closed_without_answer, s.base) == (
        e.open_not_due, e.closed_without_answer, e.base)
    assert s.share_on_time == pytest.approx(e.on_time / e.base)
    assert s.median_hours == pytest.approx(e.median_hours)
    p = report.previous_service
    assert (p.on_time, p.answered_late) == (e.previous_on_time, e.previous_late)

    r = report.repeats
    assert [(g.appeals, g.contacts, g.repeats) for g in r.outage_groups] == list(
        e.outage_groups)
    assert (r.extra_outage_appeals, r.repeat_messages) == (
        e.extra_outage_appeals, e.repeat_messages)

    assert [(g.key, g.current, g.previous) for g in report.gaps] == list(e.gaps)
    assert (report.gap_total, report.previous_gap_total) == (e.gap_total, e.previous_gap_total)

    assert len(report.overdue) == e.overdue
    # most late first: the meter appeals never answered, then the outage ones 6 h late
    assert [o.category for o in report.overdue] == ["meter"] * 3 + ["outage"] * 4
    assert report.overdue[-1].hours_late == pytest.approx(6)

    recurring = {(x.kind, x.key) for x in report.recurring}
    assert {("category", c) for c in e.recurring_categories} == {
        k for k in recurring if k[0] == "category"}
    assert {("word", w) for w in e.recurring_words} <= recurring
    assert {("gap", g) for g in e.recurring_gaps} == {k for k in recurring if k[0] == "gap"}

    top = {x.lemma: (x.current, x.previous, x.category) for x in report.top_reasons}
    assert report.top_reasons[0].lemma == "свет"
    assert top["свет"] == (12, 5, "outage")
    assert top["счетчик"] == (9, 7, "meter")  # 4 billing («хотя счётчик работает») + 5 meter
    assert top["квитанция"] == (6, 3, "billing")


async def test_report_files(store: Store, tmp_path: Path) -> None:
    await generate_history(store)
    out = tmp_path / "out"
    path = await appeals_report(store, Quarter(2026, 4), out, TZ, AS_OF)

    assert path == out / "report.html"
    for name in ("report.md", "categories.png", "channels.png", "answer_time.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "categories.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = path.read_text(encoding="utf-8")
    assert "IV квартал 2026 г." in page
    assert "data:image/png;base64," in page
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "| Доля ответов в срок | 74,1 % | 88,2 % |" in markdown  # 20/27, 15/17
    assert "![Обращения по темам](categories.png)" in markdown

    with (out / "appeals.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert len(rows) == EXPECTED.total
    assert sum(1 for row in rows if row["on_time"] == "нет") == EXPECTED.overdue
    assert sum(1 for row in rows if row["gap_rules"]) == EXPECTED.gap_total
    with (out / "summary.csv").open(encoding="utf-8-sig", newline="") as handle:
        summary = {(row["section"], row["key"]): row for row in csv.DictReader(
            handle, delimiter=";")}
    assert summary[("total", "")]["2026Q4"] == "31"
    assert summary[("category", "billing")]["2026Q3"] == "6"


async def test_report_of_an_empty_quarter(store: Store, tmp_path: Path) -> None:
    path = await appeals_report(store, Quarter(2026, 1), tmp_path, TZ, AS_OF)
    assert "нет данных" in path.read_text(encoding="utf-8")


def test_cli_report_appeals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from bot.cli import main

    db = tmp_path / "gateway.db"

    async def fill() -> None:
        store = await Store.open(db)
        async with store:
            await generate_history(store)

    asyncio.run(fill())
    config = tmp_path / "settings.toml"
    config.write_text(f'[storage]\npath = "{db.as_posix()}"\n', encoding="utf-8")
    out = tmp_path / "report"
    code = main(["report", "appeals", "--quarter", "2026Q4", "--out", str(out),
                 "--config", str(config)])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(out / "report.html")
    assert (out / "appeals.csv").exists()

    assert main(["report", "appeals", "--quarter", "2026Q7", "--config", str(config)]) == 2
    assert "2026Q4" in capsys.readouterr().err




@pytest.mark.parametrize(
    ("text", "kept", "left_out"),
    [
        # «Основные причины» listed customers' surnames and street names
        ("Иванов Петр Сергеевич просит перерасчёт", {"перерасчет"}, {"иванов", "петр"}),
        ("нет света на ул. Мира 5", {"свет"}, {"мир"}),
        ("нет света на улице Ленина д. 3, отключили", {"свет", "отключить"}, {"ленин"}),
        ("Прошу, Вера Смирнова, перерасчёт", {"перерасчет"}, {"вера", "смирнов", "смирнова"}),
        ("опять отключение в пос. Верхний Мыртыю", {"отключение"}, {"верхний"}),
        # a capital at the start of a sentence is no name
        ("Свет отключили. Счётчик сгорел", {"свет", "счетчик", "сгореть"}, set()),
    ],
)
def test_reasons_leave_out_names_of_people_and_streets(
    text: str, kept: set[str], left_out: set[str]
) -> None:
    found = lemmas(text)
    assert kept <= found
    assert not (left_out & found)
