"""Inbox pages: the items most urgent first with their due times in colour and filters;
one contact's whole conversation with their accounts; answering (two people answering
one item: the first wins, the second sees who did), closing with a label, turning an
item into an appeal; and the audit log (supervisors). Over the use cases of
`handlers.inbox`, as the API and the CLI."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.answers import OutboxAnswers
from handlers import inbox
from handlers.quality.report import CATEGORY_LABELS
from notifications.smsparts import sms_encoding, sms_parts
from parsers.intent import APPEAL_CATEGORIES
from staff.web import (
    PREFIX,
    Handler,
    account_of,
    audit,
    gateway_of,
    local_time,
    render,
    supervisor_only,
)
from storage.db import utcnow
from storage.inbox import THREAD_KINDS, THREAD_STATES, InboxThread

KIND_LABELS = {"unrecognised": "не распознано", "handover": "просит человека",
               "appeal": "обращение"}
STATE_LABELS = {"open": "ждёт ответа", "answered": "отвечено", "closed": "закрыто"}
CHANNEL_LABELS = {"sms": "SMS", "telegram": "Telegram", "max": "MAX", "email": "почта",
                  "console": "консоль"}
COMMAND_LABELS = {
    "help": "справка", "balance": "баланс", "stop": "отписка", "start": "подписка",
    "status": "статус обращения", "offices": "офисы", "yes": "да", "no": "нет",
    "unchanged": "показания прежние", "operator": "позвать человека",
}
MEDIA_LABELS = {"photo": "фото", "document": "документ", "voice": "голосовое",
                "video": "видео", "audio": "аудио", "sticker": "стикер"}
SOON = timedelta(hours=1)
_SHIPPED_ANSWERS = Path(__file__).parent / "data" / "answers.toml"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/inbox", inbox_page)
    app.router.add_get(r"/inbox/{item:\d+}", thread_page)
    app.router.add_post(r"/inbox/{item:\d+}/reply", thread_reply)
    app.router.add_post(r"/inbox/{item:\d+}/close", thread_close)
    app.router.add_post(r"/inbox/{item:\d+}/appeal", thread_appeal)
    app.router.add_post(r"/inbox/{item:\d+}/reading", thread_reading)
    app.router.add_get(r"/inbox/{item:\d+}/attachments/{message:\d+}", thread_attachment)
    app.router.add_get("/audit", audit_page)


def urgency(due_at: datetime | None, now: datetime) -> str:
    """`overdue` (red), `soon` (within the hour, amber) or `` for an item's due time."""
    if due_at is None:
        return ""
    if due_at <= now:
        return "overdue"
    return "soon" if due_at - now <= SOON else ""


