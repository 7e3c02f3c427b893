"""The MAX messenger channel: our own small client of the MAX Bot API over aiohttp.

The API (docs/interfaces.md §14; the official schema, max-messenger-bot/max-bot-api-schemas,
2026-07): `GET /me`, long polling with `GET /updates?marker=…`, webhooks through
`POST /subscriptions` (MAX sends the secret back in `X-Max-Bot-Api-Secret`),
`POST /messages?user_id=…`, `POST /answers?callback_id=…`, inline keyboards with
`callback` and `request_contact` buttons, about 30 requests a second.

Why our own client and not `maxapi` (the package behind the official
max-botapi-python repository): see docs/architecture.md, "The MAX channel". In short: its
dispatcher moves the polling marker on after handlers ran and logged their errors, so an
update whose journaling failed is not fetched again; and it adds five dependencies for
four HTTP calls.

Durability, as for Telegram: every update of a batch is written to the inbound journal
(`on_inbound` returns once it is durable) before the next `GET /updates` passes the
batch's marker, which is what confirms it to MAX. A crash before that fetches the batch
again and the journal recognises each update by its external id.

The token goes in the `Authorization` header only, never in a URL (the schema also
allows `?access_token=`, which would put it into error texts and proxy logs); nothing
here logs an exception object from the HTTP client, only `_redact`ed text.

The receiving lifecycle (start, stop, leadership, the polling loop's backoff) is
`bot.messenger.UpdateReceiver`, shared with Telegram. Only `bot.core`, `bot.messenger`
and `bot.settings` of ours are imported (design: channels know nothing of handlers or
storage).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import aiohttp
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.core import (
    ChannelName,
    Inbound,
    Outbound,
    SendErrorKind,
    SendResult,
    SharedContact,
)
from bot.messenger import UpdateReceiver, split_text
from bot.settings import MaxSettings

logger = logging.getLogger(__name__)

SECRET_HEADER: Final = "X-Max-Bot-Api-Secret"
# NewMessageBody.text: maxLength 4000; CallbackButton.payload: maxLength 1024.
MESSAGE_LIMIT: Final = 4000
CALLBACK_PAYLOAD_LIMIT: Final = 1024
# The update kinds we ask for; others are never delivered.
UPDATE_TYPES: Final = ("message_created", "message_edited", "message_callback", "bot_started")
CONTACT_BUTTON_TEXT: Final = "📱 Поделиться номером"
_USER_ID = re.compile(r"[0-9]{1,20}")
_DIALOG = "dialog"
_TEL = re.compile(r"^TEL[^:\r\n]*:([^\r\n]+)", re.IGNORECASE | re.MULTILINE)


# --------------------------------------------------------------------------- the wire
# Only the fields we read; unknown fields are ignored (MAX adds fields over time, and an
# update must never make the bot deaf).


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MaxUser(_Model):
    user_id: int
    first_name: str | None = None


class MaxRecipient(_Model):
    chat_id: int | None = None
    chat_type: str | None = None
    user_id: int | None = None


class MaxAttachment(_Model):
    type: str
    payload: dict[str, Any] | None = None


class MaxBody(_Model):
    mid: str
    text: str | None = None
    attachments: list[MaxAttachment] | None = None


class MaxMessage(_Model):
    sender: MaxUser | None = None
    recipient: MaxRecipient
    timestamp: int
    body: MaxBody | None = None


class MaxCallback(_Model):
    callback_id: str
    payload: str | None = None
    user: MaxUser
    timestamp: int | None = None


class MaxUpdate(_Model):
    update_type: str
    timestamp: int
    message: MaxMessage | None = None
    callback: MaxCallback | None = None
    # bot_started
    chat_id: int | None = None
    user: MaxUser | None = None


class MaxApiError(Exception):
    """A non-2xx answer of the Bot API: the HTTP status and MAX's `code` / `message`."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class MaxNetworkError(Exception):
    """The Bot API could not be reached or answered something unreadable."""


# --------------------------------------------------------------------------- mapping


def _when(millis: int | None) -> datetime:
    # MAX times are Unix milliseconds.
    if not millis:
        return datetime.now(UTC)
    return datetime.fromtimestamp(millis / 1000, UTC)


def contact_phone(vcf: str | None) -> str | None:
    """The phone of a shared contact's vCard (`TEL;TYPE=cell:+79121234567`) in E.164
    form when it is international, else as written; None without a TEL line."""
    match = _TEL.search(vcf or "")
    if match is None:
        return None
    raw = match[1].strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    if not digits:
        return None
    # «8 912 …» stays for the engine to normalise by region; «+7…» / «7…» is E.164.
    return raw if raw.startswith("8") and len(digits) == 11 else f"+{digits}"


