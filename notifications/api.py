"""Admin HTTP API routes of notifications (docs/interfaces.md §8, §10, §11). `bot/api.py`
calls `add_routes(app)`; bearer-token checking and errors as JSON are its middlewares'.

    POST /api/outages                   §8 fields as JSON → the §8 object
    GET  /api/outages[?active=true]     → {"outages": [...]}, newest first
    POST /api/outages/{N}/restored      → the §8 object of the «power restored» campaign
    POST /api/outages/{N}/cancel        called off → the §8 object of that notice
    POST /api/outages/{N}/extend        {"until": "…"} → the §8 object of the new-time notice
    GET  /api/campaigns                 → {"campaigns": [...]}, newest first, with progress
    POST /api/campaigns/invoices        CSV body → {"campaign", "accepted", "rejected"}
    POST /api/campaigns/debts           CSV body → the same
    GET  /api/campaigns/{N}             → the §10 progress object
    GET  /api/campaigns/{N}/undelivered → CSV of rows without a delivery receipt
    POST /api/campaigns/{N}/cancel      → {"campaign": N, "cancelled": count}

A broadcast above `[notifications] confirm_above` without `"yes": true`, or to nobody
without `"allow_empty": true`, answers 409 with the audience (nothing recorded), as the
CLI exits with status 3. Every body is a pydantic model: what a client sends is checked
field by field (400 naming the field), never a 500.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable
from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field, StrictBool

from bot.api import GATEWAY_KEY
from bot.httpapi import (
    CSV_LIMIT,
    FLAG_SCHEMA,
    ApiError,
    Operation,
    RequestModel,
    Text,
    add_route,
    int_schema,
    path_id,
    query_flag,
    query_int,
    read_body,
    read_model,
)
from notifications.campaigns import (
    MAX_HOUSES,
    MAX_PLACE,
    MAX_REASON,
    TIME_FORMATS,
    BroadcastReport,
    Notifications,
    OutageError,
    OutageRequest,
    OutageStateError,
    parse_local_time,
)
from storage.csvfile import CsvFileError

# ?limit=: default, least, most
_LIMIT = (100, 1, 1000)

# -- models ---------------------------------------------------------------------------

_TIME = f"local time, {TIME_FORMATS}"


class OutageIn(RequestModel):
    """An outage to record and announce (docs/interfaces.md §8)."""

    settlement: Text = Field(min_length=1, max_length=MAX_PLACE)
    street: Text = Field("", max_length=MAX_PLACE)
    houses: Text = Field("", max_length=MAX_HOUSES,
                         description="«1-15,17,21А»; empty or «все»: every house")
    reason: Text = Field(min_length=1, max_length=MAX_REASON)
    start: Text = Field(max_length=40, description=_TIME)
    until: Text = Field(max_length=40, description=f"expected restoration, {_TIME}")
    planned: StrictBool = False
    dry_run: StrictBool = Field(False, description="only report the audience")
    yes: StrictBool = Field(False, description="confirm more than confirm_above recipients")
    allow_empty: StrictBool = Field(False, description="record it even for 0 recipients")


class ExtendIn(RequestModel):
    until: Text = Field(max_length=40, description=f"the new expected restoration, {_TIME}")


class ByChannel(BaseModel):
    sms: int
    telegram: int
    email: int | None = Field(None, description="present when e-mail notices go out")


class BroadcastOut(BaseModel):
    """The §8 object; on a 409 also `error`."""

    campaign: int | None
    outage: int | None
    accounts: int
    recipients: int
    by_channel: ByChannel
    sms_parts: int
    sample: str
    error: str | None = None


class ProgressOut(BaseModel):
    """A campaign's progress (§10): each recipient counted once, in its current state."""

    campaign: int
    kind: str
    recipients: int
    queued: int
    sent: int
    delivered: int
    failed: int
    deferred: int
    cancelled: int
    possible_duplicates: int = Field(
        0, description="recipients who may have got it twice after a crash (not in the sum)"
    )


class CampaignOut(ProgressOut):
    title: str
    status: str
    created_at: str