def answer_templates(path: Path | None) -> list[dict[str, str]]:
    """The frequent answers: [{title, text}], from the configured file or the shipped one.
    A broken file gives none (and the page still works), never an error page."""
    try:
        data = tomllib.loads((path or _SHIPPED_ANSWERS).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return []
    return [
        {"title": str(a.get("title", "")), "text": str(a.get("text", ""))}
        for a in data.get("answer", []) if isinstance(a, dict) and a.get("text")
    ]


def _answers(request: web.Request) -> OutboxAnswers:
    gateway = gateway_of(request)
    assert gateway.store is not None
    sender = gateway.sender
    return OutboxAnswers(gateway.store, wake=sender.wake if sender is not None else None)


def _store(request: web.Request) -> Any:
    store = gateway_of(request).store
    if store is None:
        raise web.HTTPServiceUnavailable(text="Хранилище недоступно")
    return store


@dataclass(frozen=True, slots=True)
class Filters:
    state: str | None
    channel: str | None
    kind: str | None
    category: str | None

    @classmethod
    def of(cls, query: Any) -> Filters:
        def pick(name: str, allowed: tuple[str, ...] | list[str]) -> str | None:
            value = str(query.get(name, "")).strip()
            return value if value in allowed else None

        state = query.get("state", "open")
        return cls(
            state=state if state in THREAD_STATES else None,  # «all»: no filter
            channel=pick("channel", list(CHANNEL_LABELS)),
            kind=pick("kind", THREAD_KINDS),
            category=pick("category", APPEAL_CATEGORIES),
        )


def _row(thread: InboxThread, now: datetime, request: web.Request) -> dict[str, Any]:
    return {
        "id": thread.id, "kind": KIND_LABELS.get(thread.kind, thread.kind),
        "channel": CHANNEL_LABELS.get(thread.channel, thread.channel),
        "state": STATE_LABELS.get(thread.state, thread.state), "text": thread.text,
        "received": local_time(thread.received_at, request),
        "due": local_time(thread.due_at, request), "urgency": urgency(thread.due_at, now),
        "appeal": thread.appeal_id,
        "category": CATEGORY_LABELS.get(thread.category or "", ""),
    }


async def inbox_page(request: web.Request) -> web.StreamResponse:
    store = _store(request)
    filters = Filters.of(request.query)
    now = utcnow()
    items = await inbox.list_items(
        store, state=filters.state, channel=filters.channel, kind=filters.kind,
        category=filters.category, now=now,
    )
    return await render(request, "inbox.html", {
        "title": "Входящие", "items": [_row(t, now, request) for t in items],
        "filters": filters, "states": STATE_LABELS, "channels": CHANNEL_LABELS,
        "kinds": KIND_LABELS, "categories": CATEGORY_LABELS,
    })


def _item_route(handler: Handler) -> Handler:
    """An action on an inbox item: an unknown item is a 404 page, in one place."""

    async def route(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except inbox.NotFound:
            item = request.match_info["item"]
            raise web.HTTPNotFound(text=f"Обращения в очереди № {item} нет") from None

    return route


async def _thread(
    request: web.Request, *, error: str = "", draft: str = "", status: int = 200,
    parts: str = "", reading: str = "",
) -> web.Response:
    store = _store(request)
    item = int(request.match_info["item"])
    view = await inbox.get_thread(store, item)  # NotFound: the routes' 404 (_item_route)
    now = utcnow()
    messages = [
        {"id": m.id, "direction": m.direction, "author": m.author, "text": m.text,
         "at": local_time(m.at, request), "attachment": m.attachment}
        for m in view.messages
    ]
    accounts = [
        {"number": a.number, "holder": a.holder, "address": a.address,
         "balance": balance_text(a.balance)}
        for a in view.accounts
    ]
    settings = gateway_of(request).settings
    return await render(request, "thread.html", {
        "title": f"Обращение в очереди № {item}", "item": _row(view.thread, now, request),
        "thread": view.thread, "messages": messages, "accounts": accounts,
        "phone": view.phone, "address": view.thread.address,
        "last_id": max((m.id for m in view.messages), default=0),
        "error": error, "draft": draft, "parts": parts, "reading": reading,
        "answers": answer_templates(settings.staff.answer_templates_file),
        "categories": CATEGORY_LABELS, "commands": COMMAND_LABELS,
        "is_sms": view.thread.channel == "sms", "media": MEDIA_LABELS,
    }, status=status)


@_item_route
async def thread_page(request: web.Request) -> web.StreamResponse:
    return await _thread(request)


def balance_text(balance: Decimal) -> str:
    """The registry's balance as staff say it (positive: owed, negative: credit)."""
    amount = f"{abs(balance):.2f}".replace(".", ",")
    if balance > 0:
        return f"долг {amount} ₽"
    if balance < 0:
        return f"переплата {amount} ₽"
    return "долга нет"


def _parts_note(text: str) -> str:
    """What the server counts, shown after a submit (the script counts as one types)."""
    encoding = "GSM-7" if sms_encoding(text) == "gsm7" else "UCS-2"
    return f"{len(text)} символов, {encoding}, частей SMS: {sms_parts(text)}"


@_item_route
async def thread_reply(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    text = str(form.get("text", ""))
    after_raw = str(form.get("after", "")).strip()
    after = int(after_raw) if after_raw.isdigit() else None
    item = int(request.match_info["item"])
    me = account_of(request)
    try:
        outbox_id = await inbox.reply(
            _store(request), _answers(request), item, text, actor=me.login, after=after
        )
    except inbox.AlreadyAnswered as exc:
        return await _thread(
            request, error=f"Уже ответил {exc.by}. Прочитайте ответ; ваш текст не отправлен.",
            draft=text, status=409, parts=_parts_note(text),
        )
    except inbox.InboxError as exc:
        return await _thread(request, error=_russian(exc), draft=text, status=400,
                             parts=_parts_note(text))
    del outbox_id  # inbox.reply audited it with the outbox row
    raise web.HTTPSeeOther(f"{PREFIX}/inbox/{item}?sent=1")


def _russian(exc: inbox.InboxError) -> str:
    """The use case's words for a person (Russian), as a sentence."""
    message = exc.staff.strip()
    return (message[:1].upper() + message[1:]).rstrip(".") + "."


def label_of(form: Any) -> dict[str, Any] | str:
    """The §5 label a person chose in the close form, or the error to show."""
    choice = str(form.get("label", "")).strip()
    if choice in {"", "none"}:
        return {"intent": "unknown"}
    kind, _, value = choice.partition(":")
    if kind == "appeal" and value in APPEAL_CATEGORIES:
        return {"intent": "appeal", "appeal_category": value}
    if kind == "command" and value in COMMAND_LABELS:
        return {"intent": "command", "command": value}
    if kind == "readings":
        account = str(form.get("account", "")).strip() or None
        readings = []
        for zone in ("T1", "T2", "T3"):
            raw = str(form.get(zone.lower(), "")).strip().replace(",", ".")
            if not raw:
                continue
            try:
                number = Decimal(raw)
            except InvalidOperation:
                return f"Показание {zone}: число, например 4521."
            if not number.is_finite() or number < 0:
                return f"Показание {zone}: неотрицательное число, например 4521."
            readings.append({"meter": None, "zone": zone, "value": str(number)})
        if not readings:
            return "Для метки «показания» впишите хотя бы одно значение."
        if account is not None and not account.isdigit():
            return "Лицевой счёт: только цифры."
        return {"intent": "readings", "account": account, "readings": readings}
    return "Выберите метку из списка."


@_item_route
async def thread_close(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    label = label_of(form)
    if isinstance(label, str):
        return await _thread(request, error=label, status=400)
    item = int(request.match_info["item"])
    try:
        await inbox.close(_store(request), item, actor=account_of(request).login, label=label)
    except inbox.InboxError as exc:
        return await _thread(request, error=_russian(exc), status=400)
    raise web.HTTPSeeOther(f"{PREFIX}/inbox")


@_item_route
async def thread_appeal(request: web.Request) -> web.StreamResponse:
    from bot.app import handler_config

    form = await request.post()
    category = str(form.get("category", ""))
    item = int(request.match_info["item"])
    if category not in APPEAL_CATEGORIES:
        return await _thread(request, error="Выберите категорию обращения.", status=400)
    try:
        await inbox.to_appeal(
            _store(request), _answers(request), handler_config(gateway_of(request).settings),
            item, category, actor=account_of(request).login,
        )
    except inbox.InboxError as exc:
        return await _thread(request, error=_russian(exc), status=400)
    raise web.HTTPSeeOther(f"{PREFIX}/inbox/{item}")


@_item_route
async def thread_reading(request: web.Request) -> web.StreamResponse:
    """A reading typed for the customer (from a photo, a call): the bot's parser and
    rules decide; what they refuse is shown with the bot's words and nothing is kept."""
    from bot.app import handler_config

    text = str((await request.post()).get("reading", ""))
    item = int(request.match_info["item"])
    try:
        said = await inbox.enter_reading(
            _store(request), _answers(request), handler_config(gateway_of(request).settings),
            item, text, actor=account_of(request).login,
        )
    except inbox.InboxError as exc:
        words = exc.staff
        if not words.lower().startswith("показания не приняты"):
            words = f"Показания не приняты: {words}"
        return await _thread(request, error=words, reading=text, status=400)
    del said  # the customer got it; the conversation shows it
    raise web.HTTPSeeOther(f"{PREFIX}/inbox/{item}?reading=1")


async def thread_attachment(request: web.Request) -> web.StreamResponse:
    """A customer's photo or file, fetched from its channel the first time and kept."""
    from bot.answers import ChannelFiles
    from bot.api_inbox import attachment_response
    from bot.app import handler_config

    gateway = gateway_of(request)
    item, message = int(request.match_info["item"]), int(request.match_info["message"])
    try:
        meta, data = await inbox.attachment(
            _store(request), ChannelFiles(gateway.channels), handler_config(gateway.settings),
            item, message,
        )
    except inbox.NotFound:
        raise web.HTTPNotFound(text="Вложения нет.") from None
    except inbox.InboxError as exc:
        raise web.HTTPGone(text=_russian(exc)) from None
    return attachment_response(meta, data)


@supervisor_only
async def audit_page(request: web.Request) -> web.StreamResponse:
    subject = request.query.get("subject", "").strip() or None
    entries = await _store(request).audit.recent(subject, limit=300)
    rows = [
        {"at": local_time(e.at, request), "actor": e.actor, "action": e.action,
         "subject": e.subject, "denied": e.action.startswith("denied:"),
         "details": ", ".join(f"{k}: {v}" for k, v in e.details.items() if v is not None)}
        for e in entries
    ]
    await audit(request, "audit.read", subject or "")
    return await render(request, "audit.html", {
        "title": "Журнал действий", "entries": rows, "subject": subject or "",
    })