def _message_inbound(message: MaxMessage, external_id: str, meta: dict[str, str]) -> Inbound:
    assert message.sender is not None
    body = message.body
    text = (body.text or "") if body is not None else ""
    contact: SharedContact | None = None
    media: str | None = None
    meta = dict(meta)
    for attachment in (body.attachments or []) if body is not None else []:
        payload = attachment.payload or {}
        if attachment.type == "contact" and contact is None:
            info = payload.get("max_info")
            info = info if isinstance(info, dict) else {}
            owner = info.get("user_id")
            first_name = info.get("first_name")
            contact = SharedContact(
                phone=contact_phone(payload.get("vcf_info")) or "",
                # `max_info` is the MAX user whose contact this is: equal to the sender
                # only for the user's own number (docs/interfaces.md §14).
                user_id=owner if isinstance(owner, int) else None,
                first_name=first_name if isinstance(first_name, str) else None,
            )
        elif attachment.type != "inline_keyboard" and media is None:
            media = attachment.type
    if contact is not None:
        text = ""
    elif text and media:
        meta["caption"] = "1"
    elif not text:
        # A photo, sticker, file or a forward without text: the engine answers «send text».
        meta["media"] = media or "message"
    return Inbound(
        channel=ChannelName.MAX,
        address=str(message.sender.user_id),
        text=text,
        external_id=external_id,
        received_at=_when(message.timestamp),
        user_id=message.sender.user_id,
        contact=contact,
        meta=meta,
    )


def inbound_from_update(update: MaxUpdate) -> Inbound | None:
    """The `Inbound` for an update, or None when it is not for the engine (group chats
    and channels, other update kinds). External ids: the message id (`mid`), `edit:` +
    mid + time for an edit, `cb:` + the callback id, `start:` + user + time."""
    if update.update_type in ("message_created", "message_edited") and update.message:
        message = update.message
        if (
            message.recipient.chat_type != _DIALOG
            or message.sender is None
            or message.body is None
        ):
            return None
        if update.update_type == "message_created":
            return _message_inbound(message, message.body.mid, {})
        return _message_inbound(
            message, f"edit:{message.body.mid}:{update.timestamp}", {"edited": "1"}
        )
    if update.update_type == "message_callback" and update.callback is not None:
        callback = update.callback
        if update.message is not None and update.message.recipient.chat_type != _DIALOG:
            return None
        return Inbound(
            channel=ChannelName.MAX,
            address=str(callback.user.user_id),
            text=callback.payload or "",
            external_id=f"cb:{callback.callback_id}",
            received_at=_when(callback.timestamp or update.timestamp),
            user_id=callback.user.user_id,
            is_callback=True,
        )
    if update.update_type == "bot_started" and update.user is not None:
        # The «Начать» button: the same greeting as Telegram's /start.
        return Inbound(
            channel=ChannelName.MAX,
            address=str(update.user.user_id),
            text="/start",
            external_id=f"start:{update.user.user_id}:{update.timestamp}",
            received_at=_when(update.timestamp),
            user_id=update.user.user_id,
        )
    return None


def message_body(outbound: Outbound, text: str, *, last: bool) -> dict[str, Any]:
    """The `NewMessageBody` of one part: plain text (no `format`, so `*` and `<` show as
    written); the keyboard goes with the last part."""
    rows: list[list[dict[str, str]]] = []
    if last:
        rows = [
            [{"type": "callback", "text": b.text, "payload": b.data} for b in row]
            for row in outbound.buttons
        ]
        if outbound.request_contact:
            rows.append([{"type": "request_contact", "text": CONTACT_BUTTON_TEXT}])
    attachments = (
        [{"type": "inline_keyboard", "payload": {"buttons": rows}}] if rows else []
    )
    return {"text": text, "attachments": attachments, "link": None, "notify": True}


def send_failure(exc: Exception, secret: str = "") -> SendResult:
    """The declared outcome of a failed call: the one error table of this channel."""
    detail = _redact(str(exc), secret)
    if isinstance(exc, MaxNetworkError):
        return SendResult.failed(SendErrorKind.CONNECTION, detail)
    if not isinstance(exc, MaxApiError):
        return SendResult.failed(SendErrorKind.TEMPORARY, detail)
    code = exc.code.lower()
    if exc.status == 429:
        return SendResult.failed(SendErrorKind.THROTTLED, detail, exc.retry_after or 1.0)
    if exc.status == 403 or any(w in code for w in ("blocked", "suspended", "denied")):
        # The schema: 403 «the user has suspended the bot or has no access to the chat».
        return SendResult.failed(SendErrorKind.BLOCKED, detail)
    if exc.status == 404 or "not.found" in code:
        return SendResult.failed(SendErrorKind.INVALID_ADDRESS, detail)
    if exc.status == 401:
        # A revoked token is the channel's problem, not the message's: retry later.
        return SendResult.failed(SendErrorKind.CONNECTION, detail)
    if 400 <= exc.status < 500:
        return SendResult.failed(SendErrorKind.REJECTED, detail)
    return SendResult.failed(SendErrorKind.TEMPORARY, detail)


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "<token>") if secret else text


