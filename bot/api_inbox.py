"""The inbox JSON API for a CRM (docs/interfaces.md §12), under the admin API's bearer
token (§11). Routes call the use cases of `handlers.inbox`, as the CLI and the staff
workspace do:

    GET  /api/inbox[?state=open|answered|closed&channel=…&kind=…&category=…]
    GET  /api/inbox/{id}                  the item with its messages and the customer
    POST /api/inbox/{id}/reply            {"text", "after"?, "staff"?} → {"outbox": N}
    POST /api/inbox/{id}/close            {"label"?, "staff"?}
    POST /api/inbox/{id}/appeal           {"category", "staff"?} → {"appeal": N}
    POST /api/inbox/{id}/reading          {"text", "staff"?} → {"reply": "Приняты …"}
    GET  /api/inbox/{id}/attachments/{m}  the file a customer sent with message m

Bad input is 400 `{"error", "field"}`, an unknown item 404, a reply after someone else's
answer 409 `{"error": "already answered", "by": …}`; never 500 for what a client sends.
Texts are returned as they were written (HTML included): rendering is the reader's job.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.answers import ChannelFiles, OutboxAnswers
from bot.httpapi import Operation, add_route
from handlers import inbox
from storage.inbox import InboxMessage, InboxThread
from storage.store import Store

if TYPE_CHECKING:
    from bot.app import Gateway

log = logging.getLogger(__name__)

MAX_JSON_BODY = 1 << 20  # docs/interfaces.md §11: a JSON body ≤ 1 MB


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(min_length=1, max_length=inbox.MAX_ANSWER)
    after: int | None = Field(None, ge=0)
    staff: str | None = Field(None, max_length=64)


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    label: dict[str, Any] | None = None
    staff: str | None = Field(None, max_length=64)


class AppealBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    category: str
    staff: str | None = Field(None, max_length=64)


class ReadingBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(min_length=1, max_length=1000)
    staff: str | None = Field(None, max_length=64)


def _bad(message: str, field: str) -> web.Response:
    return web.json_response({"error": message, "field": field}, status=400)


def _gateway(request: web.Request) -> Gateway:
    from bot.api import GATEWAY_KEY

    return request.app[GATEWAY_KEY]


def _when(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return None if moment is None else moment.astimezone(tz).isoformat()


def item_json(thread: InboxThread, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    """One inbox item as docs/interfaces.md §12 lists it (and a few more fields)."""
    return {
        "id": thread.id,
        "kind": thread.kind,
        "channel": thread.channel,
        "text": thread.text,
        "received_at": _when(thread.received_at, tz),
        "due_at": _when(thread.due_at, tz),
        "appeal": thread.appeal_id,
        "state": thread.state,
        "category": thread.category,
        "overdue": thread.state == "open" and thread.due_at is not None and thread.due_at < now,
        "answered_by": thread.answered_by,
        "label": thread.label,
    }


def message_json(message: InboxMessage, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": message.direction,
        "author": message.author,
        "text": message.text,
        "at": _when(message.at, tz),
        "handled": message.handled,
        "attachment": message.attachment,
    }


def _item_id(request: web.Request) -> int | None:
    raw = request.match_info["id"]
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


async def _body(request: web.Request, model: type[BaseModel]) -> BaseModel | web.Response:
    if request.content_length is not None and request.content_length > MAX_JSON_BODY:
        return web.json_response({"error": "body too large"}, status=413)
    raw = await request.content.read(MAX_JSON_BODY + 1)
    if len(raw) > MAX_JSON_BODY:
        return web.json_response({"error": "body too large"}, status=413)
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        return _bad("body must be JSON", "body")
    if not isinstance(data, dict):
        return _bad("body must be a JSON object", "body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        return _bad(first["msg"], field)


async def list_inbox(request: web.Request) -> web.Response:
    gateway = _gateway(request)
    assert gateway.store is not None
    query = request.query
    now = datetime.now(gateway.settings.service.tz)
    try:
        items = await inbox.list_items(
            gateway.store,
            state=query.get("state"),
            channel=query.get("channel"),
            kind=query.get("kind"),
            category=query.get("category"),
            now=now,
        )
    except inbox.InboxError as exc:
        return _bad(str(exc), exc.field)
    tz = gateway.settings.service.tz
    return web.json_response({"items": [item_json(t, tz, now) for t in items]})


async def show_item(request: web.Request) -> web.Response:
    gateway = _gateway(request)
    assert gateway.store is not None
    item_id = _item_id(request)
    if item_id is None:
        return _bad("id must be a number", "id")
    try:
        view = await inbox.get_thread(gateway.store, item_id)
    except inbox.NotFound as exc:
        return web.json_response({"error": str(exc)}, status=404)
    tz = gateway.settings.service.tz
    body = item_json(view.thread, tz, datetime.now(tz))
    body["messages"] = [message_json(m, tz) for m in view.messages]
    body["customer"] = {
        "phone": view.phone,
        "accounts": [
            {
                "account": a.number,
                "holder": a.holder,
                "address": a.address,
            }
            for a in view.accounts
        ],
    }
    return web.json_response(body)


@dataclass(frozen=True, slots=True)
class _Action:
    """What a POST route gets once its input is checked."""

    gateway: Gateway
    store: Store
    item_id: int
    actor: str
    body: Any


Run = Callable[[_Action], Awaitable[dict[str, Any]]]


def _action(model: type[BaseModel], run: Run) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A POST route over an item: the id, the body (checked by `model`) and the audit
    actor are read here; `run` calls the use case. The use case's errors become 404, 409
    and 400 responses; nothing a client sends ends in a 500."""

    async def route(request: web.Request) -> web.Response:
        gateway = _gateway(request)
        assert gateway.store is not None
        item_id = _item_id(request)
        if item_id is None:
            return _bad("id must be a number", "id")
        body = await _body(request, model)
        if isinstance(body, web.Response):
            return body
        try:
            actor = inbox.staff_actor(getattr(body, "staff", None))
            answer = await run(_Action(gateway, gateway.store, item_id, actor, body))
        except inbox.NotFound as exc:
            return web.json_response({"error": str(exc)}, status=404)
        except inbox.AlreadyAnswered as exc:
            return web.json_response({"error": "already answered", "by": exc.by}, status=409)
        except inbox.InboxError as exc:
            return _bad(str(exc), exc.field)
        return web.json_response(answer)

    return route


