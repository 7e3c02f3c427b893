"""Reports as files for staff: Markdown and a self-contained HTML page (charts as PNG,
drawn with matplotlib's Agg canvas, no display), and CSV for further work.

One `Document` of blocks renders to both Markdown and HTML, so the two never disagree.
CSV files are UTF-8 with a BOM and `;` between fields: what a spreadsheet in a Russian
locale opens correctly with a double click.
"""

from __future__ import annotations

import base64
import csv
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from handlers.quality.report import (
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    DEFINITIONS,
    AppealsReport,
    CountRow,
    ServiceLevel,
)
from handlers.quality.surveys import SCALE_LABELS, SEGMENT_LABELS, SurveyResults

# -- formatting ----------------------------------------------------------------------


def number(value: float | None, digits: int = 1) -> str:
    """A number the Russian way (decimal comma); «—» for none."""
    if value is None:
        return "—"
    return f"{value:.{digits}f}".replace(".", ",")


def percent(share: float | None) -> str:
    return "—" if share is None else f"{number(100 * share)} %"


def local(moment: datetime | None, tz: ZoneInfo) -> str:
    return "—" if moment is None else moment.astimezone(tz).strftime("%d.%m.%Y %H:%M")


def delta(row: CountRow) -> str:
    sign = "+" if row.delta > 0 else ""
    pct = row.delta_pct
    return f"{sign}{row.delta}" + ("" if pct is None else f" ({sign}{number(pct)} %)")


# -- a document that renders to Markdown and HTML ------------------------------------


@dataclass
class Document:
    """Blocks of a report: headings, paragraphs, tables, images."""

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", (level, text)))

    def para(self, text: str) -> None:
        self.blocks.append(("p", text))

    def bullets(self, items: Iterable[str]) -> None:
        self.blocks.append(("ul", list(items)))

    def table(self, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        self.blocks.append(("table", (list(header), [[str(c) for c in r] for r in rows])))

    def image(self, path: Path, alt: str) -> None:
        self.blocks.append(("img", (path, alt)))

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "h":
                out += ["#" * value[0] + " " + value[1], ""]
            elif kind == "p":
                out += [value, ""]
            elif kind == "ul":
                out += [f"- {item}" for item in value] + [""]
            elif kind == "table":
                header, rows = value
                if not rows:
                    out += ["_нет данных_", ""]
                    continue
                out.append("| " + " | ".join(header) + " |")
                out.append("|" + "|".join("---" for _ in header) + "|")
                out += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows]
                out.append("")
            elif kind == "img":
                path, alt = value
                out += [f"![{alt}]({path.name})", ""]
        return "\n".join(out)

    def html(self) -> str:
        esc = html.escape
        out = [
            "<!DOCTYPE html>",
            '<html lang="ru"><head><meta charset="utf-8">',
            f"<title>{esc(self.title)}</title>",
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse;margin:.5em 0 1.5em}"
            "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
            "td{font-variant-numeric:tabular-nums}th{background:#f3f3f3}"
            "img{max-width:100%}</style></head><body>",
            f"<h1>{esc(self.title)}</h1>",
        ]
        for kind, value in self.blocks:
            if kind == "h":
                out.append(f"<h{value[0]}>{esc(value[1])}</h{value[0]}>")
            elif kind == "p":
                out.append(f"<p>{esc(value)}</p>")
            elif kind == "ul":
                out.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in value) + "</ul>")
            elif kind == "table":
                header, rows = value
                if not rows:
                    out.append("<p><em>нет данных</em></p>")
                    continue
                out.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
                out += [
                    "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows
                ]
                out.append("</table>")
            elif kind == "img":
                path, alt = value
                # Embedded, so that the page is one file staff can mail on.
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                out.append(f'<p><img alt="{esc(alt)}" src="data:image/png;base64,{data}"></p>')
        out.append("</body></html>")
        return "\n".join(out)

    def write(self, out_dir: Path, stem: str = "report") -> Path:
        """Write `<stem>.md` and `<stem>.html`; returns the HTML path."""
        (out_dir / f"{stem}.md").write_text(self.markdown(), encoding="utf-8")
        target = out_dir / f"{stem}.html"
        target.write_text(self.html(), encoding="utf-8")
        return target


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A CSV file for spreadsheets in a Russian locale (BOM, `;`)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        writer.writerows(["" if c is None else c for c in row] for row in rows)


