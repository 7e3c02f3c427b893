"""Report pages: the quarterly appeals report and the survey reports, the same files
`gateway report appeals|survey` writes (handlers/quality), served as pages. The report
is written into a temporary directory and its self-contained HTML page (charts inlined
as PNG) is returned; drawing the charts is CPU work, so it runs in a worker thread."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from handlers.quality.quarterly import load_appeals_report
from handlers.quality.render import write_appeals_report, write_survey_report
from handlers.quality.report import Quarter
from handlers.quality.survey_repo import SurveyRepo
from handlers.quality.surveys import SurveyError, survey_results
from staff.web import audit, gateway_of, local_time, render
from storage.db import utcnow


def add_routes(app: web.Application) -> None:
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/reports/appeals", appeals_page)
    app.router.add_get(r"/reports/surveys/{survey:\d+}", survey_page)


def _quarters(count: int, tz: ZoneInfo) -> list[str]:
    quarter = Quarter.of(utcnow(), tz)
    labels = []
    for _ in range(count):
        labels.append(quarter.label)
        quarter = quarter.previous()
    return labels


async def reports_page(request: web.Request) -> web.StreamResponse:
    gateway = gateway_of(request)
    if gateway.store is None:
        raise web.HTTPServiceUnavailable(text="Хранилище недоступно")
    surveys = await SurveyRepo(gateway.store.db).all()
    rows = [{"id": s.id, "title": s.title, "status": s.status,
             "sent": local_time(s.sent_at, request)} for s in surveys]
    tz = gateway.settings.service.tz
    return await render(request, "reports.html", {
        "title": "Отчёты", "quarters": _quarters(6, tz), "surveys": rows, "error": "",
    })


def _read_page(path: Path) -> str:
    return path.read_text(encoding="utf-8")


async def appeals_page(request: web.Request) -> web.StreamResponse:
    gateway = gateway_of(request)
    if gateway.store is None:
        raise web.HTTPServiceUnavailable(text="Хранилище недоступно")
    tz = gateway.settings.service.tz
    try:
        quarter = Quarter.parse(request.query.get("quarter", ""))
    except ValueError:
        return await render(request, "reports.html", {
            "title": "Отчёты", "quarters": _quarters(6, tz), "surveys": [],
            "error": "Квартал в виде 2026Q4.",
        }, status=400)
    report = await load_appeals_report(gateway.store, quarter, tz, utcnow())
    with tempfile.TemporaryDirectory(prefix="staff-report-") as out:
        path = await asyncio.to_thread(write_appeals_report, report, Path(out), tz)
        page = await asyncio.to_thread(_read_page, path)
    await audit(request, "report.appeals", f"quarter:{quarter.label}")
    return web.Response(text=page, content_type="text/html")


async def survey_page(request: web.Request) -> web.StreamResponse:
    gateway = gateway_of(request)
    if gateway.store is None:
        raise web.HTTPServiceUnavailable(text="Хранилище недоступно")
    survey = int(request.match_info["survey"])
    try:
        results = await survey_results(gateway.store, survey)
    except SurveyError as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    tz = gateway.settings.service.tz
    with tempfile.TemporaryDirectory(prefix="staff-survey-") as out:
        path = await asyncio.to_thread(write_survey_report, results, Path(out), tz)
        page = await asyncio.to_thread(_read_page, path)
    await audit(request, "report.survey", f"survey:{survey}")
    return web.Response(text=page, content_type="text/html")
