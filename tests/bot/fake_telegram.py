"""A fake Telegram Bot API server on loopback, for tests that drive aiogram's real client.

Usage (any test, including end-to-end tests of `gateway run`):

    async with FakeTelegram() as tg:            # listens on 127.0.0.1:<ephemeral port>
        settings = TelegramSettings(enabled=True, token=SecretStr(tg.token),
                                    api_base=tg.base_url)
        tg.push_update(text_update(user_id=111, text="баланс"))
        await tg.wait_for("sendMessage")         # bounded by `wait_timeout`
        assert tg.sent[0]["text"] == ...

It serves `/bot<token>/<method>` like the real Bot API: parameters as a query string,
urlencoded or multipart form (JSON-encoded values for objects) or a JSON body; answers
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": ..., "description": ...}`; a
wrong token gets 401 Unauthorized, an unknown method 404. getUpdates keeps a queue with
offset semantics: updates below the offset are confirmed and dropped; with a `timeout` it
long-polls until an update is pushed or the server closes. Errors are injected per method
with `fail_next` (or the `fail_send_*` shortcuts).

The `*_update` builders return Update objects (without `update_id`; `push_update` assigns
one) shaped as Telegram sends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from bot.core import DeliveryReport, Inbound
from bot.settings import TelegramSettings
from tests.bot.fake_server import FakeServer

TOKEN = "123456789:AAFakeTokenForTests-do-not-log-me_0123"
BOT_USER = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "ЭнергоСбыт",
    "username": "sbyt_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

# Parameters whose values travel JSON-encoded inside form data.
_JSON_PARAMS = {"reply_markup", "allowed_updates", "commands", "scope", "entities"}


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None = None
    # Calls to let through (answered normally) before this failure applies.
    after: int = 0
    # Answer with this non-JSON body instead (a proxy's error page).
    raw_body: str | None = None


@dataclass
class Call:
    """One request the fake received: the Bot API method and its decoded parameters."""

    method: str
    params: dict[str, Any]
    # The HTTP status the fake answered with (set once answered).
    status: int = 0


@dataclass
class FakeTelegram(FakeServer):
    """The fake Bot API server. Start with `async with` (or `start()` / `close()`)."""

    token: str = TOKEN
    # Upper bound for `wait_for`, so that a broken test fails instead of hanging.
    wait_timeout: float = 15.0
    calls: list[Call] = field(default_factory=list)
    webhook_url: str = ""
    webhook_secret: str = ""
    commands: list[dict[str, Any]] = field(default_factory=list)
    # False (load tests): calls are counted in `counts` (method → answered calls,
    # `ok` → successful ones) instead of kept in `calls`, so the fake does not grow.
    keep_calls: bool = True
    counts: dict[str, int] = field(default_factory=dict)
    # Files the bot may download (getFile, then /file/bot<token>/<path>), by file id.
    files: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._pending: list[dict[str, Any]] = []
        self._next_update_id = itertools.count(1000)
        self._next_message_id = itertools.count(1)
        self._failures: dict[str, deque[_Failure]] = {}
        self._init_server()

    def _routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)

    # ------------------------------------------------------------------ test controls

    def push_update(self, update: Mapping[str, Any]) -> int:
        """Queue an update for getUpdates (assigning `update_id` if absent); return its id."""
        item = dict(update)
        item.setdefault("update_id", next(self._next_update_id))
        self._pending.append(item)
        self._pending.sort(key=lambda upd: int(upd["update_id"]))
        self._notify()
        return int(item["update_id"])

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        *,
        times: int = 1,
        retry_after: int | None = None,
        after: int = 0,
        raw_body: str | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` with this Bot API error (after
        letting `after` calls through), or with `raw_body` as text/html if given."""
        queue = self._failures.setdefault(method, deque())
        queue.extend(
            _Failure(status, description, retry_after, after if n == 0 else 0, raw_body)
            for n in range(times)
        )

    def fail_send_throttled(self, times: int = 1, retry_after: int = 1) -> None:
        self.fail_next(
            "sendMessage",
            429,
            f"Too Many Requests: retry after {retry_after}",
            times=times,
            retry_after=retry_after,
        )

    def fail_send_blocked(self, times: int = 1) -> None:
        self.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user", times=times)

    def fail_send_chat_not_found(self, times: int = 1) -> None:
        self.fail_next("sendMessage", 400, "Bad Request: chat not found", times=times)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by an offset."""
        return list(self._pending)

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Parameters of every successful sendMessage, in order."""
        return [call.params for call in self.calls_of("sendMessage") if call.status == 200]

    @property
    def offsets(self) -> list[int | None]:
        """The `offset` of every getUpdates call, in order."""
        return [
            None if call.params.get("offset") is None else int(call.params["offset"])
            for call in self.calls_of("getUpdates")
        ]

    async def wait_for(self, method: str, count: int = 1) -> list[Call]:
        """Wait until `method` was called at least `count` times; return those calls."""

        def enough() -> bool:
            return len(self.calls_of(method)) >= count

        async with asyncio.timeout(self.wait_timeout):
            await self._wait(enough)
        return self.calls_of(method)

    async def wait_until_confirmed(self, update_id: int) -> None:
        """Wait until a getUpdates call confirmed `update_id` (offset > update_id)."""

        def confirmed() -> bool:
            return any(offset is not None and offset > update_id for offset in self.offsets)

        async with asyncio.timeout(self.wait_timeout):
            await self._wait(confirmed)

    # ------------------------------------------------------------------ the server

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        call = Call(method, params)
        if self.keep_calls:
            self.calls.append(call)
        self._notify()  # tests wait on calls being made as well as on answers
        try:
            failures = self._failures.get(method)
            if failures and failures[0].after > 0:
                failures[0].after -= 1
                failures = None
            if failures:
                failure = failures.popleft()
                if failure.raw_body is not None:
                    response = web.Response(
                        status=failure.status, text=failure.raw_body, content_type="text/html"
                    )
                else:
                    response = _error(failure.status, failure.description, failure.retry_after)
            elif (handler := _METHODS.get(method.lower())) is None:
                response = _error(404, "Not Found: method not found")
            else:
                response = await handler(self, params)
            call.status = response.status
            if not self.keep_calls:
                self.counts[method] = self.counts.get(method, 0) + 1
                if response.status == 200:
                    self.counts["ok"] = self.counts.get("ok", 0) + 1
            return response
        finally:
            self._notify()

    async def _get_me(self, params: dict[str, Any]) -> web.Response:
        return _ok(BOT_USER)

    async def _get_file(self, params: dict[str, Any]) -> web.Response:
        file_id = str(params.get("file_id", ""))
        data = self.files.get(file_id)
        if data is None:
            return _error(400, "Bad Request: invalid file_id")
        return _ok({"file_id": file_id, "file_unique_id": f"u-{file_id}",
                    "file_size": len(data), "file_path": f"files/{file_id}"})

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        data = self.files.get(request.match_info["path"].removeprefix("files/"))
        if data is None:
            return _error(404, "Not Found")
        return web.Response(body=data, content_type="application/octet-stream")

    async def _true(self, params: dict[str, Any]) -> web.Response:
        return _ok(True)

    async def _set_webhook(self, params: dict[str, Any]) -> web.Response:
        if not str(params.get("url", "")).startswith("https://"):
            return _error(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        self.webhook_url = str(params["url"])
        self.webhook_secret = str(params.get("secret_token", ""))
        return _ok(True)

    async def _delete_webhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook_url = ""
        return _ok(True)

    async def _set_my_commands(self, params: dict[str, Any]) -> web.Response:
        commands = params.get("commands")
        if not isinstance(commands, list):
            return _error(400, "Bad Request: can't parse commands JSON object")
        self.commands = commands
        return _ok(True)

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook_url:
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        # Confirm: an update is forgotten once getUpdates is called with a higher offset.
        self._pending = [upd for upd in self._pending if int(upd["update_id"]) >= offset]
        if not self._pending and timeout > 0 and not self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wait(lambda: bool(self._pending) or self._closing)
            self._pending = [upd for upd in self._pending if int(upd["update_id"]) >= offset]
        return _ok(self._pending[:limit])

    async def _send_message(self, params: dict[str, Any]) -> web.Response:
        chat_id = params.get("chat_id")
        text = str(params.get("text", ""))
        if chat_id in (None, ""):
            return _error(400, "Bad Request: chat_id is empty")
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return _error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if isinstance(markup, dict):
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    data = button.get("callback_data", "")
                    if not 1 <= len(data.encode()) <= 64:
                        return _error(400, "Bad Request: BUTTON_DATA_INVALID")
        if params.get("parse_mode") not in (None, "", "HTML", "MarkdownV2", "Markdown"):
            return _error(400, "Bad Request: unsupported parse_mode")
        chat = int(chat_id)
        message: dict[str, Any] = {
            "message_id": next(self._next_message_id),
            "from": BOT_USER,
            "chat": _chat(chat),
            "date": int(time.time()),
            "text": text,
        }
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return _ok(message)

    async def _edit_reply_markup(self, params: dict[str, Any]) -> web.Response:
        if params.get("inline_message_id"):
            return _ok(True)
        message: dict[str, Any] = {
            "message_id": int(params.get("message_id") or 0),
            "from": BOT_USER,
            "chat": _chat(int(params.get("chat_id") or 0)),
            "date": int(time.time()),
            "text": "",
        }
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        return _ok(message)

    async def _get_webhook_info(self, params: dict[str, Any]) -> web.Response:
        return _ok(
            {
                "url": self.webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._pending),
            }
        )


