"""Admin HTTP API routes of notifications (contracts.md §11). `bot/api.py` calls
`add_routes(app)`; bearer-token checking is its middleware's job.

    POST /api/outages                  §8 fields as JSON → the §8 object
    POST /api/outages/{N}/restored     → the §8 object of the «power restored» campaign
    POST /api/campaigns/invoices       CSV body → {"campaign", "accepted", "rejected"}
    POST /api/campaigns/debts          CSV body → the same
    GET  /api/campaigns/{N}            → the §10 progress object
    GET  /api/campaigns/{N}/undelivered → CSV of rows without a delivery receipt
    POST /api/campaigns/{N}/cancel     → {"campaign": N, "cancelled": count}

A broadcast above `[notifications] confirm_above` without `"yes": true` answers 409 with
the audience (nothing recorded), as `--json` without `--yes` exits with status 3.

Only this module of `notifications` imports `bot.api`: the gateway object lives under
its application key.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web

from bot.api import GATEWAY_KEY, json_error
from notifications.campaigns import (
    Notifications,
    OutageError,
    OutageRequest,
    parse_local_time,
)
from storage.csvfile import CsvFileError


def add_routes(app: web.Application) -> None:
    """Register the notification routes on the admin API application."""
    app.router.add_post("/api/outages", post_outage)
    app.router.add_post(r"/api/outages/{outage:\d+}/restored", post_restored)
    app.router.add_post("/api/campaigns/invoices", post_invoices)
    app.router.add_post("/api/campaigns/debts", post_debts)
    app.router.add_get(r"/api/campaigns/{campaign:\d+}", get_campaign)
    app.router.add_get(r"/api/campaigns/{campaign:\d+}/undelivered", get_undelivered)
    app.router.add_post(r"/api/campaigns/{campaign:\d+}/cancel", post_cancel)


def _service(request: web.Request) -> Notifications:
    gateway = request.app[GATEWAY_KEY]
    if gateway.store is None:
        raise web.HTTPServiceUnavailable(text="store is not open")
    sender = gateway.sender
    return Notifications.from_settings(
        gateway.store, gateway.settings, wake=sender.wake if sender is not None else None
    )


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise OutageError(f"{key}: must be a string")
    return value


def _flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise OutageError(f"{key}: must be true or false")
    return value


async def post_outage(request: web.Request) -> web.Response:
    try:
        data = await request.json()
    except ValueError:
        return json_error(400, "body must be JSON")
    if not isinstance(data, dict):
        return json_error(400, "body must be a JSON object")
    service = _service(request)
    tz = service.config.tz
    try:
        for key in ("settlement", "reason", "start", "until"):
            if not _text(data, key).strip():
                raise OutageError(f"{key}: required")
        try:
            start = parse_local_time(_text(data, "start"), tz)
            until = parse_local_time(_text(data, "until"), tz)
        except ValueError as exc:
            raise OutageError(f"start/until: {exc}") from None
        request_ = OutageRequest(
            settlement=_text(data, "settlement"),
            street=_text(data, "street"),
            houses=_text(data, "houses"),
            reason=_text(data, "reason"),
            start=start,
            until=until,
            planned=_flag(data, "planned"),
        )
        report = await service.outage(
            request_, dry_run=_flag(data, "dry_run"), yes=_flag(data, "yes")
        )
    except OutageError as exc:
        return json_error(400, str(exc))
    if report.needs_confirmation:
        body = report.as_json()
        body["error"] = (
            f"{report.recipients} recipients is more than confirm_above = "
            f"{service.config.confirm_above}; send again with \"yes\": true"
        )
        return web.json_response(body, status=409)
    return web.json_response(report.as_json())


async def post_restored(request: web.Request) -> web.Response:
    outage = int(request.match_info["outage"])
    report = await _service(request).restored(outage)
    if report is None:
        return json_error(404, f"no outage {outage}")
    return web.json_response(report.as_json())


async def _billing(request: web.Request, kind: str) -> web.Response:
    body = await request.read()
    if not body:
        return json_error(400, "the CSV file is the body (Content-Type: text/csv)")
    service = _service(request)
    try:
        if kind == "invoices":
            report = await service.import_invoices(body, name=f"api:{kind}")
        else:
            report = await service.import_debts(body, name=f"api:{kind}")
    except CsvFileError as exc:
        return json_error(400, str(exc))
    return web.json_response(report.as_json())


async def post_invoices(request: web.Request) -> web.Response:
    return await _billing(request, "invoices")


async def post_debts(request: web.Request) -> web.Response:
    return await _billing(request, "debts")


async def get_campaign(request: web.Request) -> web.Response:
    campaign = int(request.match_info["campaign"])
    progress = await _service(request).progress(campaign)
    if progress is None:
        return json_error(404, f"no campaign {campaign}")
    return web.json_response(progress.as_json())


async def get_undelivered(request: web.Request) -> web.StreamResponse:
    campaign = int(request.match_info["campaign"])
    service = _service(request)
    if await service.progress(campaign) is None:
        return json_error(404, f"no campaign {campaign}")
    response = web.StreamResponse(headers={"Content-Type": "text/csv; charset=utf-8"})
    await response.prepare(request)
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(["account", "phone", "channel", "status", "sent_at", "error"])
    async for row in service.undelivered(campaign):
        out.writerow([
            row.account, row.phone, row.channel, row.status,
            row.sent_at.isoformat() if row.sent_at else "", row.error,
        ])
        if buffer.tell() > 64_000:
            await response.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response


async def post_cancel(request: web.Request) -> web.Response:
    campaign = int(request.match_info["campaign"])
    stopped = await _service(request).cancel(campaign)
    if stopped is None:
        return json_error(404, f"no campaign {campaign}")
    return web.json_response({"campaign": campaign, "cancelled": stopped})
