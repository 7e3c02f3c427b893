"""A fake MAX Bot API server on loopback, written from the official API schema
(max-messenger-bot/max-bot-api-schemas, schema_2026_07_01.yaml).

    async with FakeMax() as mx:                  # 127.0.0.1:<ephemeral port>
        settings = MaxSettings(enabled=True, token=SecretStr(mx.token), api_base=mx.base_url)
        mx.push_update(text_update(user_id=111, text="баланс"))
        await mx.wait_until(lambda: mx.sent)     # bounded by `wait_timeout`

What it serves, as the schema describes it: the token in the `Authorization` header (a
wrong or missing one: 401 `{"code": "verify.token", "message": …}`); `GET /me`;
`GET|POST|DELETE /subscriptions` (`POST` takes `url`, `update_types`, `secret`); `GET
/updates?marker=&timeout=&types=` answering `{"updates": [...], "marker": N}` — the
marker of a batch confirms it when passed back, updates up to it are dropped; while a
webhook subscription is active long polling answers 405, like MAX; `POST
/messages?user_id=…` with a `NewMessageBody` (text at most 4 000 characters) answering
`{"message": Message}`; `POST /answers?callback_id=…`. Errors are injected per path with
`fail_next` (429 with `Retry-After`, 403 for a user who stopped the bot, …).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.bot.fake_server import FakeServer

TOKEN = "max-fake-token-do-not-log-me-0123456789"
BOT_ID = 9000


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class _Failure:
    status: int
    code: str
    message: str
    retry_after: int | None = None


@dataclass
class FakeMax(FakeServer):
    """The fake Bot API server. Start with `async with`."""

    token: str = TOKEN
    wait_timeout: float = 15.0
    calls: list[Call] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    # False (load tests): only `counts` per path is kept.
    keep_calls: bool = True
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._pending: list[tuple[int, dict[str, Any]]] = []
        self._seq = itertools.count(1)
        self._mid = itertools.count(1)
        self._failures: dict[str, deque[_Failure]] = {}
        self._init_server()

    def _routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{path:.*}", self._handle)

    # ------------------------------------------------------------------ test controls

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for `GET /updates`; return its position (marker)."""
        seq = next(self._seq)
        self._pending.append((seq, dict(update)))
        self._notify()
        return seq

    def fail_next(
        self, path: str, status: int, code: str, message: str = "", *,
        times: int = 1, retry_after: int | None = None,
    ) -> None:
        """Answer the next `times` calls of `path` (e.g. "/messages") with this error."""
        queue = self._failures.setdefault(path, deque())
        queue.extend(_Failure(status, code, message or code, retry_after) for _ in range(times))

    def fail_send_throttled(self, times: int = 1, retry_after: int = 1) -> None:
        self.fail_next("/messages", 429, "too.many.requests", "Too many requests",
                       times=times, retry_after=retry_after)

    def fail_send_blocked(self, times: int = 1) -> None:
        # The schema: 403 when «the user has suspended the bot».
        self.fail_next("/messages", 403, "chat.denied", "dialog.suspended", times=times)

    @property
    def pending(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by a marker."""
        return [update for _, update in self._pending]

    def calls_of(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path == path]

    @property
    def sent(self) -> list[dict[str, Any]]:
        """`{"user_id": …, **NewMessageBody}` of every successful `POST /messages`."""
        return [
            {"user_id": c.query.get("user_id"), **c.body}
            for c in self.calls_of("POST", "/messages") if c.status == 200
        ]

    def texts_to(self, user_id: int) -> list[str]:
        return [str(m["text"]) for m in self.sent if m["user_id"] == str(user_id)]

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        if request.headers.get("Authorization") != self.token:
            return _error(401, "verify.token", "Invalid access_token")
        body: Any = None
        if request.can_read_body:
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return _error(400, "proto.payload", "body is not JSON")
        call = Call(request.method, path, dict(request.query), body)
        if self.keep_calls:
            self.calls.append(call)
        self._notify()
        try:
            failures = self._failures.get(path)
            if failures:
                failure = failures.popleft()
                response = _error(failure.status, failure.code, failure.message)
                if failure.retry_after is not None:
                    response.headers["Retry-After"] = str(failure.retry_after)
                return response
            return await self._route(request.method, path, call)
        finally:
            key = f"{request.method} {path}"
            self.counts[key] = self.counts.get(key, 0) + 1
            self._notify()

    async def _route(self, method: str, path: str, call: Call) -> web.Response:
        response: web.Response
        if (method, path) == ("GET", "/me"):
            response = web.json_response({
                "user_id": BOT_ID, "first_name": "ЭнергоСбыт", "username": "sbyt_bot",
                "is_bot": True, "last_activity_time": _millis(), "name": "ЭнергоСбыт",
            })
        elif (method, path) == ("GET", "/subscriptions"):
            response = web.json_response({"subscriptions": self.subscriptions})
        elif (method, path) == ("POST", "/subscriptions"):
            body = call.body if isinstance(call.body, dict) else {}
            if not isinstance(body.get("url"), str):
                response = _error(400, "proto.payload", "url is required")
            else:
                self.subscriptions = [
                    {"url": body["url"], "time": _millis(),
                     "update_types": body.get("update_types"), "secret": body.get("secret")}
                ]
                response = web.json_response({"success": True})
        elif (method, path) == ("DELETE", "/subscriptions"):
            url = call.query.get("url")
            self.subscriptions = [s for s in self.subscriptions if s["url"] != url]
            response = web.json_response({"success": True})
        elif (method, path) == ("GET", "/updates"):
            response = await self._updates(call)
        elif (method, path) == ("POST", "/messages"):
            response = self._send(call)
        elif (method, path) == ("POST", "/answers"):
            ok = bool(call.query.get("callback_id"))
            response = (web.json_response({"success": True}) if ok
                        else _error(400, "proto.param", "callback_id is required"))
        else:
            response = _error(404, "not.found", f"{method} {path}")
        call.status = response.status
        return response

    async def _updates(self, call: Call) -> web.Response:
        if self.subscriptions:
            # «При активной подписке Long Polling не работает».
            return _error(405, "method.not.allowed", "webhook subscription is active")
        marker = call.query.get("marker")
        if marker:
            self._pending = [(s, u) for s, u in self._pending if s > int(marker)]
        timeout = min(int(call.query.get("timeout", "30")), 90)
        types = set(filter(None, call.query.get("types", "").split(",")))
        deadline = time.monotonic() + timeout
        while not self._closing:
            batch = [(s, u) for s, u in self._pending if not types or u["update_type"] in types]
            limit = int(call.query.get("limit", "100"))
            batch = batch[:limit]
            if batch or time.monotonic() >= deadline:
                last = batch[-1][0] if batch else (int(marker) if marker else None)
                return web.json_response(
                    {"updates": [u for _, u in batch], "marker": last}
                )
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await self._changed.wait()
            except TimeoutError:
                pass
        return web.json_response({"updates": [], "marker": int(marker) if marker else None})

    def _send(self, call: Call) -> web.Response:
        user = call.query.get("user_id") or call.query.get("chat_id")
        body = call.body if isinstance(call.body, dict) else None
        if not user or body is None:
            return _error(400, "proto.payload", "user_id and a body are required")
        text = body.get("text")
        if text is not None and len(text) > 4000:
            return _error(400, "proto.payload", "text: size must be between 0 and 4000")
        mid = f"mid.{next(self._mid):016x}"
        return web.json_response({"message": {
            "sender": {"user_id": BOT_ID, "first_name": "ЭнергоСбыт", "is_bot": True},
            "recipient": {"chat_id": int(user), "chat_type": "dialog", "user_id": int(user)},
            "timestamp": _millis(),
            "body": {"mid": mid, "seq": 1, "text": text, "attachments": body.get("attachments")},
        }})


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def _millis() -> int:
    return int(time.time() * 1000)


# --------------------------------------------------------------------------- updates


_mids = itertools.count(1)


def _user(user_id: int, first_name: str = "Иван") -> dict[str, Any]:
    return {"user_id": user_id, "first_name": first_name, "last_name": None,
            "username": None, "is_bot": False, "last_activity_time": _millis(),
            "name": first_name}


def _message(user_id: int, text: str | None, attachments: list[dict[str, Any]] | None,
             chat_type: str = "dialog") -> dict[str, Any]:
    return {
        "sender": _user(user_id),
        "recipient": {"chat_id": user_id + 10_000_000, "chat_type": chat_type,
                      "user_id": BOT_ID},
        "timestamp": _millis(),
        "body": {"mid": f"mid.in.{next(_mids)}", "seq": 1, "text": text,
                 "attachments": attachments, "markup": None},
    }


def text_update(user_id: int, text: str, *, chat_type: str = "dialog") -> dict[str, Any]:
    """`message_created` with text, as MAX sends it."""
    return {"update_type": "message_created", "timestamp": _millis(),
            "message": _message(user_id, text, None, chat_type), "user_locale": "ru"}


def contact_update(user_id: int, phone: str, *, owner_id: int | None) -> dict[str, Any]:
    """A contact shared with the `request_contact` button: `max_info` is the MAX user
    whose number it is (None: a contact from the address book, not a MAX user)."""
    payload: dict[str, Any] = {
        "vcf_info": f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Иван\r\nTEL;TYPE=cell:{phone}\r\n"
                    "END:VCARD",
        "hash": "h",
        "max_info": _user(owner_id) if owner_id is not None else None,
    }
    return {"update_type": "message_created", "timestamp": _millis(),
            "message": _message(user_id, "", [{"type": "contact", "payload": payload}])}


def callback_update(user_id: int, payload: str, *, callback_id: str) -> dict[str, Any]:
    """`message_callback`: a pressed `callback` button of a message of ours."""
    original = _message(BOT_ID, "Вопрос?", None)
    return {"update_type": "message_callback", "timestamp": _millis(),
            "callback": {"timestamp": _millis(), "callback_id": callback_id,
                         "payload": payload, "user": _user(user_id)},
            "message": original, "user_locale": "ru"}


def bot_started(user_id: int) -> dict[str, Any]:
    return {"update_type": "bot_started", "timestamp": _millis(),
            "chat_id": user_id + 10_000_000, "user": _user(user_id), "payload": None,
            "user_locale": "ru"}