# --------------------------------------------------------------------------- client


class MaxBotApi:
    """The few Bot API calls we need, over one aiohttp session. Raises `MaxApiError` for
    a non-2xx answer and `MaxNetworkError` when there is no readable answer."""

    def __init__(self, base: str, token: str, *, timeout: float = 20.0) -> None:
        self._base = base.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        wait: float | None = None,
    ) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"Authorization": self._token})
        try:
            async with self._session.request(
                method,
                self._base + path,
                params=params,
                json=body,
                timeout=aiohttp.ClientTimeout(total=wait or self._timeout),
            ) as response:
                raw = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise MaxNetworkError(_redact(f"{type(exc).__name__}: {exc}", self._token)) from None
        try:
            data = json.loads(raw) if raw else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        if status >= 300:
            info = data if isinstance(data, dict) else {}
            raise MaxApiError(
                status,
                str(info.get("code") or info.get("error") or ""),
                _redact(str(info.get("message") or raw[:200].decode(errors="replace")),
                        self._token),
                _seconds(retry_after),
            )
        if not isinstance(data, dict):
            raise MaxNetworkError(f"{method} {path}: the answer is not a JSON object")
        return data

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- channel


class MaxChannel(UpdateReceiver[MaxUpdate]):
    """The MAX `Channel` (bot.core).

    Polling mode: `start` checks the token (`GET /me`), removes webhook subscriptions
    (while one is active MAX does not serve `GET /updates`) and runs the polling loop.
    Webhook mode: the admin API's server serves `webhook_routes()`; `start` subscribes
    `webhook_url` with the secret. `start` never raises for a network or token problem
    (SMS must keep working while MAX is down): it logs and keeps retrying with backoff.
    The constructor raises `SettingsError` for an empty token and for webhook mode
    without `webhook_url` / `webhook_secret`.
    """

    name = ChannelName.MAX
    _API_ERRORS: ClassVar[tuple[type[Exception], ...]] = (MaxApiError, MaxNetworkError)
    _TASK_NAME = "max-channel"
    _logger = logger
    _label = "max"
    _MESSENGER = "MAX"
    _SECRET_HEADER = SECRET_HEADER
    _WRONG_SECRET = "wrong secret"

    def __init__(
        self,
        settings: MaxSettings,
        *,
        poll_timeout: int = 10,
        retry_delay: float = 1.0,
        max_retry_delay: float = 30.0,
    ) -> None:
        super().__init__(
            settings,
            poll_timeout=poll_timeout,
            retry_delay=retry_delay,
            max_retry_delay=max_retry_delay,
        )
        self._settings = settings
        self._api = MaxBotApi(settings.api_base, self._token)
        self._marker: int | None = None

    # ------------------------------------------------------------------ lifecycle

    async def _close(self) -> None:
        await self._api.close()

    async def _confirm(self) -> None:
        if self._settings.mode == "polling" and self._marker is not None and self._ready:
            # Confirm the last journaled batch now, or it comes again after a restart
            # (harmless: the journal dedups it).
            with contextlib.suppress(MaxApiError, MaxNetworkError):
                await self._api.call(
                    "GET", "/updates",
                    params={"marker": self._marker, "limit": 1, "timeout": 0}, wait=2,
                )

    async def _setup(self) -> None:
        await self._api.call("GET", "/me")
        if not self.receiving:
            self._ready = True
            self._up = True
            logger.info("max: connected to send only (another instance receives)")
            return
        if self._settings.mode == "polling":
            found = await self._api.call("GET", "/subscriptions")
            for item in found.get("subscriptions") or []:
                url = item.get("url") if isinstance(item, dict) else None
                if isinstance(url, str):
                    await self._api.call("DELETE", "/subscriptions", params={"url": url})
        else:
            await self._api.call(
                "POST", "/subscriptions",
                body={
                    "url": self._settings.webhook_url,
                    "update_types": list(UPDATE_TYPES),
                    "secret": self._settings.webhook_secret.get_secret_value(),
                },
            )
        self._ready = True
        self._up = True
        logger.info("max: connected in %s mode", self._settings.mode)

    def _polling_failed(self, exc: Exception, delay: float) -> float | None:
        if isinstance(exc, MaxApiError):
            self._log_failure("polling", exc)
            self._up = exc.status == 429
            return max(exc.retry_after or 0.0, delay)
        if isinstance(exc, MaxNetworkError):
            self._up = False
            self._log_failure("polling", exc)
            return delay
        return None  # anything else is a bug, and ends the loop

    async def _poll_once(self) -> None:
        self._idle = True
        params: dict[str, str | int] = {
            "timeout": self._poll_timeout, "types": ",".join(UPDATE_TYPES),
        }
        if self._marker is not None:
            params["marker"] = self._marker  # confirms every update before it
        data = await self._api.call(
            "GET", "/updates", params=params, wait=self._poll_timeout + 10
        )
        self._up = True
        if self._closed:
            return  # nothing of this batch is confirmed: it comes again
        self._idle = False
        for item in data.get("updates") or []:
            await self._dispatch_item(item)
        marker = data.get("marker")
        if isinstance(marker, int):
            # Only now: the next GET /updates passes it and so confirms the batch.
            self._marker = marker

    # ------------------------------------------------------------------ inbound

    async def _dispatch_item(self, item: object) -> None:
        """`_dispatch` a polled update; one we cannot read is logged and skipped."""
        try:
            update = MaxUpdate.model_validate(item)
        except ValidationError as exc:
            kind = item.get("update_type") if isinstance(item, dict) else None
            logger.error("max: an update (%s) cannot be read, skipped: %d errors",
                         kind, exc.error_count())
            return
        await self._dispatch(update)

    async def _dispatch(self, update: MaxUpdate) -> None:
        """Journal one update (raise `JournalError` if that failed), then answer a
        pressed button."""
        inbound = inbound_from_update(update)
        if inbound is not None:
            await self._journal(inbound)
        if update.callback is not None and inbound is not None:
            await self._answer_callback(update)

    async def _answer_callback(self, update: MaxUpdate) -> None:
        # Stops the button's spinner; with the original message, the answer takes its
        # buttons off, so that an old question cannot be answered twice.
        assert update.callback is not None
        answer: dict[str, Any] = {"notification": None}
        if update.message is not None and update.message.body is not None:
            answer = {"message": {"text": update.message.body.text or "", "attachments": [],
                                  "link": None}}
        try:
            await self._api.call(
                "POST", "/answers", params={"callback_id": update.callback.callback_id},
                body=answer,
            )
        except (MaxApiError, MaxNetworkError) as exc:
            self._log_failure("answer to a button", exc)

    def _read_update(self, data: Any) -> MaxUpdate:
        return MaxUpdate.model_validate(data)

    def _order_key(self, update: MaxUpdate) -> str:
        # One user's updates in order, whatever their kind.
        inbound = inbound_from_update(update)
        return inbound.address if inbound is not None else ""

    # ------------------------------------------------------------------ outbound

    async def send(self, outbound: Outbound) -> SendResult:
        """Send one message (split over 4 000 characters) as plain text to a user."""
        if self._closed:
            return SendResult.failed(SendErrorKind.CONNECTION, "max channel stopped")
        if not _USER_ID.fullmatch(outbound.address):
            return SendResult.failed(
                SendErrorKind.INVALID_ADDRESS, f"not a MAX user id: {outbound.address!r}"
            )
        for row in outbound.buttons:
            for button in row:
                if not 1 <= len(button.data) <= CALLBACK_PAYLOAD_LIMIT:
                    return SendResult.failed(
                        SendErrorKind.REJECTED, f"button payload too long: {button.text!r}"
                    )
        if not outbound.text.strip():
            return SendResult.failed(SendErrorKind.REJECTED, "empty text")
        parts = split_text(outbound.text, MESSAGE_LIMIT)
        sent: list[str] = []
        for index, part in enumerate(parts):
            body = message_body(outbound, part, last=index == len(parts) - 1)
            try:
                data = await self._api.call(
                    "POST", "/messages", params={"user_id": outbound.address}, body=body
                )
            except (MaxApiError, MaxNetworkError) as exc:
                failure = send_failure(exc, self._token)
                if not sent:
                    return failure
                return SendResult(message_ids=tuple(sent), parts=len(sent), error=failure.error)
            message = data.get("message")
            mid = message.get("body", {}).get("mid") if isinstance(message, dict) else None
            sent.append(str(mid or ""))
        return SendResult(message_ids=tuple(sent), parts=len(sent))

    def _log_failure(self, what: str, exc: Exception) -> None:
        # Never exc_info: a chained aiohttp error may quote request details.
        logger.warning("max: %s failed: %s", what, _redact(str(exc), self._token))