class CampaignsOut(BaseModel):
    campaigns: list[CampaignOut]


class OutageOut(BaseModel):
    outage: int
    status: Literal["active", "restored", "cancelled"]
    planned: bool
    settlement: str
    street: str
    houses: str
    reason: str
    start: str
    until: str
    ended_at: str | None
    campaign: int | None
    restored_campaign: int | None


class OutagesOut(BaseModel):
    outages: list[OutageOut]


class RejectedOut(BaseModel):
    line: int
    reason: str


class ImportOut(BaseModel):
    campaign: int
    accepted: int
    rejected: list[RejectedOut]
    duplicate_of: int | None = None
    already_sent: int | None = None


class CancelOut(BaseModel):
    campaign: int
    cancelled: int


def add_routes(app: web.Application) -> None:
    """Register the notification routes on the admin API application."""
    not_found = {404: "no such outage"}
    refused = {409: "refused: more than confirm_above without yes, or nobody without "
                    "allow_empty (the body is the §8 object with error; nothing recorded)"}
    limit = {"limit": (int_schema(*_LIMIT), "at most this many, newest first")}
    for op, handler in (
        (Operation("POST", "/api/outages", "record an outage and notify the area",
                   body=OutageIn, response=BroadcastOut, errors=refused,
                   error_models={409: BroadcastOut}), post_outage),
        (Operation("GET", "/api/outages", "outages, newest first", response=OutagesOut,
                   query={**limit, "active": (FLAG_SCHEMA, "only those not restored or "
                                              "cancelled (planned ones not begun included)")}),
         get_outages),
        (Operation("POST", "/api/outages/{outage}/restored", "power is back: close the "
                   "outage, tell the same people", response=BroadcastOut, errors=not_found),
         post_restored),
        (Operation("POST", "/api/outages/{outage}/cancel", "the outage is called off: end "
                   "it, tell those already told", response=BroadcastOut,
                   errors={**not_found, 409: "already restored or cancelled"}), post_called_off),
        (Operation("POST", "/api/outages/{outage}/extend", "the repair runs late: a new "
                   "expected restoration, told to those already told", body=ExtendIn,
                   response=BroadcastOut,
                   errors={**not_found, 409: "already restored or cancelled"}), post_extend),
        (Operation("GET", "/api/campaigns", "campaigns, newest first, with progress",
                   response=CampaignsOut, query=limit), get_campaigns),
        (Operation("POST", "/api/campaigns/invoices", "invoice notices from a billing CSV "
                   "file (the body)", response=ImportOut, body_type="text/csv"), post_invoices),
        (Operation("POST", "/api/campaigns/debts", "debt warnings from a billing CSV file "
                   "(the body)", response=ImportOut, body_type="text/csv"), post_debts),
        (Operation("GET", "/api/campaigns/{campaign}", "a campaign's progress",
                   response=ProgressOut, errors={404: "no such campaign"}), get_campaign),
        (Operation("GET", "/api/campaigns/{campaign}/undelivered", "recipients without a "
                   "delivery receipt, as CSV", response_type="text/csv",
                   errors={404: "no such campaign"}), get_undelivered),
        (Operation("POST", "/api/campaigns/{campaign}/cancel", "stop a campaign's unsent "
                   "messages", response=CancelOut, errors={404: "no such campaign"}),
         post_cancel),
    ):
        add_route(app, op, handler)


def _service(request: web.Request) -> Notifications:
    gateway = request.app[GATEWAY_KEY]
    if gateway.store is None:
        raise ApiError(503, "the store is not open")
    sender = gateway.sender
    return Notifications.from_settings(
        gateway.store, gateway.settings, wake=sender.wake if sender is not None else None
    )


def _outage_error(exc: OutageError) -> ApiError:
    if isinstance(exc, OutageStateError):
        return ApiError(409, str(exc), exc.field)
    return ApiError(400, str(exc), exc.field)