_METHODS = {
    "getme": FakeTelegram._get_me,
    "getfile": FakeTelegram._get_file,
    "deletewebhook": FakeTelegram._delete_webhook,
    "setwebhook": FakeTelegram._set_webhook,
    "getwebhookinfo": FakeTelegram._get_webhook_info,
    "getupdates": FakeTelegram._get_updates,
    "sendmessage": FakeTelegram._send_message,
    "answercallbackquery": FakeTelegram._true,
    "setmycommands": FakeTelegram._set_my_commands,
    "editmessagereplymarkup": FakeTelegram._edit_reply_markup,
}


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
        return params
    if request.can_read_body:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, str):
                text = value
            elif isinstance(value, bytes | bytearray):
                text = bytes(value).decode()
            else:
                text = value.file.read().decode()
            if key in _JSON_PARAMS:
                try:
                    params[key] = json.loads(text)
                    continue
                except json.JSONDecodeError:
                    pass
            params[key] = text
    return params


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


def _chat(chat_id: int) -> dict[str, Any]:
    if chat_id < 0:
        return {"id": chat_id, "type": "supergroup", "title": "Дом 5"}
    return {"id": chat_id, "type": "private", "first_name": "Иван"}


# --------------------------------------------------------------------------- update builders

_message_ids = itertools.count(5000)


