"""Outage pages: the broadcast form, its audience preview, sending, the list of active
outages with «восстановлено». The same use cases as `gateway broadcast outage` and
`gateway outage restored` (`notifications.campaigns.Notifications`).

The preview is the dry run: nothing is recorded until the person, having seen the
houses, the recipients per channel, the SMS parts and the text, presses «Отправить». The
confirmation of §8 (`confirm_above`) is that press: the preview showed the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from notifications.campaigns import (
    MAX_HOUSES,
    MAX_PLACE,
    MAX_REASON,
    BroadcastReport,
    Notifications,
    OutageError,
    OutageRequest,
    OutageStateError,
    parse_local_time,
)
from staff.web import PREFIX, audit, gateway_of, local_time, render, supervisor_only
from storage.db import utcnow

FIELDS = ("settlement", "street", "houses", "reason", "start", "until")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/outages", outages_page)
    app.router.add_post("/outages/preview", outage_preview)
    app.router.add_post("/outages/edit", outage_edit)
    app.router.add_post("/outages", outage_send)
    app.router.add_post(r"/outages/{outage:\d+}/restored", outage_restored)
    app.router.add_post(r"/outages/{outage:\d+}/extend", outage_extend)
    app.router.add_post(r"/outages/{outage:\d+}/cancel", outage_cancel)


def notifications(request: web.Request) -> Notifications:
    gateway = gateway_of(request)
    if gateway.store is None:
        raise web.HTTPServiceUnavailable(text="Хранилище недоступно")
    sender = gateway.sender
    return Notifications.from_settings(
        gateway.store, gateway.settings, wake=sender.wake if sender is not None else None
    )


@dataclass(frozen=True, slots=True)
class OutageForm:
    """The form as typed (shown back on an error) and, when valid, the request."""

    values: dict[str, str]
    request: OutageRequest | None
    error: str


_LABELS = {
    "settlement": "Населённый пункт", "street": "Улица", "houses": "Дома",
    "reason": "Причина", "start": "Начало", "until": "Окончание",
}


def read_form(form: Any, service: Notifications) -> OutageForm:
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    values["planned"] = "1" if form.get("planned") else ""
    for name in ("settlement", "reason", "start", "until"):
        if not values[name]:
            return OutageForm(values, None, f"{_LABELS[name]}: обязательное поле.")
    for name, limit in (("reason", MAX_REASON), ("houses", MAX_HOUSES),
                        ("settlement", MAX_PLACE), ("street", MAX_PLACE)):
        if len(values[name]) > limit:
            return OutageForm(values, None, f"{_LABELS[name]}: не длиннее {limit} символов.")
    tz = service.config.tz
    times = {}
    for name in ("start", "until"):
        # <input type="datetime-local"> sends «2026-11-26T10:00»; typed by hand, a space.
        try:
            times[name] = parse_local_time(values[name].replace("T", " "), tz)
        except ValueError:
            return OutageForm(
                values, None, f"{_LABELS[name]}: время в виде «2026-11-26 10:00»."
            )
    if times["until"] <= times["start"]:
        return OutageForm(values, None, "Окончание должно быть позже начала.")
    request = OutageRequest(
        settlement=values["settlement"], street=values["street"], houses=values["houses"],
        reason=values["reason"], start=times["start"], until=times["until"],
        planned=bool(values["planned"]),
    )
    return OutageForm(values, request, "")


async def _page(
    request: web.Request, values: dict[str, str] | None = None, error: str = "",
    status: int = 200, list_error: str = "",
) -> web.Response:
    """The outages not over yet (active and planned), newest first, and the form;
    `error` belongs to the form, `list_error` to an action on a listed outage."""
    now, tz = utcnow(), gateway_of(request).settings.service.tz
    rows = [
        {"id": o.id, "where": ", ".join(p for p in (o.settlement, o.street, o.houses) if p),
         "reason": o.reason, "start": local_time(o.start_at, request),
         "until": local_time(o.until_at, request), "planned": o.planned,
         "begun": o.start_at <= now, "campaign": o.campaign_id,
         "until_value": f"{o.until_at.astimezone(tz):%Y-%m-%d %H:%M}"}
        for o in (v.outage for v in await notifications(request).outages(active_only=True))
    ]
    return await render(request, "outages.html", {
        "title": "Отключения", "outages": rows, "error": error, "list_error": list_error,
        "form": {name: "" for name in (*FIELDS, "planned")} | (values or {}),
    }, status=status)


async def outages_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


async def _submitted(
    request: web.Request, *, dry_run: bool
) -> tuple[Notifications, OutageForm, BroadcastReport] | web.Response:
    """The posted form run through the use case: a dry run for the preview, the broadcast
    itself after it; an invalid form comes back as the page with its error."""
    service = notifications(request)
    form = read_form(await request.post(), service)
    if form.request is None:
        return await _page(request, form.values, form.error, status=400)
    try:
        # Sending follows the preview, which showed the count: that is the confirmation.
        report = await service.outage(form.request, dry_run=dry_run, yes=True)
    except OutageError as exc:
        return await _page(request, form.values, str(exc), status=400)
    if report.empty and not dry_run:
        return await _page(request, form.values, "Ни один дом не подошёл: рассылка не "
                           "создана. Проверьте адрес.", status=409)
    return service, form, report


async def outage_preview(request: web.Request) -> web.StreamResponse:
    done = await _submitted(request, dry_run=True)
    if isinstance(done, web.Response):
        return done
    service, form, report = done
    assert form.request is not None
    houses = await service.outage_addresses(form.request)
    return await render(request, "outage_preview.html", {
        "title": "Проверка рассылки", "form": form.values, "report": report,
        "houses": houses, "full_text": service.outage_text(form.request),
        "start": local_time(form.request.start, request),
        "until": local_time(form.request.until, request),
    })


async def outage_edit(request: web.Request) -> web.StreamResponse:
    """Back from the preview to the form, filled in as it was."""
    form = await request.post()
    values = {name: str(form.get(name, "")) for name in (*FIELDS, "planned")}
    return await _page(request, values)


async def outage_send(request: web.Request) -> web.StreamResponse:
    done = await _submitted(request, dry_run=False)
    if isinstance(done, web.Response):
        return done
    _, _, report = done
    await audit(request, "outage.broadcast", f"outage:{report.outage}",
                {"campaign": report.campaign, "recipients": report.recipients})
    if report.campaign is None:
        raise web.HTTPSeeOther(f"{PREFIX}/outages")
    raise web.HTTPSeeOther(f"{PREFIX}/campaigns/{report.campaign}")


async def outage_restored(request: web.Request) -> web.StreamResponse:
    """«восстановлено»: the outage closes and the same people hear the power is back."""
    outage = int(request.match_info["outage"])
    report = await notifications(request).restored(outage)
    return await _after(request, report, outage, "outage.restored")


async def _after(request: web.Request, report: BroadcastReport | None, outage: int,
                 action: str) -> web.StreamResponse:
    if report is None:
        raise web.HTTPNotFound(text=f"Нет отключения № {outage}")
    await audit(request, action, f"outage:{outage}", {"campaign": report.campaign})
    if report.campaign is None:
        raise web.HTTPSeeOther(f"{PREFIX}/outages")
    raise web.HTTPSeeOther(f"{PREFIX}/campaigns/{report.campaign}")


_STATES = {"restored": "уже восстановлено", "cancelled": "уже отменено"}


def _state_error(outage: int, exc: OutageStateError) -> str:
    return f"№ {outage} {_STATES.get(exc.status, exc.status)}."


async def outage_extend(request: web.Request) -> web.StreamResponse:
    """«продлить до…»: those already told get the new time."""
    outage = int(request.match_info["outage"])
    service = notifications(request)
    raw = str((await request.post()).get("until", "")).strip().replace("T", " ")
    try:
        until = parse_local_time(raw, service.config.tz)
    except ValueError:
        return await _page(request, list_error=f"№ {outage}: новое время в виде «2026-11-26 "
                           "18:00».", status=400)
    try:
        report = await service.extend_outage(outage, until)
    except OutageStateError as exc:
        return await _page(request, list_error=_state_error(outage, exc), status=409)
    except OutageError as exc:
        return await _page(request, list_error=f"№ {outage}: {_time_error(str(exc))}", status=400)
    return await _after(request, report, outage, "outage.extend")


def _time_error(message: str) -> str:
    if "past" in message or "after" in message:
        return "новое время должно быть позже начала и ещё не наступить."
    return message


@supervisor_only
async def outage_cancel(request: web.Request) -> web.StreamResponse:
    """«отменить» (called off): those already told hear it is called off."""
    outage = int(request.match_info["outage"])
    try:
        report = await notifications(request).cancel_outage(outage)
    except OutageStateError as exc:
        return await _page(request, list_error=_state_error(outage, exc), status=409)
    return await _after(request, report, outage, "outage.cancel")