async def _reply(a: _Action) -> dict[str, Any]:
    outbox_id = await inbox.reply(
        a.store, _answers(a.gateway), a.item_id, a.body.text, actor=a.actor, after=a.body.after
    )
    return {"outbox": outbox_id}


async def _close(a: _Action) -> dict[str, Any]:
    thread = await inbox.close(a.store, a.item_id, actor=a.actor, label=a.body.label)
    tz = a.gateway.settings.service.tz
    return item_json(thread, tz, datetime.now(tz))


async def _appeal(a: _Action) -> dict[str, Any]:
    from bot.app import handler_config

    appeal = await inbox.to_appeal(
        a.store, _answers(a.gateway), handler_config(a.gateway.settings), a.item_id,
        a.body.category, actor=a.actor,
    )
    return {"appeal": appeal.id}


async def _reading(a: _Action) -> dict[str, Any]:
    from bot.app import handler_config

    said = await inbox.enter_reading(
        a.store, _answers(a.gateway), handler_config(a.gateway.settings), a.item_id,
        a.body.text, actor=a.actor,
    )
    return {"reply": said}


async def get_attachment(request: web.Request) -> web.StreamResponse:
    from bot.app import handler_config

    gateway = _gateway(request)
    assert gateway.store is not None
    item_id = _item_id(request)
    raw = request.match_info["message"]
    if item_id is None or not raw.isdigit() or len(raw) > 18:
        return _bad("id must be a number", "id" if item_id is None else "message")
    try:
        meta, data = await inbox.attachment(
            gateway.store, ChannelFiles(gateway.channels), handler_config(gateway.settings),
            item_id, int(raw),
        )
    except inbox.NotFound as exc:
        return web.json_response({"error": str(exc)}, status=404)
    except inbox.InboxError as exc:
        return web.json_response({"error": str(exc)}, status=410)
    return attachment_response(meta, data)


def attachment_response(meta: dict[str, Any], data: bytes) -> web.Response:
    """A customer's attachment as an HTTP answer (the API and the staff pages)."""
    kind = str(meta.get("mime_type") or ("image/jpeg" if meta.get("kind") == "photo"
                                         else "application/octet-stream"))
    headers = {"X-Content-Type-Options": "nosniff"}
    if not kind.startswith("image/") or "svg" in kind:
        # Downloaded, never rendered in place: a customer's HTML or SVG file must not run
        # in a staff browser.
        headers["Content-Disposition"] = "attachment"
    return web.Response(body=data, content_type=kind, headers=headers)


def _answers(gateway: Gateway) -> OutboxAnswers:
    assert gateway.store is not None
    sender = gateway.sender
    return OutboxAnswers(gateway.store, sender.wake if sender is not None else None)


def add_routes(app: web.Application) -> None:
    """Mount the inbox routes on the admin API's application, each described in the
    OpenAPI document (bot.httpapi.add_route)."""
    text = {"type": "string"}
    add_route(app, Operation(
        "GET", "/api/inbox", "inbox items, most urgent first",
        query={name: (text, f"only items of this {name}")
               for name in ("state", "channel", "kind", "category")},
    ), list_inbox)
    missing = {404: "no such item"}
    add_route(app, Operation(
        "GET", "/api/inbox/{id}", "one item with its messages and the customer",
        errors=missing,
    ), show_item)
    add_route(app, Operation(
        "GET", "/api/inbox/{id}/attachments/{message}", "an attachment's bytes",
        response_type="application/octet-stream", errors=missing,
    ), get_attachment)
    for verb, model, run, summary, errors in (
        ("reply", ReplyBody, _reply, "answer the customer on the item's channel",
         {**missing, 409: "already answered after `after` (nothing sent)"}),
        ("close", CloseBody, _close, "close the item, with an optional §5 label", missing),
        ("appeal", AppealBody, _appeal, "register the item as an appeal", missing),
        ("reading", ReadingBody, _reading, "enter a reading for the customer", missing),
    ):
        add_route(app, Operation(
            "POST", f"/api/inbox/{{id}}/{verb}", summary, body=model, errors=errors,
        ), _action(model, run))
