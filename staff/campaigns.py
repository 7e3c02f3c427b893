"""Campaign pages: progress with a bar chart, refreshed while messages are on their way;
the undelivered list as CSV (for paper notices); cancel (supervisors). The same use
cases as `gateway campaigns show` and `gateway broadcast cancel`."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from aiohttp import web

from staff.outages import notifications
from staff.web import PREFIX, audit, local_time, render, supervisor_only
from storage.campaigns import Progress

# (state, label, colour) in the order a message goes through them.
STATES = (
    ("queued", "в очереди", "#8a8f98"),
    ("deferred", "отложено", "#b7791f"),
    ("sent", "отправлено", "#3182ce"),
    ("delivered", "доставлено", "#2f855a"),
    ("failed", "не доставлено", "#c53030"),
    ("cancelled", "отменено", "#4a5568"),
)
REFRESH_SECONDS = 5
KIND_LABELS = {
    "outage": "отключение", "restored": "свет дали", "invoice": "счета", "debt": "долги",
    "reminder": "напоминание о показаниях", "survey": "опрос", "answer": "ответ",
}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/campaigns", campaigns_page)
    app.router.add_get(r"/campaigns/{campaign:\d+}", campaign_page)
    app.router.add_get(r"/campaigns/{campaign:\d+}/undelivered.csv", undelivered_csv)
    app.router.add_post(r"/campaigns/{campaign:\d+}/cancel", campaign_cancel)


@dataclass(frozen=True, slots=True)
class Bar:
    state: str
    label: str
    colour: str
    count: int
    y: int
    width: float


def bars(progress: Progress, width: int = 300, row: int = 24) -> list[Bar]:
    """Horizontal bars of the states, scaled to the recipients (pure: the template
    draws them as inline SVG)."""
    total = max(progress.recipients, 1)
    return [
        Bar(state, label, colour, progress.counts.get(state, 0), i * row,
            round(width * progress.counts.get(state, 0) / total, 1))
        for i, (state, label, colour) in enumerate(STATES)
    ]


async def _list(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    """Campaigns newest first with their progress (`gateway campaigns list`)."""
    rows = [
        {"id": c.campaign.id, "kind": KIND_LABELS.get(c.campaign.kind, c.campaign.kind),
         "title": c.campaign.title, "created": local_time(c.campaign.created_at, request),
         "recipients": c.progress.recipients,
         "delivered": c.progress.counts.get("delivered", 0),
         "failed": c.progress.counts.get("failed", 0),
         "waiting": c.progress.counts.get("queued", 0) + c.progress.counts.get("deferred", 0),
         "cancelled": c.campaign.status == "cancelled"}
        for c in await notifications(request).campaign_list(limit=100)
    ]
    return await render(request, "campaigns.html", {
        "title": "Рассылки", "error": error, "campaigns": rows,
    }, status=status)


async def campaigns_page(request: web.Request) -> web.StreamResponse:
    number = request.query.get("n", "").strip()
    if number.isdigit():
        raise web.HTTPSeeOther(f"{PREFIX}/campaigns/{int(number)}")
    return await _list(request, "Номер рассылки — число." if number else "")


async def campaign_page(request: web.Request) -> web.StreamResponse:
    campaign = int(request.match_info["campaign"])
    progress = await notifications(request).progress(campaign)
    if progress is None:
        return await _list(request, f"Рассылки № {campaign} нет.", status=404)
    return await render(request, "campaign.html", {
        "title": f"Рассылка № {campaign}", "progress": progress, "bars": bars(progress),
        "kind": KIND_LABELS.get(progress.kind, progress.kind),
        "refresh": 0 if progress.done else REFRESH_SECONDS,
        "undelivered": sum(progress.counts.get(s, 0) for s in ("queued", "deferred", "sent",
                                                                "failed", "cancelled")),
    })


async def undelivered_csv(request: web.Request) -> web.StreamResponse:
    campaign = int(request.match_info["campaign"])
    service = notifications(request)
    if await service.progress(campaign) is None:
        raise web.HTTPNotFound(text=f"Рассылки № {campaign} нет")
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(["account", "phone", "channel", "status", "sent_at", "error"])
    async for row in service.undelivered(campaign):
        out.writerow([row.account, row.phone, row.channel, row.status,
                      row.sent_at.isoformat() if row.sent_at else "", row.error])
    await audit(request, "campaign.undelivered_csv", f"campaign:{campaign}")
    return web.Response(
        body=buffer.getvalue().encode("utf-8-sig"),  # the BOM: Excel reads it as UTF-8
        content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition":
                 f'attachment; filename="campaign-{campaign}-undelivered.csv"'},
    )


@supervisor_only
async def campaign_cancel(request: web.Request) -> web.StreamResponse:
    campaign = int(request.match_info["campaign"])
    stopped = await notifications(request).cancel(campaign)
    if stopped is None:
        raise web.HTTPNotFound(text=f"Рассылки № {campaign} нет")
    await audit(request, "campaign.cancel", f"campaign:{campaign}", {"stopped": stopped})
    raise web.HTTPSeeOther(f"{PREFIX}/campaigns/{campaign}")