# -- charts --------------------------------------------------------------------------


def _figure(height: float) -> Figure:
    # Figure + FigureCanvasAgg, not pyplot: no global state, no display, thread-safe.
    fig = Figure(figsize=(8, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def chart_compare(
    path: Path,
    title: str,
    labels: Sequence[str],
    current: Sequence[float],
    previous: Sequence[float],
    *,
    legend: tuple[str, str],
) -> Path:
    """Horizontal bars, this period against the previous one."""
    fig = _figure(max(2.5, 0.5 * len(labels) + 1.2))
    ax = fig.add_subplot()
    ys = range(len(labels))
    ax.barh([y + 0.2 for y in ys], previous, height=0.4, label=legend[1], color="#b0b7c3")
    ax.barh([y - 0.2 for y in ys], current, height=0.4, label=legend[0], color="#2b6cb0")
    ax.set_yticks(list(ys), list(labels))
    ax.invert_yaxis()
    ax.set_title(title)
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.savefig(path)
    return path


def chart_bars(
    path: Path, title: str, labels: Sequence[str], values: Sequence[float], xmax: float | None
) -> Path:
    """Horizontal bars of one series (scores, shares)."""
    fig = _figure(max(2.5, 0.45 * len(labels) + 1.2))
    ax = fig.add_subplot()
    ys = list(range(len(labels)))
    ax.barh(ys, values, height=0.6, color="#2b6cb0")
    ax.set_yticks(ys, list(labels))
    ax.invert_yaxis()
    if xmax is not None:
        ax.set_xlim(0, xmax)
    for y, value in zip(ys, values, strict=True):
        ax.text(value, y, f" {number(value)}", va="center")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.savefig(path)
    return path


def chart_histogram(path: Path, title: str, values: Sequence[float], xlabel: str) -> Path:
    """A histogram (time to answer)."""
    fig = _figure(3.2)
    ax = fig.add_subplot()
    if values:
        ax.hist(values, bins=min(20, max(5, len(values) // 5)), color="#2b6cb0")
    else:
        ax.text(0.5, 0.5, "нет данных", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", alpha=0.3)
    fig.savefig(path)
    return path


# -- the appeals report --------------------------------------------------------------


def _count_table(doc: Document, name: str, rows: Sequence[CountRow], cur: str, prev: str) -> None:
    doc.table([name, cur, prev, "Изменение"], [[r.label, r.current, r.previous, delta(r)]
                                               for r in rows])


def _service_rows(now: ServiceLevel, before: ServiceLevel) -> list[list[str]]:
    def pair(label: str, a: object, b: object) -> list[str]:
        return [label, str(a), str(b)]

    return [
        pair("Доля ответов в срок", percent(now.share_on_time), percent(before.share_on_time)),
        pair("База (отвечено + просрочено без ответа)", now.base, before.base),
        pair("Отвечено в срок", now.on_time, before.on_time),
        pair("Отвечено с опозданием", now.answered_late, before.answered_late),
        pair("Без ответа, срок прошёл", now.open_overdue, before.open_overdue),
        pair("В работе, срок не наступил", now.open_not_due, before.open_not_due),
        pair("Закрыто без ответа сотрудника (известная авария)", now.closed_without_answer,
             before.closed_without_answer),
        pair("Медиана времени ответа, ч", number(now.median_hours), number(before.median_hours)),
    ]


def write_appeals_report(report: AppealsReport, out_dir: Path, tz: ZoneInfo) -> Path:
    """Write the quarterly appeals report into `out_dir` (created if missing):
    report.md, report.html, PNG charts, appeals.csv (one row per appeal) and
    summary.csv (the tables). Returns the HTML report's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    q, p = report.quarter, report.previous_quarter
    cur, prev = q.label, p.label
    doc = Document(f"Анализ обращений: {q.title}")
    last_day = q.end(tz) - timedelta(days=1)
    doc.para(
        f"Период: {q.start(tz):%d.%m.%Y} — {last_day:%d.%m.%Y} (время {tz.key}); "
        f"сравнение с периодом «{p.title}». Состояние на {local(report.as_of, tz)}."
    )

    doc.heading("Итоги")
    total = CountRow("total", "Всего обращений", report.total, report.previous_total)
    summary: list[list[Any]] = [
        [total.label, total.current, total.previous, delta(total)],
        ["Доля ответов в срок", percent(report.service.share_on_time),
         percent(report.previous_service.share_on_time), ""],
        ["Медиана времени ответа, ч", number(report.service.median_hours),
         number(report.previous_service.median_hours), ""],
        ["Повторы по одному событию", report.repeats.total, report.previous_repeats.total, ""],
        ["Расхождение ожиданий и результата", report.gap_total, report.previous_gap_total, ""],
    ]
    doc.table(["Показатель", cur, prev, "Изменение"], summary)

    doc.heading("Обращения по темам")
    _count_table(doc, "Тема", report.by_category, cur, prev)
    doc.image(
        chart_compare(
            out_dir / "categories.png", "Обращения по темам",
            [r.label for r in report.by_category], [r.current for r in report.by_category],
            [r.previous for r in report.by_category], legend=(cur, prev),
        ),
        "Обращения по темам",
    )
    doc.heading("Обращения по каналам")
    _count_table(doc, "Канал", report.by_channel, cur, prev)
    doc.image(
        chart_compare(
            out_dir / "channels.png", "Обращения по каналам",
            [r.label for r in report.by_channel], [r.current for r in report.by_channel],
            [r.previous for r in report.by_channel], legend=(cur, prev),
        ),
        "Обращения по каналам",
    )

    doc.heading("Основные причины")
    doc.para(
        "Частые слова текстов обращений (в начальной форме; обращение считается один раз "
        "на слово), с темой, в которой слово встречается чаще всего."
    )
    doc.table(
        ["Слово", "Тема", cur, prev],
        [[r.lemma, CATEGORY_LABELS.get(r.category, r.category), r.current, r.previous]
         for r in report.top_reasons],
    )
    doc.table(
        ["Тема", "Частые слова"],
        [[CATEGORY_LABELS.get(c, c), ", ".join(f"{r.lemma} ({r.current})" for r in reasons)]
         for c, reasons in report.reasons_by_category.items()],
    )

    doc.heading("Повторы по одному событию")
    r, rp = report.repeats, report.previous_repeats
    doc.table(
        ["Показатель", cur, prev],
        [
            ["Обращений, связанных с авариями", r.linked_appeals, rp.linked_appeals],
            ["Аварий с обращениями", len(r.outage_groups), len(rp.outage_groups)],
            ["Обращений по аварии сверх первого", r.extra_outage_appeals,
             rp.extra_outage_appeals],
            ["Обращений с повторными сообщениями", r.appeals_with_repeats,
             rp.appeals_with_repeats],
            ["Повторных сообщений в открытых обращениях", r.repeat_messages, rp.repeat_messages],
        ],
    )
    doc.table(
        ["Авария №", "Обращений", "Клиентов", "Повторных сообщений"],
        [[g.outage_id, g.appeals, g.contacts, g.repeats] for g in r.outage_groups[:10]],
    )

    doc.heading("Расхождение ожиданий и результата")
    doc.para(
        f"Обращений: {report.gap_total} из {report.total} ({percent(report.gap_share)}). "
        "Одно обращение может подпадать под несколько правил."
    )
    _count_table(doc, "Правило", report.gaps, cur, prev)

    doc.heading("Повторяющиеся ошибки компании")
    doc.para(
        f"Причины, встречающиеся не реже {report.recurring_min} раз и в этом, и в прошлом "
        "квартале."
    )
    kinds = {"category": "тема", "word": "слово", "gap": "расхождение"}
    doc.table(
        ["Причина", "Вид", cur, prev],
        [[x.label, kinds[x.kind], x.current, x.previous] for x in report.recurring],
    )

    doc.heading("Соблюдение сроков")
    doc.table(["Показатель", cur, prev], _service_rows(report.service, report.previous_service))
    hours = [line.hours_to_answer for line in report.lines if line.hours_to_answer is not None]
    doc.image(
        chart_histogram(out_dir / "answer_time.png", "Время ответа", hours, "часы"),
        "Время ответа",
    )
    doc.heading("Просроченные обращения", 3)
    doc.table(
        ["№", "Тема", "Канал", "Поступило", "Срок", "Ответ", "Просрочка, ч"],
        [
            [o.appeal_id, CATEGORY_LABELS.get(o.category, o.category),
             CHANNEL_LABELS.get(o.channel, o.channel), local(o.created_at, tz),
             local(o.due_at, tz), local(o.answered_at, tz) if o.answered_at else "нет ответа",
             number(o.hours_late)]
            for o in report.overdue
        ],
    )

    doc.heading("Определения")
    doc.bullets(f"{name}: {text}" for name, text in DEFINITIONS)
    doc.para("Файлы для дальнейшей работы: appeals.csv (по обращению в строке), summary.csv.")

    write_csv(
        out_dir / "appeals.csv",
        ["id", "created_at", "channel", "category", "status", "due_at", "answered_at",
         "hours_to_answer", "on_time", "repeats", "outage_id", "gap_rules"],
        (
            [
                line.appeal.id, local(line.appeal.created_at, tz), line.appeal.channel,
                line.appeal.category, line.appeal.status, local(line.appeal.due_at, tz),
                local(line.appeal.answered_at, tz) if line.appeal.answered_at else None,
                number(line.hours_to_answer, 2) if line.hours_to_answer is not None else None,
                {True: "да", False: "нет", None: None}[line.on_time], line.appeal.repeats,
                line.appeal.outage_id, ",".join(line.gap_rules),
            ]
            for line in report.lines
        ),
    )
    summary_rows: list[list[Any]] = [["total", "", report.total, report.previous_total]]
    summary_rows += [["category", x.key, x.current, x.previous] for x in report.by_category]
    summary_rows += [["channel", x.key, x.current, x.previous] for x in report.by_channel]
    summary_rows += [["gap", x.key, x.current, x.previous] for x in report.gaps]
    summary_rows += [["reason", x.lemma, x.current, x.previous] for x in report.top_reasons]
    summary_rows += [
        ["service", "on_time", report.service.on_time, report.previous_service.on_time],
        ["service", "base", report.service.base, report.previous_service.base],
        ["service", "median_hours", number(report.service.median_hours, 2),
         number(report.previous_service.median_hours, 2)],
        ["repeats", "extra_outage_appeals", r.extra_outage_appeals, rp.extra_outage_appeals],
        ["repeats", "repeat_messages", r.repeat_messages, rp.repeat_messages],
    ]
    write_csv(out_dir / "summary.csv", ["section", "key", cur, prev], summary_rows)
    return doc.write(out_dir)



# -- the survey report ---------------------------------------------------------------


def write_survey_report(results: SurveyResults, out_dir: Path, tz: ZoneInfo) -> Path:
    """Write a survey's report into `out_dir`: report.md, report.html, charts (response
    rate and mean scores per group), summary.csv (per question) and answers.csv (one
    row per answer, without phone numbers). Returns the HTML report's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    survey = results.survey
    doc = Document(f"Опрос №{survey.id}: {survey.title}")
    state = {"draft": "не отправлен", "sent": "идёт", "closed": "закрыт"}[survey.status]
    doc.para(
        f"Статус: {state}. Отправлен: {local(survey.sent_at, tz)}; ответы принимаются до "
        f"{local(survey.closes_at, tz)}. Опрошено: {results.total_recipients}, ответили: "
        f"{results.total_responded}."
    )

    doc.heading("Отклик по группам")
    doc.table(
        ["Группа", "Опрошено", "Ответили", "Отклик", "Ответили на все вопросы"],
        [
            [SEGMENT_LABELS[g.segment], g.recipients, g.responded, percent(g.response_rate),
             f"{g.completed} ({percent(g.completion_rate)})"]
            for g in results.groups
        ],
    )
    doc.table(
        ["Канал", "Опрошено", "Ответили", "Отклик"],
        [
            [CHANNEL_LABELS.get(ch, ch), asked, answered,
             percent(answered / asked if asked else None)]
            for ch, (asked, answered) in sorted(results.by_channel.items())
        ],
    )
    if results.groups:
        doc.image(
            chart_bars(
                out_dir / "response.png", "Отклик, %",
                [SEGMENT_LABELS[g.segment] for g in results.groups],
                [100 * (g.response_rate or 0) for g in results.groups], 100,
            ),
            "Отклик по группам",
        )

    for group in results.groups:
        doc.heading(f"{SEGMENT_LABELS[group.segment]}: ответы")
        doc.table(
            ["№", "Вопрос", "Шкала", "Ответов", "Средняя оценка / доля «да»", "Распределение"],
            [
                [
                    q.question.position + 1, q.question.text, SCALE_LABELS[q.question.scale],
                    q.answers,
                    number(q.mean) if q.question.scale == "score" else percent(q.yes_share),
                    ", ".join(
                        f"{_value_label(k, q.question.scale)}: {n}"
                        for k, n in q.distribution.items()
                    ),
                ]
                for q in group.questions
            ],
        )
        scores = [q for q in group.questions if q.question.scale == "score"]
        if scores:
            doc.image(
                chart_bars(
                    out_dir / f"scores_{group.segment}.png",
                    f"{SEGMENT_LABELS[group.segment]}: средняя оценка (1–5)",
                    [f"{q.question.position + 1}. {_short(q.question.text)}" for q in scores],
                    [q.mean or 0 for q in scores], 5,
                ),
                f"Средние оценки: {SEGMENT_LABELS[group.segment]}",
            )
    doc.heading("Как считается")
    doc.bullets(
        [
            "Опрошено: люди (номер телефона вместе с привязанными пользователями Telegram), "
            "которым отправлен первый вопрос; отказавшиеся от рассылок (СТОП) не опрашиваются.",
            "Ответили: дали ответ хотя бы на один вопрос. Отклик = ответили / опрошено.",
            "Средняя оценка: по ответам на вопрос по шкале 1–5; доля «да»: по ответам да/нет.",
        ]
    )

    write_csv(
        out_dir / "summary.csv",
        ["segment", "position", "question", "scale", "recipients", "responded", "answers",
         "mean", "yes_share", "1", "2", "3", "4", "5"],
        (
            [
                g.segment, q.question.position + 1, q.question.text, q.question.scale,
                g.recipients, g.responded, q.answers, number(q.mean, 2) if q.mean else None,
                number(q.yes_share, 3) if q.yes_share is not None else None,
                *[q.distribution.get(k) if q.question.scale == "score" else None
                  for k in range(1, 6)],
            ]
            for g in results.groups
            for q in g.questions
        ),
    )
    recipients = {r.id: r for r in results.recipients}
    write_csv(
        out_dir / "answers.csv",
        ["recipient", "segment", "channel", "question_id", "value", "answered_at"],
        (
            [a.recipient_id, recipients[a.recipient_id].segment,
             recipients[a.recipient_id].channel, a.question_id, a.value,
             local(a.answered_at, tz)]
            for a in results.answers
        ),
    )
    return doc.write(out_dir)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value_label(value: int, scale: str) -> str:
    if scale == "yesno":
        return "да" if value == 1 else "нет"
    return str(value)
