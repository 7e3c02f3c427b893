"""The Telegram channel: aiogram 3's HTTP client under our own polling loop and webhook route.

Why not aiogram's `Dispatcher`: its polling confirms an update's offset as soon as the update
is handed out, while handlers run later as tasks, so a crash between the two loses the
update (docs/architecture.md, "Chosen dependencies"). Here every update is written to the inbound
journal (`on_inbound` returns once it is durable) before the next `getUpdates` call
confirms it; an update journaled but not yet confirmed comes again after a crash and the
journal recognises it by its external id (the update id).

Updates of one chat stay in order: the polling loop journals a batch one update at a time,
and the webhook route journals one chat's updates one at a time.

The bot token is part of every Bot API URL (`/bot<token>/<method>`), and aiohttp puts URLs
into some of its error messages; nothing here logs an exception object or a traceback
from the HTTP client, only `_redact`ed text.

The receiving lifecycle (start, stop, leadership, the polling loop's backoff) is
`bot.messenger.UpdateReceiver`, shared with MAX. Only `bot.core`, `bot.messenger` and
`bot.settings` of ours are imported: channels know nothing of handlers or storage
(docs/architecture.md, Layout).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import re
import traceback
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from aiogram.utils.token import TokenValidationError
from pydantic import ValidationError

from bot.core import (
    Button,
    ChannelName,
    Inbound,
    Outbound,
    SendErrorKind,
    SendResult,
    SharedContact,
)
from bot.messenger import UpdateReceiver, split_text
from bot.settings import SettingsError, TelegramSettings

logger = logging.getLogger(__name__)

# Bot API limits: https://core.telegram.org/bots/api#sendmessage (text: 1-4096 characters
# after entity parsing, counted like Telegram does, in UTF-16 code units) and
# https://core.telegram.org/bots/api#inlinekeyboardbutton (callback_data: 1-64 bytes).
MESSAGE_LIMIT: Final = 4096
CALLBACK_DATA_LIMIT: Final = 64

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"

# The update kinds we ask for. `channel_post` only so that we can tell a channel that the
# bot works in private chats; every kind not listed is never delivered at all.
ALLOWED_UPDATES: Final = ["message", "edited_message", "callback_query", "channel_post"]

# Customer-facing text of the channel itself (everything else comes from handlers).
CONTACT_BUTTON_TEXT: Final = "📱 Поделиться номером"
PRIVATE_ONLY_TEXT: Final = (
    "Я отвечаю только в личных сообщениях. Напишите мне в личный чат, "
    "чтобы передать показания или задать вопрос."
)
COMMANDS: Final = (
    ("start", "Начать работу и привязать лицевой счёт"),
    ("readings", "Передать показания счётчика"),
    ("balance", "Баланс и задолженность"),
    ("appeal", "Подать обращение"),
    ("status", "Статус обращения"),
    ("offices", "Адреса и часы работы офисов"),
    ("help", "Что умеет бот"),
)

_PRIVATE = "private"
_CHAT_ID = re.compile(r"-?[0-9]{1,20}")


# --------------------------------------------------------------------------- mapping


def normalize_command(text: str) -> str:
    """`/cmd@BotName args` → `/cmd args`; any other text is returned unchanged.

    Telegram clients append the bot's name to commands picked from the menu in some
    chats; the parser should see one spelling. Other text (including `/cmd args`) is
    left exactly as the customer wrote it.
    """
    if not text.startswith("/"):
        return text
    head, sep, rest = text.partition(" ")
    command, at, _name = head.partition("@")
    if not at or len(command) < 2:
        return text
    return f"{command}{sep}{rest}"


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    # pydantic reads Telegram's unix times as UTC; guard against a naive one anyway.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _phone(raw: str) -> str:
    # Telegram sends the contact's number in international form, usually without "+"
    # ("79121234567"); adding the "+" gives E.164 without guessing a region.
    digits = "".join(ch for ch in raw if ch.isdigit())
    return f"+{digits}" if digits else raw


def _file_meta(message: Message) -> dict[str, str]:
    """What staff need to see an attachment in the inbox (docs/interfaces.md §12): the
    Bot API file id (to fetch it), and its name, type and size where Telegram gives them.
    A photo comes in several sizes: the largest is the one to show."""
    found: Any = None
    if message.photo:
        found = message.photo[-1]
    else:
        # A sticker is no attachment: staff see that one came («sticker»), nothing more.
        for name in ("document", "voice", "audio", "video", "video_note"):
            found = getattr(message, name, None)
            if found is not None:
                break
    if found is None:
        return {}
    meta = {"file_id": str(found.file_id)}
    for key in ("file_name", "mime_type", "file_size"):
        value = getattr(found, key, None)
        if value is not None:
            meta[key] = str(value)
    return meta


def _message_inbound(
    message: Message, external_id: str, meta: dict[str, str], when: datetime | None
) -> Inbound:
    assert message.from_user is not None  # private chats always have a sender
    text = ""
    meta = dict(meta)
    contact: SharedContact | None = None
    if message.text is not None:
        text = normalize_command(message.text)
    elif message.contact is not None:
        contact = SharedContact(
            phone=_phone(message.contact.phone_number),
            user_id=message.contact.user_id,
            first_name=message.contact.first_name,
        )
    elif message.caption:
        text = message.caption
        meta["caption"] = "1"
        meta.update(_file_meta(message))
    else:
        # Sticker, voice, photo without caption...: the engine answers «send text».
        kind = message.content_type  # a str-valued Enum, whose str() is "ContentType.X"
        meta["media"] = kind.value if isinstance(kind, enum.Enum) else str(kind)
        meta.update(_file_meta(message))
    return Inbound(
        channel=ChannelName.TELEGRAM,
        address=str(message.chat.id),
        text=text,
        external_id=external_id,
        received_at=_aware(when),
        user_id=message.from_user.id,
        contact=contact,
        meta=meta,
    )


def _callback_inbound(query: CallbackQuery, external_id: str) -> Inbound:
    # Our buttons are only ever sent to private chats, where the chat id is the user id.
    return Inbound(
        channel=ChannelName.TELEGRAM,
        address=str(query.from_user.id),
        text=query.data or "",
        external_id=external_id,
        received_at=datetime.now(UTC),
        user_id=query.from_user.id,
        is_callback=True,
    )


def inbound_from_update(update: Update) -> Inbound | None:
    """The `Inbound` for an update, or None when the update is not for the engine.

    Not for the engine: messages outside private chats (groups, channels), messages
    without a sender, and update kinds we do not handle. External ids are the update id
    (`"edit:<id>"` for an edited message, so that it is never taken for the original).
    """
    external_id = str(update.update_id)
    if update.message is not None:
        message = update.message
        if message.chat.type != _PRIVATE or message.from_user is None:
            return None
        return _message_inbound(message, external_id, {}, message.date)
    if update.edited_message is not None:
        message = update.edited_message
        if message.chat.type != _PRIVATE or message.from_user is None:
            return None
        return _message_inbound(
            message,
            f"edit:{update.update_id}",
            {"edited": "1"},
            # aiogram types edit_date as a bare unix time, unlike date.
            datetime.fromtimestamp(message.edit_date, UTC) if message.edit_date else message.date,
        )
    if update.callback_query is not None:
        return _callback_inbound(update.callback_query, external_id)
    return None


def _foreign_chat(update: Update) -> int | None:
    """The chat id of a group/supergroup/channel message (told «private only»), else None."""
    message = update.message or update.channel_post
    if message is not None and message.chat.type != _PRIVATE:
        return message.chat.id
    return None


def send_failure(exc: AiogramError, redact: str = "") -> SendResult:
    """The declared outcome of a failed Bot API call: the one error table of this channel.

    `redact` is a secret (the token) to cut out of the detail text.
    """
    detail = _redact(_describe(exc), redact)
    lowered = detail.lower()
    # Order matters: TelegramRetryAfter and TelegramEntityTooLarge subclass others.
    if isinstance(exc, TelegramRetryAfter):
        return SendResult.failed(SendErrorKind.THROTTLED, detail, float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        # "bot was blocked by the user", "user is deactivated", "bot can't initiate
        # conversation with a user": in every case Telegram will not deliver; use SMS.
        return SendResult.failed(SendErrorKind.BLOCKED, detail)
    if isinstance(exc, TelegramNotFound) or (
        isinstance(exc, TelegramBadRequest) and "chat not found" in lowered
    ):
        return SendResult.failed(SendErrorKind.INVALID_ADDRESS, detail)
    if isinstance(exc, TelegramBadRequest | TelegramEntityTooLarge | TelegramMigrateToChat):
        return SendResult.failed(SendErrorKind.REJECTED, detail)
    if isinstance(exc, TelegramNetworkError | TelegramUnauthorizedError):
        # A revoked token is the channel's problem, not the message's: retry later.
        return SendResult.failed(SendErrorKind.CONNECTION, detail)
    # 5xx (TelegramServerError), a conflict, an unreadable answer, anything else.
    return SendResult.failed(SendErrorKind.TEMPORARY, detail)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TelegramAPIError):
        return f"{type(exc).__name__}: {exc.message}"
    if isinstance(exc, ClientDecodeError):
        # Its str() carries the whole answer; the type and the message are enough.
        return f"{type(exc).__name__}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "<token>") if secret else text


def _inline_markup(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=button.text, callback_data=button.data) for button in row]
            for row in rows
        ]
    )


def _contact_markup() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=CONTACT_BUTTON_TEXT, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


# --------------------------------------------------------------------------- channel


class TelegramChannel(UpdateReceiver[Update]):
    """The Telegram `Channel` (bot.core): Bot API over aiogram's aiohttp client.

    Polling mode (`[telegram] mode = "polling"`): `start` checks the token (getMe),
    removes any webhook, registers the command menu and runs our own `getUpdates` loop.
    Webhook mode: the app adds `webhook_routes()` to its aiohttp server before it starts;
    `start` registers the webhook with the secret token; Telegram then POSTs updates to
    `[telegram] webhook_path`.

    `start` makes one attempt at once (so a wrong token shows in the log at start-up)
    and keeps retrying in the background with backoff; it never raises for a network or
    token problem: SMS must keep working while Telegram is unreachable. `is_up` says
    whether the last exchange with the Bot API worked. `send` works without `start`.
    The constructor raises `SettingsError` for an empty or malformed token and for
    webhook mode without `webhook_url` / `webhook_secret`.

    `async with TelegramChannel(...) as channel:` stops it on exit.
    """

    name = ChannelName.TELEGRAM
    _API_ERRORS: ClassVar[tuple[type[Exception], ...]] = (AiogramError,)
    _TASK_NAME = "telegram-channel"
    _logger = logger
    _label = "telegram"
    _MESSENGER = "Telegram"
    _SECRET_HEADER = SECRET_HEADER
    _WRONG_SECRET = "wrong secret token"

    def __init__(
        self,
        settings: TelegramSettings,
        *,
        session_timeout: float = 20.0,
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
        session = AiohttpSession(
            api=TelegramAPIServer.from_base(settings.api_base), timeout=session_timeout
        )
        try:
            self._bot = Bot(self._token, session=session)
        except TokenValidationError:
            # Not "<digits>:<secret>"; the message must not quote the token itself.
            raise SettingsError("telegram.token: not a bot token") from None
        self._offset: int | None = None
        self._told_private_only: set[int] = set()

    # ------------------------------------------------------------------ lifecycle

    async def _close(self) -> None:
        await self._bot.session.close()

    async def _confirm(self) -> None:
        if self._settings.mode == "polling" and self._offset is not None and self._ready:
            # Confirm the last journaled batch now, or it comes again after a restart
            # (harmless: the journal dedups it, but a group would be told twice).
            with contextlib.suppress(AiogramError):
                await self._bot.get_updates(
                    offset=self._offset, limit=1, timeout=0, request_timeout=2
                )

    async def _setup(self) -> None:
        await self._bot.get_me()
        if not self.receiving:
            self._ready = True
            self._up = True
            logger.info("telegram: connected to send only (another instance receives)")
            return
        if self._settings.mode == "polling":
            # A webhook left from another deployment makes getUpdates fail with 409.
            await self._bot.delete_webhook(drop_pending_updates=False)
        else:
            await self._bot.set_webhook(
                url=self._settings.webhook_url,
                secret_token=self._settings.webhook_secret.get_secret_value(),
                allowed_updates=ALLOWED_UPDATES,
            )
        try:
            await self._bot.set_my_commands(
                [BotCommand(command=name, description=text) for name, text in COMMANDS]
            )
        except (TelegramBadRequest, TelegramForbiddenError) as exc:
            # The menu is a convenience; the bot works without it.
            self._log_failure("setMyCommands", exc)
        self._ready = True
        self._up = True
        logger.info("telegram: connected in %s mode", self._settings.mode)

    def _polling_failed(self, exc: Exception, delay: float) -> float | None:
        if isinstance(exc, TelegramRetryAfter):
            self._log_failure("polling", exc)
            return max(float(exc.retry_after), delay)
        if isinstance(exc, AiogramError):
            self._up = False
            self._log_failure("polling", exc)
            if isinstance(exc, TelegramConflictError):
                self._ready = False  # a webhook appeared: delete it again
            return delay
        # A bug (say, an update we map wrongly): the loop must not die silently; the
        # batch is fetched again. The traceback is redacted like the rest.
        self._up = False
        trace = "".join(traceback.format_exception(exc))
        logger.error("telegram: polling failed: %s", _redact(trace, self._token))
        return delay

    async def _poll_once(self) -> None:
        self._idle = True
        try:
            updates: list[Update | int] = list(
                await self._bot.get_updates(
                    offset=self._offset,
                    timeout=self._poll_timeout,
                    allowed_updates=ALLOWED_UPDATES,
                    request_timeout=self._poll_timeout + 10,
                )
            )
        except ClientDecodeError as exc:
            updates = self._salvage(exc)
        self._up = True
        if self._closed:
            return  # stop() confirms nothing of this batch: it comes again
        self._idle = False
        for update in updates:
            if isinstance(update, int):
                logger.error("telegram: update %d cannot be read, skipped", update)
                self._offset = update + 1
                continue
            await self._dispatch(update)
            # Journaled: the next getUpdates may confirm it. Advancing per update means a
            # journal failure mid-batch refetches from the failed update, not the batch.
            self._offset = update.update_id + 1

    def _salvage(self, exc: ClientDecodeError) -> list[Update | int]:
        """The readable updates of a batch aiogram could not read as a whole, and the ids
        of the unreadable ones (to be skipped).

        One update of a shape aiogram's models refuse would otherwise fail every
        getUpdates from then on, and the bot would go deaf. Anything but a readable
        `{"ok": true, "result": [...]}` is raised again (a proxy's HTML error page).
        """
        data = exc.data
        result = data.get("result") if isinstance(data, dict) and data.get("ok") else None
        if not isinstance(result, list):
            raise exc
        salvaged: list[Update | int] = []
        for item in result:
            try:
                salvaged.append(Update.model_validate(item, context={"bot": self._bot}))
            except ValidationError:
                update_id = item.get("update_id") if isinstance(item, dict) else None
                if not isinstance(update_id, int):
                    raise exc from None
                salvaged.append(update_id)
        return salvaged

    # ------------------------------------------------------------------ inbound

    async def _dispatch(self, update: Update) -> None:
        """Journal one update (raise `JournalError` if that failed), then the side effects
        that must follow it: answer a callback query, tell a group «private only»."""
        inbound = inbound_from_update(update)
        if inbound is not None:
            await self._journal(inbound)
        if update.callback_query is not None:
            query = update.callback_query
            # Stops the spinner on the button; the reply comes as a normal message.
            await self._quietly(self._bot.answer_callback_query(query.id))
            # A pressed choice is made: take the buttons off its message, so an old
            # question cannot be answered twice (a survey score, «ДА» to a held reading).
            if isinstance(query.message, Message):
                await self._quietly(
                    self._bot.edit_message_reply_markup(
                        chat_id=query.message.chat.id,
                        message_id=query.message.message_id,
                        reply_markup=None,
                    )
                )
            return
        chat_id = _foreign_chat(update)
        if (
            chat_id is not None
            and chat_id != self._settings.staff_chat_id  # staff read the digest there
            and chat_id not in self._told_private_only
        ):
            self._told_private_only.add(chat_id)
            await self._quietly(self._bot.send_message(chat_id, PRIVATE_ONLY_TEXT))

    async def _quietly(self, call: Awaitable[object]) -> None:
        try:
            await call
        except AiogramError as exc:
            self._log_failure("best-effort call", exc)

    def _read_update(self, data: Any) -> Update:
        return Update.model_validate(data, context={"bot": self._bot})

    def _order_key(self, update: Update) -> int:
        return _chat_key(update)

    # ------------------------------------------------------------------ files

    async def download(self, file_id: str, max_bytes: int) -> bytes | None:
        """A file a customer sent (an inbox attachment), or None when it is larger than
        `max_bytes`. Raises TelegramAPIError (a wrong or expired id) or a network error."""
        file = await self._bot.get_file(file_id)
        if file.file_path is None or (file.file_size or 0) > max_bytes:
            return None
        data = await self._bot.download_file(file.file_path)
        assert data is not None  # no destination given: aiogram returns a BytesIO
        content = data.read(max_bytes + 1)
        return None if len(content) > max_bytes else content

    # ------------------------------------------------------------------ outbound

    async def send(self, outbound: Outbound) -> SendResult:
        """Send one message (split into several over 4 096 characters) as plain text.

        Plain means no parse mode at all: the customer sees the text exactly as written,
        `<`, `&` and `*` included, and no escaping can be forgotten. Keyboards go with the
        last part. A failure after some parts went out reports those parts' ids with the
        error.
        """
        if self._closed:
            return SendResult.failed(SendErrorKind.CONNECTION, "telegram channel stopped")
        # Chat ids are plain integers; int() alone would also take "+79121234567".
        if not _CHAT_ID.fullmatch(outbound.address):
            return SendResult.failed(
                SendErrorKind.INVALID_ADDRESS, f"not a Telegram chat id: {outbound.address!r}"
            )
        for row in outbound.buttons:
            for button in row:
                if not 1 <= len(button.data.encode()) <= CALLBACK_DATA_LIMIT:
                    return SendResult.failed(
                        SendErrorKind.REJECTED,
                        f"button data must be 1-{CALLBACK_DATA_LIMIT} bytes: {button.text!r}",
                    )
        if not outbound.text.strip():
            return SendResult.failed(SendErrorKind.REJECTED, "empty text")
        chat_id = int(outbound.address)
        markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None = None
        if outbound.buttons:
            markup = _inline_markup(outbound.buttons)
        elif outbound.request_contact:
            markup = _contact_markup()
        elif outbound.remove_keyboard:
            markup = ReplyKeyboardRemove(remove_keyboard=True)
        parts = split_text(outbound.text, MESSAGE_LIMIT)
        sent: list[str] = []
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            try:
                message = await self._bot.send_message(
                    chat_id, part, reply_markup=markup if last else None
                )
            except AiogramError as exc:
                failure = send_failure(exc, self._token)
                if not sent:
                    return failure
                return SendResult(message_ids=tuple(sent), parts=len(sent), error=failure.error)
            sent.append(str(message.message_id))
        return SendResult(message_ids=tuple(sent), parts=len(sent))

    # ------------------------------------------------------------------ logging

    def _log_failure(self, what: str, exc: Exception) -> None:
        # Never exc_info: a traceback would print the chained aiohttp error, whose text
        # may hold the request URL and so the token.
        logger.warning("telegram: %s failed: %s", what, _redact(_describe(exc), self._token))


def _chat_key(update: Update) -> int:
    # Callback queries come from private chats, where the chat id is the user id.
    if update.callback_query is not None:
        return update.callback_query.from_user.id
    message = update.message or update.edited_message or update.channel_post
    return message.chat.id if message is not None else 0