async def post_outage(request: web.Request) -> web.Response:
    data = await read_model(request, OutageIn)
    service = _service(request)
    start, until = _local(service, data.start, "start"), _local(service, data.until, "until")
    outage = OutageRequest(
        settlement=data.settlement, street=data.street, houses=data.houses,
        reason=data.reason, start=start, until=until, planned=data.planned,
    )
    try:
        report = await service.outage(
            outage, dry_run=data.dry_run, yes=data.yes, allow_empty=data.allow_empty
        )
    except OutageError as exc:
        raise _outage_error(exc) from None
    if report.empty:
        raise ApiError(
            409, "no recipient at that address (check the settlement and street); "
            "send again with \"allow_empty\": true to record it anyway", **report.as_json(),
        )
    if report.needs_confirmation:
        raise ApiError(
            409, f"{report.recipients} recipients is more than confirm_above = "
            f"{service.config.confirm_above}; send again with \"yes\": true",
            **report.as_json(),
        )
    return web.json_response(report.as_json())


async def _changed(change: Awaitable[BroadcastReport | None], outage: int) -> web.Response:
    """The §8 object of a restore, cancel or extend; 404 for no such outage, 409 when it
    has ended already."""
    try:
        report = await change
    except OutageError as exc:
        raise _outage_error(exc) from None
    if report is None:
        raise ApiError(404, f"no outage {outage}")
    return web.json_response(report.as_json())


def _local(service: Notifications, text: str, field: str) -> datetime:
    try:
        return parse_local_time(text, service.config.tz)
    except ValueError as exc:
        raise ApiError(400, f"{field}: {exc}", field) from None


async def post_restored(request: web.Request) -> web.Response:
    outage = path_id(request, "outage")
    return await _changed(_service(request).restored(outage), outage)


async def post_called_off(request: web.Request) -> web.Response:
    outage = path_id(request, "outage")
    return await _changed(_service(request).cancel_outage(outage), outage)


async def post_extend(request: web.Request) -> web.Response:
    outage = path_id(request, "outage")
    data = await read_model(request, ExtendIn)
    service = _service(request)
    until = _local(service, data.until, "until")
    return await _changed(service.extend_outage(outage, until), outage)


async def get_outages(request: web.Request) -> web.Response:
    service = _service(request)
    views = await service.outages(
        active_only=query_flag(request, "active"), limit=query_int(request, "limit", *_LIMIT)
    )
    tz = service.config.tz
    return web.json_response({"outages": [v.as_json(tz) for v in views]})


async def get_campaigns(request: web.Request) -> web.Response:
    service = _service(request)
    tz = service.config.tz
    found = await service.campaign_list(limit=query_int(request, "limit", *_LIMIT))
    return web.json_response({"campaigns": [c.as_json(tz) for c in found]})


async def _billing(request: web.Request, kind: str) -> web.Response:
    body = await read_body(request, CSV_LIMIT)
    if not body:
        raise ApiError(400, "the CSV file is the body (Content-Type: text/csv)", "")
    service = _service(request)
    try:
        if kind == "invoices":
            report = await service.import_invoices(body, name=f"api:{kind}")
        else:
            report = await service.import_debts(body, name=f"api:{kind}")
    except CsvFileError as exc:
        raise ApiError(400, str(exc), "") from None
    return web.json_response(report.as_json())


async def post_invoices(request: web.Request) -> web.Response:
    return await _billing(request, "invoices")


async def post_debts(request: web.Request) -> web.Response:
    return await _billing(request, "debts")


async def get_campaign(request: web.Request) -> web.Response:
    campaign = path_id(request, "campaign")
    progress = await _service(request).progress(campaign)
    if progress is None:
        raise ApiError(404, f"no campaign {campaign}")
    return web.json_response(progress.as_json())


async def get_undelivered(request: web.Request) -> web.StreamResponse:
    campaign = path_id(request, "campaign")
    service = _service(request)
    if await service.progress(campaign) is None:
        raise ApiError(404, f"no campaign {campaign}")
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
    campaign = path_id(request, "campaign")
    stopped = await _service(request).cancel(campaign)
    if stopped is None:
        raise ApiError(404, f"no campaign {campaign}")
    return web.json_response({"campaign": campaign, "cancelled": stopped})