def _user(user_id: int, first_name: str = "Иван") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "ru"}


def _message(user_id: int, chat: dict[str, Any] | None = None, **content: Any) -> dict[str, Any]:
    return {
        "message_id": next(_message_ids),
        "from": _user(user_id),
        "chat": chat or {"id": user_id, "type": "private", "first_name": "Иван"},
        "date": int(time.time()),
        **content,
    }


def text_update(user_id: int, text: str) -> dict[str, Any]:
    """A private text message."""
    return {"message": _message(user_id, text=text)}


def contact_update(
    user_id: int, phone: str, *, contact_user_id: int | None = None, first_name: str = "Иван"
) -> dict[str, Any]:
    """A shared contact: own when `contact_user_id == user_id`, else someone else's."""
    contact: dict[str, Any] = {"phone_number": phone, "first_name": first_name}
    if contact_user_id is not None:
        contact["user_id"] = contact_user_id
    return {"message": _message(user_id, contact=contact)}


def callback_update(user_id: int, data: str, *, query_id: str = "cq-1") -> dict[str, Any]:
    """A pressed inline button under an earlier bot message."""
    bot_message = {
        "message_id": next(_message_ids),
        "from": BOT_USER,
        "chat": {"id": user_id, "type": "private", "first_name": "Иван"},
        "date": int(time.time()),
        "text": "Выберите счёт",
    }
    return {
        "callback_query": {
            "id": query_id,
            "from": _user(user_id),
            "message": bot_message,
            "chat_instance": "-42",
            "data": data,
        }
    }


def edited_update(user_id: int, text: str) -> dict[str, Any]:
    """An edited private text message."""
    message = _message(user_id, text=text)
    message["edit_date"] = message["date"] + 5
    return {"edited_message": message}


def sticker_update(user_id: int) -> dict[str, Any]:
    sticker = {
        "file_id": "CAACAgIAAxkBAAEx",
        "file_unique_id": "AgADx",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": "👍",
    }
    return {"message": _message(user_id, sticker=sticker)}


def photo_update(user_id: int, caption: str | None = None) -> dict[str, Any]:
    photo = [{"file_id": "AgACAgIAAxk", "file_unique_id": "AQADx", "width": 90, "height": 67}]
    content: dict[str, Any] = {"photo": photo}
    if caption is not None:
        content["caption"] = caption
    return {"message": _message(user_id, **content)}


def voice_update(user_id: int) -> dict[str, Any]:
    voice = {"file_id": "AwACAgIAAxk", "file_unique_id": "AgADv", "duration": 3}
    return {"message": _message(user_id, voice=voice)}


def group_update(user_id: int, chat_id: int, text: str) -> dict[str, Any]:
    """A message in a group chat (negative id) that the bot is a member of."""
    chat = {"id": chat_id, "type": "group", "title": "Соседи по дому"}
    return {"message": _message(user_id, chat=chat, text=text)}


def channel_post_update(chat_id: int, text: str) -> dict[str, Any]:
    """A post in a channel where the bot is an admin (no sender)."""
    post = {
        "message_id": next(_message_ids),
        "chat": {"id": chat_id, "type": "channel", "title": "Новости"},
        "date": int(time.time()),
        "text": text,
    }
    return {"channel_post": post}


# --------------------------------------------------------------------------- journal stand-in


@dataclass
class RecordingJournal:
    """An `OnInbound` that stands in for the inbound journal: keeps what it was given,
    dedups by external id like the real one, and fails on request (`fail_once`)."""

    wait_timeout: float = 15.0
    inbound: list[Inbound] = field(default_factory=list)
    # Every external id it was called with, in order, failures included.
    attempts: list[str] = field(default_factory=list)
    fail_once: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._changed = asyncio.Event()

    async def __call__(self, inbound: Inbound) -> bool:
        self.attempts.append(inbound.external_id)
        try:
            if inbound.external_id in self.fail_once:
                self.fail_once.discard(inbound.external_id)
                raise OSError("database is locked")
            if any(item.external_id == inbound.external_id for item in self.inbound):
                return False
            self.inbound.append(inbound)
            return True
        finally:
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait_for(self, count: int) -> list[Inbound]:
        """Wait until `count` messages are stored; return them."""
        async with asyncio.timeout(self.wait_timeout):
            while len(self.inbound) < count:
                await self._changed.wait()
        return list(self.inbound)


async def no_reports(report: DeliveryReport) -> None:
    """An `OnReport` for tests: Telegram never produces delivery reports."""
    raise AssertionError(f"unexpected delivery report {report}")


def telegram_settings(fake: FakeTelegram, **overrides: Any) -> TelegramSettings:
    """`[telegram]` settings pointing at the fake server."""
    values: dict[str, Any] = {
        "enabled": True,
        "token": SecretStr(fake.token),
        "api_base": fake.base_url,
    }
    values.update(overrides)
    return TelegramSettings(**values)
